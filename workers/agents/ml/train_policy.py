"""Implicit vs explicit reward: DPO on preference pairs, or a reward model + GRPO.

Preference pairs come from traces ranked by the scorers (end-to-end outcome, then the
local score from execution detection and the step judge). Two runs of the same task, in
the same tool weather, one careful and one with a planted flaw, share their steps up to
the flaw; the pair is the context there plus each run's next action, the better-scored
run's action as `chosen`. Training on the first divergent action is process supervision:
the credit goes to the step that made the difference.

Why GRPO and not PPO: TRL 1.16 ships no PPOTrainer (the last was trl 1.12's experimental
one, which also wants a value model); GRPO needs no value model, takes a Python reward
function, and with groups of sampled actions per context it is the cheap on-CPU choice.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from datasets import Dataset
from transformers import GPT2ForSequenceClassification, PreTrainedModel
from transformers.trainer_callback import PrinterCallback

from workers.agents.ml.policy import (
    EOS,
    action_text,
    detokenize,
    parse_action,
    render_context,
)
from workers.agents.ml.scripted import FLAWS, GIVE_UP, run_scripted
from workers.agents.ml.tools import schema_errors
from workers.agents.ml.trace import Trace
from workers.agents.ml.world import Task, World
from workers.ml import runtime
from workers.ml.lm import TrainerProgress
from workers.ml.runtime import Progress

__all__ = [
    "DPOStageConfig",
    "GRPOStageConfig",
    "RewardStageConfig",
    "TraceRanker",
    "preference_pairs",
    "ranked_pairs",
    "reward_function",
    "train_dpo",
    "train_grpo",
    "train_reward_model",
]


def _next_action(trace: Trace, i: int) -> str:
    before = trace.steps[:i]
    if i < len(trace.steps):
        s = trace.steps[i]
        return f" {action_text(trace.instruction, before, s.call.name, s.call.arguments)} {EOS}"
    answer = trace.state.answer or GIVE_UP
    return f" {action_text(trace.instruction, before, 'final', answer)} {EOS}"


def _divergence(a: Trace, b: Trace) -> int:
    i = 0
    while i < min(len(a.steps), len(b.steps)):
        sa, sb = a.steps[i], b.steps[i]
        if (sa.call.name, sa.call.arguments, sa.observation) != (
            sb.call.name,
            sb.call.arguments,
            sb.observation,
        ):
            break
        i += 1
    return i


class TraceRanker(Protocol):
    """What ranks two runs of a task: the learned step judge (``judge.StepJudge``)."""

    def rank(self, trace: Trace) -> float: ...


def preference_pairs(
    world: World, tasks: list[Task], judge: TraceRanker, *, per_task: int = 1, seed: int = 0
) -> list[dict[str, str]]:
    """{"prompt", "chosen", "rejected"} records ranked by the scorers (not by the oracle)."""
    rng = random.Random(seed)
    pairs = []
    for n, task in enumerate(tasks):
        for r in range(per_task):
            flaw = rng.choice(FLAWS)
            run_seed = seed * 1_000_003 + n * 31 + r
            bad = run_scripted(world, task, flaw=flaw, seed=run_seed)
            if bad.meta["planted_step"] is None:
                continue
            good = run_scripted(world, task, flaw=flaw, seed=run_seed, good_twin=True)
            s_good, s_bad = judge.rank(good), judge.rank(bad)
            if s_good == s_bad:
                continue  # the scorers cannot tell them apart: no preference to learn
            better, worse = (good, bad) if s_good > s_bad else (bad, good)
            i = _divergence(better, worse)
            chosen, rejected = _next_action(better, i), _next_action(worse, i)
            if chosen != rejected:
                prompt = render_context(task.instruction, better.steps[:i])
                pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return pairs


def ranked_pairs(groups: list[list[tuple[Trace, float]]]) -> list[dict[str, str]]:
    """Preference pairs from traces already ranked by someone (reviewers' verdicts, say).

    Each group holds runs of one task with their scores; every two runs whose scores differ
    give a pair at their first divergent action, the better run's action as `chosen`.
    """
    pairs, seen = [], set()
    for group in groups:
        for a in range(len(group)):
            for b in range(a + 1, len(group)):
                (ta, sa), (tb, sb) = group[a], group[b]
                if sa == sb:
                    continue
                better, worse = (ta, tb) if sa > sb else (tb, ta)
                i = _divergence(better, worse)
                chosen, rejected = _next_action(better, i), _next_action(worse, i)
                prompt = render_context(better.instruction, better.steps[:i])
                if chosen != rejected and (prompt, chosen, rejected) not in seen:
                    seen.add((prompt, chosen, rejected))
                    pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return pairs


def _progress(progress: Progress[dict] | None, stage: str) -> TrainerProgress:
    keep = ("loss", "reward", "accuracy", "margin", "kl", "rewards/reward_model/mean")

    def metrics(logs: Mapping[str, Any]) -> dict:
        return {f"{stage}_{k}": v for k, v in logs.items() if isinstance(v, float) and k in keep}

    return TrainerProgress(progress, metrics)


def _common_args(cfg: Any, out_dir: Path) -> dict[str, Any]:
    return {
        "output_dir": str(out_dir),
        "max_steps": cfg.steps,
        "per_device_train_batch_size": cfg.batch_size,
        "learning_rate": cfg.lr,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "bf16": False,
        "gradient_checkpointing": False,  # tiny models: recomputation costs more than it saves
        "use_cpu": runtime.device().type != "cuda",
        "seed": cfg.seed,
        "disable_tqdm": True,
    }


def _losses(trainer: Any) -> list[float]:
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def _train_and_save(trainer: Any, tok: Any, out_dir: Path) -> PreTrainedModel:
    """Run a TRL trainer and save its model and tokenizer with save_pretrained.

    The model is the PreTrainedModel it was given (no PEFT or wrapping here; Trainer.model
    is typed `PreTrainedModel | Module | None`)."""
    trainer.remove_callback(PrinterCallback)  # progress goes through the callback instead
    trainer.train()
    model = trainer.model
    assert isinstance(model, PreTrainedModel)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return model


# TRL's reward-function type: a list of floats, None where a function abstains.
_TRLRewardFn = Callable[..., list[float | None]]


@dataclass
class DPOStageConfig:
    steps: int = 60
    batch_size: int = 8
    lr: float = 2e-4
    beta: float = 0.1
    # DPO alone pushes the rejected action down by pushing its shared tokens down too; on a
    # tiny model that breaks the JSON around them. An NLL term on `chosen` (RPO) holds it.
    sft_weight: float = 1.0
    seed: int = 0


def train_dpo(
    policy: Any,
    tok: Any,
    pairs: list[dict[str, str]],
    cfg: DPOStageConfig,
    out_dir: str | Path,
    progress: Progress[dict] | None = None,
) -> tuple[Any, list[float]]:
    """Implicit reward: DPO straight on the pairs; the frozen start is the reference."""
    from trl import DPOConfig, DPOTrainer

    out_dir = Path(out_dir)
    args = DPOConfig(
        **_common_args(cfg, out_dir),
        beta=cfg.beta,
        max_length=512,
        loss_type=["sigmoid", "sft"],
        loss_weights=[1.0, cfg.sft_weight],
    )
    trainer = DPOTrainer(
        model=policy,
        ref_model=copy.deepcopy(policy).eval(),  # frozen start; TRL would reload it by name
        args=args,
        train_dataset=Dataset.from_list(pairs),
        processing_class=tok,
        callbacks=[_progress(progress, "dpo")],
    )
    model = _train_and_save(trainer, tok, out_dir)
    return model, _losses(trainer)


@dataclass
class RewardStageConfig:
    steps: int = 60
    batch_size: int = 8
    lr: float = 5e-4
    seed: int = 0


def train_reward_model(
    policy_dir: str | Path,
    tok: Any,
    pairs: list[dict[str, str]],
    cfg: RewardStageConfig,
    out_dir: str | Path,
    progress: Progress[dict] | None = None,
) -> tuple[Any, list[float]]:
    """Explicit reward, step 1: a Bradley-Terry reward model on the same pairs, started
    from the policy's weights (it already reads the format) with a fresh scalar head."""
    from trl import RewardConfig, RewardTrainer

    out_dir = Path(out_dir)
    torch.manual_seed(cfg.seed)
    rm = GPT2ForSequenceClassification.from_pretrained(policy_dir, num_labels=1)
    rm.config.pad_token_id = tok.pad_token_id
    args = RewardConfig(**_common_args(cfg, out_dir), max_length=512)
    trainer = RewardTrainer(
        model=rm,
        args=args,
        train_dataset=Dataset.from_list(pairs),
        processing_class=tok,
        callbacks=[_progress(progress, "rm")],
    )
    model = _train_and_save(trainer, tok, out_dir)
    return model, _losses(trainer)


def reward_function(rm: Any, tok: Any) -> Callable[..., list[float]]:
    """The reward model as a GRPO reward function over (prompt, completion) texts."""
    device = next(rm.parameters()).device

    @torch.no_grad()
    def reward(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
        rm.eval()
        texts = [f"{p} {c}" for p, c in zip(prompts, completions)]
        enc = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=512)
        scores = rm(**{k: v.to(device) for k, v in enc.items() if k != "token_type_ids"})
        return scores.logits[:, 0].float().cpu().tolist()

    reward.__name__ = "reward_model"
    return reward


def validity_reward(tok: Any) -> Callable[..., list[float]]:
    """1.0 when a completion parses into a final answer or a schema-valid tool call: the
    automatic execution check, as a second explicit reward next to the reward model."""

    def valid(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
        out = []
        for text in completions:
            tokens = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])
            text = re.sub(r"\bC_(MAX|QTY)\b", "1", detokenize(tokens))
            name, args = parse_action(text)
            out.append(float(name == "final" or schema_errors(name, args) is None))
        return out

    valid.__name__ = "valid_call"
    return valid


