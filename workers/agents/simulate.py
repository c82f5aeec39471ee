"""Simulated trace reviewers for the demo and the tests: they take traces from the queue
and mark steps and outcome from the planted ground truth, each with their own error rate,
through the same queue services the review page uses."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from jdreview.models import Project
from labeling.models import Item
from labeling.world_seed import queue_simulate
from workers.agents.traces.kind import OUTCOME_VALUES, VERDICTS

Progress = Callable[[float, str], None]


def _review(truth: dict, error_rate: float, rng: random.Random) -> dict:
    steps = []
    for label in truth.get("steps", []):
        if rng.random() < error_rate:
            label = rng.choice([v for v in VERDICTS if v != label])
        steps.append(label)
    outcome = truth.get("outcome") or rng.choice(OUTCOME_VALUES)
    if rng.random() < error_rate / 3:  # the outcome is easier to judge than a step
        outcome = "success" if outcome == "failure" else "failure"
    return {"steps": steps, "outcome": outcome}


def trace_reviews_simulate(
    *, project: Project, reviewers: int, labels: int, seed: int, progress: Progress | None = None
) -> int:
    """Store up to `labels` simulated reviews; returns how many were stored."""

    def review(item: Item, reviewer: Any, rng: random.Random) -> dict | None:
        if not isinstance(item.truth.get("steps"), list):
            return None  # no ground truth to copy: skipped
        return _review(item.truth, reviewer.error_rate, rng)

    return queue_simulate(
        project=project,
        reviewers=reviewers,
        labels=labels,
        seed=seed,
        review=review,
        lead_ms=(8000, 40000),
        what="simulated trace reviews",
        progress=progress,
    )
