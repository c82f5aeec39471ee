"""Local (per-step) and end-to-end scores, pass^k, and failure attribution for traces.

Built on the agent world (``workers.agents.ml``: tools, goals, the label arithmetic),
which never imports this package: the world is below its scorers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.agents.ml.judge.detect import execution_failure, schema_failure
from workers.agents.ml.metrics import local_score, pass_hat_k, pass_k_over_tasks
from workers.agents.ml.oracle import attribute, first_error
from workers.agents.ml.world import goal_reached

__all__ = [
    "TraceScore",
    "local_score",
    "pass_hat_k",
    "pass_k_over_tasks",
    "predict_step_labels",
    "score_trace",
]


@dataclass
class TraceScore:
    labels: list[str]  # predicted per step: ok / reasoning / execution
    local: float  # share of steps judged correct (1.0 for a trace with no steps)
    first_wrong: int | None  # index of the first wrong step, as process supervision reports
    e2e: float | None  # 1.0 goal reached, 0.0 not, None when the task's goal is unknown
    attribution: str | None  # for failed runs: "reasoning" or "execution"

    @property
    def total(self) -> float:
        """One number for ranking traces (preference pairs): outcome first, then steps."""
        return (self.e2e or 0.0) + self.local


def predict_step_labels(trace: Any, judge: Any, threshold: float = 0.5) -> list[str]:
    """Execution failures from the tools, reasoning errors from the judge, in the oracle's
    order: bad arguments, then a reasoning error, then an error result."""
    ok_args = [i for i, s in enumerate(trace.steps) if schema_failure(s) is None]
    probs = dict(zip(ok_args, judge.predict_proba([(trace, i) for i in ok_args]), strict=True))
    labels = []
    for i, step in enumerate(trace.steps):
        if i not in probs:
            labels.append("execution")
        elif probs[i] >= threshold:
            labels.append("reasoning")
        elif execution_failure(step) is not None:
            labels.append("execution")
        else:
            labels.append("ok")
    return labels


def score_trace(trace: Any, judge: Any, labels: list[str] | None = None) -> TraceScore:
    """Score a trace; pass `labels` to score against given (e.g. ground-truth) step labels."""
    labels = labels if labels is not None else predict_step_labels(trace, judge)
    e2e = None if trace.task is None else float(goal_reached(trace.task, trace.state))
    return TraceScore(
        labels=labels,
        local=local_score(labels),
        first_wrong=first_error(labels),
        e2e=e2e,
        attribution=attribute(trace.steps, labels) if e2e == 0.0 else None,
    )