@dataclass
class GRPOStageConfig:
    steps: int = 40
    num_generations: int = 8
    max_completion_length: int = 24
    lr: float = 1e-4
    beta: float = 0.04  # KL to the starting policy keeps it from drifting off the format
    # Above 1 so a group of samples for one context differs often enough to give GRPO a
    # signal: a confident tiny policy at T=1 often samples the same action 8 times.
    temperature: float = 1.2
    seed: int = 0
    batch_size: int = field(init=False)

    def __post_init__(self) -> None:
        # One prompt per step, repeated num_generations times: no left padding, so positions
        # mean the same as in SFT (GPT-2 does not derive them from the attention mask).
        self.batch_size = self.num_generations


def train_grpo(
    policy: Any,
    tok: Any,
    prompts: list[str],
    reward_fn: Callable[..., list[float]],
    cfg: GRPOStageConfig,
    out_dir: str | Path,
    progress: Progress[dict] | None = None,
) -> tuple[Any, list[float]]:
    """Explicit reward, step 2: GRPO on the contexts, rewarded by the reward model."""
    from trl import GRPOConfig, GRPOTrainer

    out_dir = Path(out_dir)
    args = GRPOConfig(
        **_common_args(cfg, out_dir),
        num_generations=cfg.num_generations,
        steps_per_generation=1,
        max_completion_length=cfg.max_completion_length,
        beta=cfg.beta,
        temperature=cfg.temperature,
    )
    trainer = GRPOTrainer(
        model=policy,
        # TRL's RewardFunc returns list[float | None]; list invariance rejects list[float],
        # though a reward that never abstains is exactly what TRL expects.
        reward_funcs=[cast(_TRLRewardFn, reward_fn), cast(_TRLRewardFn, validity_reward(tok))],
        args=args,
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
        processing_class=tok,
        callbacks=[_progress(progress, "grpo")],
    )
    model = _train_and_save(trainer, tok, out_dir)
    rewards = [
        h["rewards/reward_model/mean"]
        for h in trainer.state.log_history
        if "rewards/reward_model/mean" in h
    ]
    return model, rewards
