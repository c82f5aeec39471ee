"""Checks on job parameters given by people (forms, API) before a job is queued."""

from __future__ import annotations

from typing import Any

LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "seed_world": {"images": (1, 20_000), "seed": (0, 2**31 - 1)},
    "simulate_labels": {"reviewers": (1, 50), "labels": (1, 50_000), "seed": (0, 2**31 - 1)},
    "worker_check": {"seconds": (1, 600)},
    "worker_check_gpu": {"seconds": (1, 600)},
}
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {"export": {"format": ("jsonl", "hf")}}


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
    unknown = set(params) - set(LIMITS.get(kind, {})) - set(CHOICES.get(kind, {}))
    if unknown:
        raise ParamError(f"unknown parameters for {kind}: {', '.join(sorted(unknown))}")
    return clean
