"""Checks on job parameters given by people (forms, API) before a job is queued."""

from __future__ import annotations

from typing import Any

LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "seed_world": {"images": (1, 20_000), "seed": (0, 2**31 - 1)},
    "simulate_labels": {"reviewers": (1, 50), "labels": (1, 50_000), "seed": (0, 2**31 - 1)},
    "worker_check": {"seconds": (1, 600)},
    "train_rewards": {"epochs": (1, 100)},
    "worker_check_gpu": {"seconds": (1, 600)},
}
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {"export": {"format": ("jsonl", "hf")}}
LISTS: dict[str, dict[str, tuple[str, ...]]] = {
    "train_rewards": {"aspects": ("shape", "placement", "color")},
}
FLAGS: dict[str, tuple[str, ...]] = {"score_images": ("rescore",)}


class ParamError(ValueError):
    pass


def clean_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, (lo, hi) in LIMITS.get(kind, {}).items():
        if name in params:
            try:
                value = int(params[name])
            except (TypeError, ValueError):
                raise ParamError(f"{name} must be a whole number") from None
            if not lo <= value <= hi:
                raise ParamError(f"{name} must be between {lo} and {hi}")
            clean[name] = value
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
        - set(CHOICES.get(kind, {}))
        - set(LISTS.get(kind, {}))
        - set(FLAGS.get(kind, ()))
    )
    if unknown:
        raise ParamError(f"unknown parameters for {kind}: {', '.join(sorted(unknown))}")
    return clean
