"""Checks on job parameters given by people (forms, API) before a job is queued."""

from __future__ import annotations

from typing import Any

LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "seed_world": {"images": (1, 20_000), "seed": (0, 2**31 - 1)},
    "simulate_labels": {"reviewers": (1, 50), "labels": (1, 50_000), "seed": (0, 2**31 - 1)},
    "worker_check": {"seconds": (1, 600)},
    "train_rewards": {"epochs": (1, 100)},
    "worker_check_gpu": {"seconds": (1, 600)},
    # image generator (workers/imagegen): "version" and "product" are row ids, checked
    # against the job's project by the runner
    "generator_train": {
        "steps": (1, 5000),
        "layers": (2, 24),
        "images": (32, 5000),
        "seed": (0, 2**31 - 1),
    },
    "generator_rl": {
        "version": (1, 2**31 - 1),
        "steps": (1, 500),
        "batch": (1, 32),
        "seed": (0, 2**31 - 1),
    },
    "generator_prune": {
        "version": (1, 2**31 - 1),
        "remove": (1, 23),
        "recovery_steps": (0, 2000),
        "images": (32, 5000),
        "seed": (0, 2**31 - 1),
    },
    "generate_ads": {
        "product": (1, 2**31 - 1),
        "count": (1, 50),
        "version": (1, 2**31 - 1),
        "seed": (0, 2**31 - 1),
    },
    # query expansion (workers/qe): "parent" is a version number of the project's
    # query-expansion family, checked by the runner
    "qe_catalog": {"size": (1, 100_000), "seed": (0, 2**31 - 1)},
    "qe_pretrain": {
        "steps": (1, 20_000),
        "batch_size": (1, 512),
        "seed": (0, 2**31 - 1),
        "layers": (1, 12),
        "eval_queries": (1, 5000),
    },
    "qe_sft": {
        "steps": (1, 20_000),
        "batch_size": (1, 512),
        "seed": (0, 2**31 - 1),
        "queries": (1, 100_000),
        "eval_queries": (1, 5000),
        "parent": (1, 10**6),
    },
    "qe_ppo": {
        "steps": (1, 5000),
        "batch_size": (2, 512),
        "seed": (0, 2**31 - 1),
        "queries": (1, 100_000),
        "eval_queries": (1, 5000),
        "parent": (1, 10**6),
    },
    "qe_grpo": {
        "steps": (1, 5000),
        "prompts": (1, 128),
        "generations": (2, 64),
        "seed": (0, 2**31 - 1),
        "queries": (1, 100_000),
        "eval_queries": (1, 5000),
        "parent": (1, 10**6),
    },
    "qe_review_items": {"count": (1, 5000), "seed": (0, 2**31 - 1)},
    # agent evaluation (workers/agents): "parent" is an agent-policy row id of the job's
    # project (0 or absent: its newest base policy), checked by the runner
    "agent_generate_traces": {
        "tasks": (1, 360),
        "runs": (1, 10),
        "flawed_percent": (0, 100),
        "seed": (0, 2**31 - 1),
    },
    "agent_train_base": {
        "sft_steps": (1, 5000),
        "eval_tasks": (1, 120),
        "eval_runs": (1, 10),
        "seed": (0, 2**31 - 1),
    },
    "agent_train_dpo": {
        "steps": (1, 2000),
        "eval_tasks": (1, 120),
        "eval_runs": (1, 10),
        "seed": (0, 2**31 - 1),
        "parent": (0, 2**31 - 1),
    },
    "agent_train_explicit": {
        "steps": (1, 2000),
        "grpo_steps": (1, 2000),
        "eval_tasks": (1, 120),
        "eval_runs": (1, 10),
        "seed": (0, 2**31 - 1),
        "parent": (0, 2**31 - 1),
    },
}
# Decimal parameters: (low, high), both included.
FLOATS: dict[str, dict[str, tuple[float, float]]] = {
    "generator_prune": {"eps": (0.0, 1.0)},
    "qe_pretrain": {"lr": (1e-6, 0.1)},
    "qe_sft": {"lr": (1e-6, 0.1)},
}
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "export": {"format": ("jsonl", "hf")},
    "qe_pretrain": {"size": ("tiny", "full")},
}
LISTS: dict[str, dict[str, tuple[str, ...]]] = {
    "train_rewards": {"aspects": ("shape", "placement", "color")},
}
FLAGS: dict[str, tuple[str, ...]] = {
    "score_images": ("rescore",),
    "generate_ads": ("recurrent", "full"),
    "agent_generate_traces": ("policy",),
}


class ParamError(ValueError):
    pass


def clean_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, (lo, hi) in LIMITS.get(kind, {}).items():
        if name in params:
            try:
                value = int(params[name])
            except (TypeError, ValueError, OverflowError):  # int(inf): JSON reads 1e400 as infinity
                raise ParamError(f"{name} must be a whole number") from None
            if not lo <= value <= hi:
                raise ParamError(f"{name} must be between {lo} and {hi}")
            clean[name] = value
    for name, (flo, fhi) in FLOATS.get(kind, {}).items():
        if name in params:
            try:
                number = float(params[name])
            except (TypeError, ValueError, OverflowError):  # float() of a whole number past 1e308
                raise ParamError(f"{name} must be a number") from None
            if not flo <= number <= fhi:  # also refuses NaN
                raise ParamError(f"{name} must be between {flo:g} and {fhi:g}")
            clean[name] = number
    for name, options in CHOICES.get(kind, {}).items():
        if name in params:
            if params[name] not in options:
                raise ParamError(f"{name} must be one of {', '.join(options)}")
            clean[name] = params[name]
    for name, options in LISTS.get(kind, {}).items():
        if name in params:
            raw = params[name]
            items = [v for v in raw.split(",") if v] if isinstance(raw, str) else raw
            if not isinstance(items, list) or not items or not set(items) <= set(options):
                raise ParamError(f"{name} must be a list drawn from {', '.join(options)}")
            clean[name] = items
    for name in FLAGS.get(kind, ()):
        if name in params:
            clean[name] = params[name] in (True, "1", "true", "on", 1)
    unknown = (
        set(params)
        - set(LIMITS.get(kind, {}))
        - set(FLOATS.get(kind, {}))
        - set(CHOICES.get(kind, {}))
        - set(LISTS.get(kind, {}))
        - set(FLAGS.get(kind, ()))
    )
    if unknown:
        raise ParamError(f"unknown parameters for {kind}: {', '.join(sorted(unknown))}")
    return clean
