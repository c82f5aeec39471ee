"""Phases 1 and 2: domain pre-training and supervised fine-tuning of the expansion LM.

Both are plain next-token training; fine-tuning only scores the completion tokens, so the
model learns to answer the prompt rather than to reproduce queries.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from workers.ml.runtime import Progress, no_progress, step_fraction

from .model import expand, prompt, save, target


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 300
    batch_size: int = 32
    lr: float = 2e-3
    max_len: int = 48
    seed: int = 7
    log_every: int = 20


@dataclass(frozen=True)
class SFTConfig(PretrainConfig):
    """The same knobs as pre-training; fine-tuning runs longer at a lower rate."""

    steps: int = 400
    lr: float = 1e-3


@dataclass
class PhaseResult:
    metrics: dict
    samples: list[tuple[str, list[str]]] = field(default_factory=list)
    path: str | None = None


def _batch(
    tok: PreTrainedTokenizerFast,
    prompts: Sequence[str],
    completions: Sequence[str],
    max_len: int,
    dev: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask and labels; prompt tokens are not scored."""
    rows, labels = [], []
    for p, c in zip(prompts, completions):
        p_ids = tok(p)["input_ids"] if p else []
        c_ids = tok(c)["input_ids"] + [tok.eos_token_id]
        ids = (p_ids + c_ids)[:max_len]
        rows.append(ids)
        labels.append(([-100] * len(p_ids) + c_ids)[:max_len])
    width = max(len(r) for r in rows)
    pad = tok.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=dev)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=dev)
    lab = torch.tensor([r + [-100] * (width - len(r)) for r in labels], device=dev)
    return input_ids, mask, lab


def _train_lm(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    examples: Sequence[tuple[str, str]],
    cfg: PretrainConfig,
    progress: Progress[dict],
) -> dict:
    steps, batch_size, max_len, log_every = cfg.steps, cfg.batch_size, cfg.max_len, cfg.log_every
    seed, lr = cfg.seed, cfg.lr
    rng = random.Random(seed)
    torch.manual_seed(seed)
    dev = model.device
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * max(0.1, 1 - s / max(1, steps))
    )
    model.train()
    losses: list[float] = []
    for step in range(steps):
        batch = [examples[rng.randrange(len(examples))] for _ in range(batch_size)]
        ids, mask, labels = _batch(tok, [p for p, _ in batch], [c for _, c in batch], max_len, dev)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if (step + 1) % log_every == 0 or step + 1 == steps:
            recent = sum(losses[-log_every:]) / len(losses[-log_every:])
            progress(step_fraction(step, steps), {"loss": recent, "step": step + 1})
    model.eval()
    window = max(1, min(log_every, steps // 4 or 1))
    return {
        "loss_first": sum(losses[:window]) / window,
        "loss_last": sum(losses[-window:]) / window,
        "steps": steps,
    }


def _samples(model, tok, queries: Sequence[str]) -> list[tuple[str, list[str]]]:
    return [(q, expand(model, tok, q)) for q in queries]


def _train_phase(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    examples: Sequence[tuple[str, str]],
    cfg: PretrainConfig,
    progress: Progress[dict],
    out_dir: str | Path | None,
    sample_queries: Sequence[str],
) -> PhaseResult:
    metrics = _train_lm(model, tok, examples, cfg, progress)
    if out_dir:
        save(model, tok, out_dir)
    return PhaseResult(metrics, _samples(model, tok, sample_queries), str(out_dir or "") or None)


def pretrain(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    texts: Sequence[str],
    cfg: PretrainConfig = PretrainConfig(),
    progress: Progress[dict] = no_progress,
    out_dir: str | Path | None = None,
    sample_queries: Sequence[str] = (),
) -> PhaseResult:
    """Phase 1: next-token training on catalog titles, descriptions and search logs."""
    examples = [("", t) for t in texts]
    return _train_phase(model, tok, examples, cfg, progress, out_dir, sample_queries)


def finetune(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    pairs: Sequence[tuple[str, str]],
    cfg: SFTConfig = SFTConfig(),
    progress: Progress[dict] = no_progress,
    out_dir: str | Path | None = None,
    sample_queries: Sequence[str] = (),
) -> PhaseResult:
    """Phase 2: (query -> expansion) pairs, click-log and reviewer-approved alike."""
    examples = [(prompt(q), target(e)) for q, e in pairs]
    return _train_phase(model, tok, examples, cfg, progress, out_dir, sample_queries)
