"""Local (per-step) and end-to-end scores, pass^k, and failure attribution for traces."""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

from rewards.agents.detect import execution_failure, schema_failure
from workers.pipelines.agents.oracle import attribute, first_error
from workers.pipelines.agents.world import goal_reached

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


def local_score(labels: list[str]) -> float:
    return sum(x == "ok" for x in labels) / len(labels) if labels else 1.0


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


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k (tau-bench): chance that k of the n runs, drawn without replacement,
    all succeed, given c successes: C(c, k) / C(n, k)."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"need 0 < k <= n and 0 <= c <= n, got n={n} c={c} k={k}")
    return comb(c, k) / comb(n, k)


def pass_k_over_tasks(successes: dict[str, list[bool]], k: int) -> float:
    """Mean pass^k over tasks, each with its list of run outcomes."""
    vals = [pass_hat_k(len(runs), sum(runs), k) for runs in successes.values()]
    return sum(vals) / len(vals) if vals else 0.0
