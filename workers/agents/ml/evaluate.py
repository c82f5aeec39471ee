"""Evaluate a policy on held-out tasks: end-to-end success, local step score, pass^k, and
what the failed runs failed on (reasoning or execution).

All scores come from the world's oracle (goal check, ground-truth step labels), never from
the learned scorers the policies were trained against, so reward hacking shows up here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workers.agents.ml.metrics import local_score, pass_k_over_tasks
from workers.agents.ml.oracle import attribute
from workers.agents.ml.policy import rollout
from workers.agents.ml.trace import Trace
from workers.agents.ml.world import Task, World, goal_reached

__all__ = ["evaluate_policy", "evaluate_policy_detailed"]


def _sampled_runs(
    model: Any,
    tok: Any,
    world: World,
    tasks: list[Task],
    *,
    n_runs: int,
    temperature: float,
    seed: int,
) -> list[Trace]:
    traces: list[Trace] = []
    for r in range(n_runs):
        traces += rollout(
            model, tok, world, tasks, seed=seed + r, greedy=False, temperature=temperature
        )
    return traces


def _summary(traces: list[Trace], n_runs: int) -> dict[str, float]:
    runs: dict[str, list[bool]] = {}
    local = []
    for tr in traces:
        # rollout always attaches the task and the oracle's step labels.
        assert tr.task is not None and tr.labels is not None
        runs.setdefault(tr.task.task_id, []).append(goal_reached(tr.task, tr.state))
        local.append(local_score(tr.labels))
    out = {
        "e2e": float(np.mean([x for v in runs.values() for x in v])),
        "local": float(np.mean(local)),
    }
    for k in sorted({1, n_runs}):
        out[f"pass^{k}"] = pass_k_over_tasks(runs, k)
    return out


def evaluate_policy(
    model: Any,
    tok: Any,
    world: World,
    tasks: list[Task],
    *,
    n_runs: int = 3,
    temperature: float = 0.7,
    seed: int = 500,
) -> dict[str, float]:
    """{"e2e", "local", "pass^1", "pass^n"} over `n_runs` sampled runs of every task.

    Sampled, not greedy: a policy is judged by the actions it actually takes, and pass^k over
    sampled runs (each with its own tool weather) shows how reliably it takes the right ones.
    """
    traces = _sampled_runs(
        model, tok, world, tasks, n_runs=n_runs, temperature=temperature, seed=seed
    )
    return _summary(traces, n_runs)


def evaluate_policy_detailed(
    model: Any,
    tok: Any,
    world: World,
    tasks: list[Task],
    *,
    n_runs: int = 3,
    temperature: float = 0.7,
    seed: int = 500,
) -> dict[str, float]:
    """As `evaluate_policy`, plus the split of failed runs into reasoning and execution
    (shares of all runs, by the oracle's attribution) and the number of runs."""
    traces = _sampled_runs(
        model, tok, world, tasks, n_runs=n_runs, temperature=temperature, seed=seed
    )
    out = _summary(traces, n_runs)
    failed = [tr for tr in traces if tr.task is not None and not goal_reached(tr.task, tr.state)]
    blame = [attribute(tr.steps, tr.labels or []) for tr in failed]
    n = max(1, len(traces))
    out["fail_reasoning"] = sum(b == "reasoning" for b in blame) / n
    out["fail_execution"] = sum(b == "execution" for b in blame) / n
    out["runs"] = float(len(traces))
    return out
