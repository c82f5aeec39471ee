"""Simulated trace reviewers for the demo and the tests: they take traces from the queue
and mark steps and outcome from the planted ground truth, each with their own error rate,
through the same queue services the review page uses."""

from __future__ import annotations

import random
from collections.abc import Callable

from django.db import transaction

from jdreview.models import Project
from labeling.services import annotation_submit, task_next, task_skip
from labeling.traces.kind import OUTCOME_VALUES, VERDICTS
from labeling.world_seed import simulated_reviewers

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
    pairs = simulated_reviewers(project=project, count=reviewers, seed=seed)
    rng = random.Random(seed)
    stored = idle = turn = 0
    while stored < labels and idle < len(pairs):
        user, reviewer = pairs[turn % len(pairs)]
        turn += 1
        assignment = task_next(project=project, user=user)
        if assignment is None:
            idle += 1
            continue
        idle = 0
        if not isinstance(assignment.item.truth.get("steps"), list):
            task_skip(assignment_id=assignment.pk, user=user)  # no ground truth to copy
            continue
        values = _review(assignment.item.truth, reviewer.error_rate, rng)
        with transaction.atomic():
            annotation_submit(
                assignment_id=assignment.pk,
                user=user,
                values=values,
                lead_time_ms=rng.randint(8000, 40000),
                source="simulated",
            )
        stored += 1
        if progress and stored % 20 == 0:
            progress(stored / labels, f"{stored}/{labels} simulated trace reviews")
    return stored
