"""The tiny LM policy and its two preference-training routes, on tiny configs."""

from __future__ import annotations

import os

import pytest
import torch
from transformers import GPT2LMHeadModel

from workers.agents.ml import policy as pol
from workers.agents.ml import train_policy as tp
from workers.agents.ml.evaluate import evaluate_policy
from workers.agents.ml.judge.step_judge import StepJudge
from workers.agents.ml.scripted import scripted_traces
from workers.agents.ml.tools import TOOL_SCHEMAS
from workers.agents.ml.world import World, load_catalog, make_tasks

os.environ.setdefault("HF_HUB_OFFLINE", "1")
TINY = pol.PolicyConfig(n_layer=1, n_embd=32, n_head=2, n_positions=384)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    world = World(load_catalog())
    tasks = make_tasks(world, 48, seed=21)
    traces = scripted_traces(world, tasks, flawed_share=0.5, seed=4)
    examples = pol.sft_examples(traces)
    tok = pol.build_tokenizer(pol.catalog_texts(world) + [p + c for p, c in examples])
    model = pol.build_policy(tok, TINY)
    losses = pol.train_sft(model, tok, examples, pol.SFTConfig(steps=40, batch_size=8, lr=3e-3))
    path = tmp_path_factory.mktemp("policy")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    judge = StepJudge().fit(traces)
    pairs = tp.preference_pairs(world, tasks, judge, seed=2)[:8]
    return world, tasks, tok, model, losses, path, pairs


def test_sft_lowers_the_loss(setup) -> None:
    losses = setup[4]
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_rollout_gives_parsed_tool_calls_and_reloads_identically(setup) -> None:
    world, tasks, tok, model, _, path, _ = setup
    traces = pol.rollout(model, tok, world, tasks[:6], seed=1, max_steps=4)
    names = {s.call.name for tr in traces for s in tr.steps}
    assert names and names <= set(TOOL_SCHEMAS)
    assert all(len(tr.labels) == len(tr.steps) for tr in traces)
    again = pol.rollout(
        GPT2LMHeadModel.from_pretrained(path), tok, world, tasks[:6], seed=1, max_steps=4
    )
    assert [[(s.call.name, s.call.arguments) for s in tr.steps] for tr in traces] == [
        [(s.call.name, s.call.arguments) for s in tr.steps] for tr in again
    ]


def test_preference_pairs_prefer_the_careful_action(setup) -> None:
    pairs = setup[6]
    assert len(pairs) >= 4
    assert all(p["chosen"] != p["rejected"] and p["prompt"].endswith("act :") for p in pairs)


@pytest.mark.slow
def test_dpo_takes_steps_and_lowers_its_loss(setup, tmp_path) -> None:
    _, _, tok, _, _, path, pairs = setup
    cfg = tp.DPOStageConfig(steps=8, batch_size=4, lr=5e-3)
    _, losses = tp.train_dpo(GPT2LMHeadModel.from_pretrained(path), tok, pairs, cfg, tmp_path)
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < losses[0]
    assert (tmp_path / "config.json").exists()


@pytest.mark.slow
def test_reward_model_then_grpo(setup, tmp_path) -> None:
    _, _, tok, _, _, path, pairs = setup
    cfg = tp.RewardStageConfig(steps=8, batch_size=4, lr=5e-3)
    rm, losses = tp.train_reward_model(path, tok, pairs, cfg, tmp_path / "rm")
    assert len(losses) == 8 and sum(losses[-2:]) / 2 < losses[0]
    reward = tp.reward_function(rm, tok)
    chosen = reward([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    rejected = reward([p["prompt"] for p in pairs], [p["rejected"] for p in pairs])
    assert sum(c > r for c, r in zip(chosen, rejected)) > len(pairs) / 2

    grpo = tp.GRPOStageConfig(steps=2, num_generations=4, max_completion_length=16)
    prompts = [p["prompt"] for p in pairs]
    _, rewards = tp.train_grpo(
        GPT2LMHeadModel.from_pretrained(path), tok, prompts, reward, grpo, tmp_path / "grpo"
    )
    assert len(rewards) == 2
    assert GPT2LMHeadModel.from_pretrained(tmp_path / "grpo") is not None


def test_evaluation_reports_oracle_scores_and_pass_k(setup) -> None:
    world, tasks, tok, model, _, _, _ = setup
    result = evaluate_policy(model, tok, world, tasks[:8], n_runs=2)
    assert set(result) == {"e2e", "local", "pass^1", "pass^2"}
    assert 0.0 <= result["pass^2"] <= result["pass^1"] == pytest.approx(result["e2e"])
    assert 0.0 <= result["local"] <= 1.0
