"""Scores over step labels and run outcomes, whoever produced them (the world's oracle, the
learned scorers in ``workers.agents.ml.judge``, reviewers): local score and pass^k."""

from __future__ import annotations

from math import comb

__all__ = ["local_score", "pass_hat_k", "pass_k_over_tasks"]


def local_score(labels: list[str]) -> float:
    return sum(x == "ok" for x in labels) / len(labels) if labels else 1.0


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
