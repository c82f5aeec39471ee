"""Simulated reviewers: ground truth turned into per-aspect labels with human-like mistakes.

A reviewer misses faint defects more often than glaring ones and now and then flags a fine
aspect; the overall error rate over a realistic mix of items comes out near error_rate.
"Usable" is derived from the reviewer's own aspect labels, as a careful person would.
"""

from __future__ import annotations

import hashlib

import numpy as np

from labeling.world.rules import ASPECTS


def miss_probability(error_rate: float, severity: float) -> float:
    """Chance of overlooking a defect: about 1.8 x error_rate when faint, 0.2 x when severe.

    The weight 1.6·(1 - s) + 0.2 averages to 1 over severities spread evenly in (0, 1], so
    the mean miss rate equals error_rate.
    """
    s = float(np.clip(severity, 0.0, 1.0))
    return float(np.clip(error_rate * (1.6 * (1.0 - s) + 0.2), 0.0, 1.0))


class SimulatedReviewer:
    def __init__(self, name: str, error_rate: float, seed: int = 0) -> None:
        if not 0.0 <= error_rate <= 0.5:
            raise ValueError(f"error_rate must be in [0, 0.5], got {error_rate}")
        self.name = name
        self.error_rate = error_rate
        self.seed = seed
        self._rng = np.random.default_rng(self._key(None))

    def __repr__(self) -> str:
        return f"SimulatedReviewer({self.name!r}, error_rate={self.error_rate:.3f})"

    def _key(self, item_key: str | None) -> list[int]:
        # A stable digest, unlike hash(), so labels repeat across processes.
        digest = hashlib.sha256(f"{self.name}|{item_key}".encode()).digest()
        return [self.seed, int.from_bytes(digest[:8], "little")]

    def label(self, truth: dict, item_key: str | None = None) -> dict:
        """Labels for one item. With item_key the labels depend only on (seed, name, key);
        without, on the order of calls since the reviewer was made."""
        rng = np.random.default_rng(self._key(item_key)) if item_key is not None else self._rng
        out: dict[str, str] = {}
        for aspect in ASPECTS:
            t = truth[aspect]
            if t["defect"] is None:
                wrong = rng.random() < self.error_rate
                out[aspect] = "defect" if wrong else "ok"
            else:
                missed = rng.random() < miss_probability(self.error_rate, t["severity"])
                out[aspect] = "ok" if missed else "defect"
        out["usable"] = "yes" if all(out[a] == "ok" for a in ASPECTS) else "no"
        return out


def reviewer_pool(
    n: int, seed: int, error_range: tuple[float, float] = (0.03, 0.15)
) -> list[SimulatedReviewer]:
    """n reviewers with error rates spread over error_range, reproducible for a seed."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(*error_range, size=n)
    return [
        SimulatedReviewer(f"reviewer-{i + 1:02d}", float(rate), seed=seed * 1000 + i)
        for i, rate in enumerate(rates)
    ]


def settled_labels(
    truth: dict, item_key: str, auditors: list[SimulatedReviewer], first: int = 3
) -> list[tuple[SimulatedReviewer, dict]]:
    """The first ``first`` auditors' labels, and the rest's too where those disagree on any
    aspect: how an audit settles a disputed image.

    Calibration labels need this: three auditors at 1-3% still outvote the truth on about
    0.4% of clean images (two of three wrong on one of three aspects), which near a 98%
    target is as much as the defects a good model lets through; two more on the disputed
    images (majority of five) take that to about 0.03%, for about a third more labels."""
    labs = [(a, a.label(truth, item_key=item_key)) for a in auditors[:first]]
    if any(len({lab[aspect] for _, lab in labs}) > 1 for aspect in ASPECTS):
        labs += [(a, a.label(truth, item_key=item_key)) for a in auditors[first:]]
    return labs
