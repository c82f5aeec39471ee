"""The three training phases on the tiny config: each lowers its loss or raises its reward."""

import copy

import pytest
import torch

from labeling.world.catalog import build_catalog
from workers.qe.ml.model import ModelConfig, build_model, expand, generate, load, save
from workers.qe.ml.model import parse_expansion as parse
from workers.qe.ml.ppo import PPOConfig, ppo_train
from workers.qe.ml.queries import build_queries, pretraining_corpus, sft_pairs
from workers.qe.ml.reward import format_reward
from workers.qe.ml.train import PretrainConfig, SFTConfig, finetune, pretrain


@pytest.fixture(scope="module")
def world():
    torch.set_num_threads(1)
    catalog = build_catalog(seed=7, n=600)
    qs = build_queries(catalog, seed=7, n_train=200, n_heldout=20, n_log=100)
    corpus = pretraining_corpus(catalog, qs)
    model, tok = build_model(ModelConfig(n_layer=2, vocab_size=800), corpus)
    return catalog, qs, corpus, model, tok


@pytest.fixture(scope="module")
def pretrained(world):
    _, _, corpus, model, tok = world
    seen: list[tuple[float, dict]] = []
    result = pretrain(
        model,
        tok,
        corpus,
        PretrainConfig(steps=30, batch_size=16, log_every=5),
        progress=lambda f, m: seen.append((f, m)),
    )
    return model, tok, result, seen


@pytest.fixture(scope="module")
def finetuned(world, pretrained):
    _, qs, _, _, _ = world
    model, tok, _, _ = pretrained
    model = copy.deepcopy(model)
    result = finetune(
        model,
        tok,
        sft_pairs(qs.train),
        SFTConfig(steps=60, batch_size=16, lr=3e-3),
        sample_queries=["kicks for guys"],
    )
    return model, tok, result


def test_pretraining_lowers_the_loss_and_reports_progress(pretrained):
    _, _, result, seen = pretrained
    assert result.metrics["loss_last"] < result.metrics["loss_first"] - 1.0
    assert seen[-1][0] == 1.0 and "loss" in seen[-1][1]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_fine_tuning_lowers_the_loss_and_learns_the_format(world, finetuned):
    _, qs, _, _, _ = world
    model, tok, result = finetuned
    assert result.metrics["loss_last"] < result.metrics["loss_first"] * 0.5
    assert result.samples[0][0] == "kicks for guys"
    _, completion, texts = generate(model, tok, [q.text for q in qs.train[:32]], 16)
    ended = (completion == tok.eos_token_id).any(1).tolist()
    good = sum(format_reward(parse(t), e) == 1.0 for t, e in zip(texts, ended))
    assert good >= 16  # most training queries get a clean term list


def test_saved_model_reloads_and_expands_identically(finetuned, tmp_path):
    model, tok, _ = finetuned
    save(model, tok, tmp_path / "qe")
    again, again_tok = load(tmp_path / "qe")
    for q in ["kicks for guys", "black sneakers", "gift for a mom who runs"]:
        first = expand(model, tok, q)
        assert expand(model, tok, q) == first  # greedy decoding is deterministic
        assert expand(again, again_tok, q) == first


def _format_score(model, tok, queries) -> float:
    torch.manual_seed(0)
    _, completion, texts = generate(model, tok, queries, 8, sample=True)
    ended = (completion == tok.eos_token_id).any(1).tolist()
    return sum(format_reward(parse(t), e) for t, e in zip(texts, ended)) / len(texts)


def _format_only(query, terms, ended, relevant):
    score = format_reward(terms, ended)
    return score, {"format": score}


def test_ppo_raises_its_reward(world, pretrained):
    # Start from the barely pre-trained model: it rarely closes a term list within 8
    # tokens, so the format reward has room to rise.
    _, qs, _, _, _ = world
    model, tok, _, _ = pretrained
    model = copy.deepcopy(model)
    queries = [q.text for q in qs.train[:48]]
    before = _format_score(model, tok, queries)
    seen: list[dict] = []
    result = ppo_train(
        model,
        tok,
        qs.train,
        _format_only,
        PPOConfig(
            iterations=12, batch_size=16, minibatch_size=8, lr=2e-3, max_new_tokens=8, kl_coef=0.01
        ),
        progress=lambda f, m: seen.append(m),
        weights={"format": 1.0},
    )
    after = _format_score(model, tok, queries)
    assert after > before + 0.2
    assert result.metrics["reward_last"] > result.metrics["reward_first"]
    assert {"loss", "kl", "reward/format", "weight/format"} <= set(seen[-1])


def _mean_terms(model, tok, queries) -> float:
    torch.manual_seed(0)
    _, _, texts = generate(model, tok, queries, 16, sample=True)
    return sum(len(parse(t)) for t in texts) / len(texts)


@pytest.mark.slow
def test_grpo_through_trl_raises_its_reward(world, finetuned):
    # Reward: a well-formed list with as few terms as possible. The fine-tuned model
    # writes 1-4 terms, so groups differ and GRPO has a signal to follow.
    from workers.qe.ml.grpo import GRPOConfig, grpo_train

    _, qs, _, _, _ = world
    model, tok, _ = finetuned
    model = copy.deepcopy(model)
    queries = [q.text for q in qs.train[:48]]

    def components(query, terms, ended, relevant):
        return {"format": format_reward(terms, ended), "brevity": -float(len(terms))}

    before = _mean_terms(model, tok, queries)
    seen: list[dict] = []
    result = grpo_train(
        model,
        tok,
        qs.train,
        components,
        {"format": 1.0, "brevity": 0.5},
        GRPOConfig(steps=12, prompts_per_step=4, num_generations=8, lr=2e-3, beta=0.01),
        progress=lambda f, m: seen.append(m),
    )
    after = _mean_terms(model, tok, queries)
    assert after < before - 0.3
    assert result.metrics["reward_last"] > result.metrics["reward_first"]
    assert seen[-1]["weight/brevity"] == 0.5 and "reward/format" in seen[-1]


def test_ppo_keeps_the_entry_policy_when_validation_only_gets_worse(world, finetuned):
    _, qs, _, _, _ = world
    model, tok, _ = finetuned
    model = copy.deepcopy(model)
    entry = {k: v.clone() for k, v in model.state_dict().items()}
    calls = iter(range(100))
    result = ppo_train(
        model,
        tok,
        qs.train,
        _format_only,
        PPOConfig(iterations=2, batch_size=8, minibatch_size=8, lr=1e-2, validate_every=1),
        validate=lambda m: -next(calls),  # every later score is lower
    )
    assert result.metrics["best_iteration"] == 0
    assert all(torch.equal(v, entry[k]) for k, v in model.state_dict().items())
