"""The launch gate: per-aspect scores -> launch / review / reject, with calibrated thresholds.

The launch threshold is chosen on held-out labelled images so that the usable rate among
launched images is at least `target` with confidence 1 - delta. It is Learn-then-Test with
fixed-sequence testing: thresholds are tested from strict to loose, each with the exact
binomial test of H0 "usable rate among launched < target" (its rejection is the same as the
one-sided Clopper-Pearson lower bound being >= target), and testing stops at the first
threshold that fails. Because the order is fixed before looking at labels, one sequence needs
no multiplicity correction; a few sequences with different starting points run at
delta / n_starts each (Bonferroni), so one unlucky stretch of strict thresholds does not end
the search. The loosest passing threshold is used, which maximises the share launched
subject to the guarantee. The reject threshold is calibrated the same way so that
rejected images are rarely usable.

A calibration holds for the population it was measured on, so the gate keeps one per
population (an item's source: world, upload, import, generated), each from that
population's own labels, and an item of a population without one is held for a person.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import beta

Action = Literal["launch", "review", "reject"]
Combine = Literal["min", "product"]

# Fixed sequences the threshold search starts from (Bonferroni: each at delta / N_STARTS).
N_STARTS = 4

# The fewest held-out labels a population is calibrated on. What the bound needs depends on
# the target (min_population_n): a perfect record of m launched items passes only when
# target**m <= delta / N_STARTS, which at 95% confidence takes 42 items for a 90% target and
# 217 for 98%, and rejecting with at most 5% usable among rejected takes 86 rejected. This
# floor is for low targets, where the bound alone would accept a handful (3 items at 50%
# with 50% confidence): a population's calibration rests on more than a handful of labels.
MIN_POPULATION_N = 50


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) lower confidence bound on a binomial rate with k of n."""
    if n == 0 or k == 0:
        return 0.0
    return float(beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) upper confidence bound on a binomial rate with k of n."""
    if n == 0 or k == n:
        return 1.0
    return float(beta.ppf(1 - alpha, k + 1, n - k))


def min_count_for(target: float, alpha: float) -> int:
    """Fewest items for which a perfect record can show rate >= target at level alpha:
    thresholds launching fewer cannot pass, so the sequence starts there."""
    return max(1, math.ceil(math.log(alpha) / math.log(target)))


def min_population_n(target: float, delta: float, n_starts: int = N_STARTS) -> int:
    """Held-out labels a population needs before it is calibrated on its own: fewer could
    not show the target even if every launched item were usable."""
    return max(MIN_POPULATION_N, min_count_for(target, delta / n_starts))


def launch_score(scores: Mapping[str, np.ndarray], combine: Combine = "product") -> np.ndarray:
    """One number per image from its per-aspect P(ok): the product (P(all ok) if aspects
    were independent) or the weakest aspect."""
    arrays = [np.asarray(v, dtype=float) for v in scores.values()]
    if not arrays:
        return np.zeros(0)
    stack = np.vstack(arrays)
    return stack.prod(axis=0) if combine == "product" else stack.min(axis=0)


@dataclass
class GateThresholds:
    """What the gate needs at decision time; stored with each gate calibration."""

    aspects: list[str]
    launch: float | None = None  # None: nothing launches
    reject: float | None = None  # None: nothing is rejected by score
    combine: Combine = "product"
    target: float = 0.98
    confidence: float = 0.95
    max_usable_rejected: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> GateThresholds:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Decision:
    action: Action
    aspect: str | None  # the aspect (or rule) that drove the decision
    reason: str
    launch_score: float | None = None


def decide(
    scores: Mapping[str, float],
    thresholds: GateThresholds,
    rules: Mapping[str, bool] | None = None,
) -> Decision:
    """Decide one image. `scores` maps aspect -> P(ok); `rules` maps hard rule -> passed."""
    for name, passed in (rules or {}).items():
        if not passed:
            return Decision("reject", name, f"business rule {name!r} failed")
    missing = [a for a in thresholds.aspects if a not in scores]
    if not thresholds.aspects or missing:
        aspect = missing[0] if missing else None
        return Decision("review", aspect, "no live model for " + (aspect or "any aspect"))
    vals = {a: float(scores[a]) for a in thresholds.aspects}
    weakest = min(vals, key=vals.__getitem__)
    ls = float(launch_score({a: np.array([v]) for a, v in vals.items()}, thresholds.combine)[0])
    if thresholds.reject is not None and vals[weakest] <= thresholds.reject:
        return Decision("reject", weakest, f"{weakest} confidently defective", ls)
    if thresholds.launch is not None and ls >= thresholds.launch:
        return Decision("launch", weakest, "all aspects above the launch bar", ls)
    if thresholds.launch is None:
        return Decision("review", weakest, "no calibrated launch threshold", ls)
    return Decision("review", weakest, f"{weakest} not confident enough", ls)


def decide_batch(
    scores: Mapping[str, np.ndarray], thresholds: GateThresholds
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised decide for many images: (actions, driving aspect) arrays of strings."""
    n = len(next(iter(scores.values()))) if scores else 0
    actions = np.full(n, "review", dtype=object)
    if not thresholds.aspects or any(a not in scores for a in thresholds.aspects) or n == 0:
        return actions, np.full(n, None, dtype=object)
    stack = np.vstack([np.asarray(scores[a], dtype=float) for a in thresholds.aspects])
    weakest = np.array(thresholds.aspects, dtype=object)[stack.argmin(axis=0)]
    ls = launch_score({a: stack[i] for i, a in enumerate(thresholds.aspects)}, thresholds.combine)
    if thresholds.launch is not None:
        actions[ls >= thresholds.launch] = "launch"
    if thresholds.reject is not None:
        actions[stack.min(axis=0) <= thresholds.reject] = "reject"
    return actions, weakest


@dataclass
class CurvePoint:
    threshold: float
    n_launched: int
    share_launched: float
    usable_rate: float
    lower_bound: float
    passed: bool  # inside the fixed sequence and the test rejected H0


@dataclass
class Calibration:
    thresholds: GateThresholds
    curve: list[CurvePoint] = field(default_factory=list)
    reject_curve: list[CurvePoint] = field(default_factory=list)
    n: int = 0

    def summary(self) -> dict:
        return {"thresholds": self.thresholds.to_dict(), "n": self.n}


def _grid(n: int, start: int, max_points: int) -> np.ndarray:
    """Counts of launched items to test, geometrically spaced from `start` up to all (the
    strict end, where few images launch, needs the finer steps). Depends only on n, never
    on the labels, so the fixed-sequence guarantee holds."""
    if start > n:
        return np.zeros(0, dtype=int)
    return np.unique(np.geomspace(start, n, num=min(max_points, n - start + 1)).round()).astype(int)


def _fixed_sequences(ok: np.ndarray, n_starts: int) -> np.ndarray:
    """Which grid points pass when testing from `n_starts` starting points (spread over the
    grid), each walking loose-ward until its first failure. A single sequence from the
    strictest point stops at the first unlucky handful of images; several starts, each at
    level delta / n_starts (Bonferroni), keep the guarantee and lose much less power."""
    passed = np.zeros(len(ok), dtype=bool)
    if not len(ok):
        return passed
    starts = np.unique(np.linspace(0, len(ok) - 1, n_starts + 1)[:-1].round().astype(int))
    for i in starts:
        while i < len(ok) and ok[i]:
            passed[i] = True
            i += 1
    return passed


def calibrate(
    scores: Mapping[str, np.ndarray],
    usable: np.ndarray,
    *,
    target: float = 0.98,
    delta: float = 0.05,
    max_usable_rejected: float = 0.05,
    combine: Combine = "product",
    max_points: int = 200,
    n_starts: int = N_STARTS,
) -> Calibration:
    """Pick launch and reject thresholds on labelled calibration images.

    `scores` maps aspect -> P(ok) per image; `usable` is 1 where the image is usable. With
    no aspects or too few images, launch stays None and nothing launches."""
    aspects = list(scores)
    y = np.asarray(usable, dtype=int)
    th = GateThresholds(
        aspects=aspects,
        combine=combine,
        target=target,
        confidence=1 - delta,
        max_usable_rejected=max_usable_rejected,
    )
    if not aspects or len(y) == 0:
        return Calibration(thresholds=th, n=len(y))
    ls = launch_score(scores, combine)
    n = len(y)
    order = np.argsort(-ls, kind="stable")
    s_sorted, y_sorted = ls[order], y[order]
    cum = np.cumsum(y_sorted)

    alpha = delta / n_starts
    grid = _grid(n, min_count_for(target, alpha), max_points)
    points = []
    for m in grid:
        # Ties: launching means score >= threshold, so count every item tied with the m-th.
        thr = s_sorted[m - 1]
        m_eff = int(np.searchsorted(-s_sorted, -thr, side="right"))
        k = int(cum[m_eff - 1])
        points.append((float(thr), m_eff, k, clopper_pearson_lower(k, m_eff, alpha)))
    passed = _fixed_sequences(np.array([p[3] >= target for p in points], bool), n_starts)
    curve = [
        CurvePoint(thr, m, m / n, k / m, low, bool(ok))
        for (thr, m, k, low), ok in zip(points, passed)
    ]
    if passed.any():
        th.launch = min(p.threshold for p in curve if p.passed)

    # Reject: the weakest aspect at or below rho. Test from strict (few rejected) to loose,
    # keeping rho below the launch threshold so an image is never both.
    weakest = np.vstack([np.asarray(scores[a], dtype=float) for a in aspects]).min(axis=0)
    w_sorted = np.sort(weakest, kind="stable")
    wcum = np.cumsum(y[np.argsort(weakest, kind="stable")])
    rpoints = []
    for m in _grid(n, min_count_for(1 - max_usable_rejected, alpha), max_points):
        thr = float(w_sorted[m - 1])
        if th.launch is not None and thr >= th.launch:
            break
        m_eff = int(np.searchsorted(w_sorted, thr, side="right"))
        k = int(wcum[m_eff - 1])
        rpoints.append((thr, m_eff, k, clopper_pearson_upper(k, m_eff, alpha)))
    rpassed = _fixed_sequences(
        np.array([p[3] <= max_usable_rejected for p in rpoints], bool), n_starts
    )
    # For the reject curve, "usable_rate" is the usable share among rejected and
    # "lower_bound" holds its upper confidence bound.
    reject_curve = [
        CurvePoint(thr, m, m / n, k / m, up, bool(ok))
        for (thr, m, k, up), ok in zip(rpoints, rpassed)
    ]
    if rpassed.any():
        th.reject = max(p.threshold for p in reject_curve if p.passed)
    return Calibration(thresholds=th, curve=curve, reject_curve=reject_curve, n=n)


@dataclass
class PopulationCalibration:
    population: str
    n: int  # held-out labeled items of this population
    needed: int  # min_population_n at the gate's target and confidence
    calibration: Calibration | None  # None: fewer than `needed`, so not calibrated


def calibrate_populations(
    scores: Mapping[str, np.ndarray],
    usable: np.ndarray,
    populations: Sequence[str],
    *,
    target: float = 0.98,
    delta: float = 0.05,
    max_usable_rejected: float = 0.05,
    combine: Combine = "product",
) -> dict[str, PopulationCalibration]:
    """`calibrate` on each population's own items, with the same target and confidence.
    `populations` names each item's population; one with fewer than `min_population_n`
    items stays uncalibrated (its items are held, never launched or rejected)."""
    y = np.asarray(usable, dtype=int)
    pops = np.asarray(populations, dtype=object)
    needed = min_population_n(target, delta)
    out = {}
    for name in sorted(set(pops.tolist())):
        mask = pops == name
        n = int(mask.sum())
        cal = None
        if n >= needed:
            cal = calibrate(
                {a: np.asarray(s, dtype=float)[mask] for a, s in scores.items()},
                y[mask],
                target=target,
                delta=delta,
                max_usable_rejected=max_usable_rejected,
                combine=combine,
            )
        out[name] = PopulationCalibration(name, n, needed, cal)
    return out


def population_thresholds(stored: Mapping) -> dict[str, GateThresholds]:
    """Per-population thresholds from a gate's stored JSON (``{"populations": {name:
    thresholds}}``). A row from before populations were kept (thresholds at the top level)
    does not say which population it was measured on, so it calibrates none: every item is
    held until the gate is recalibrated."""
    pops = stored.get("populations")
    if not isinstance(pops, Mapping):
        return {}
    return {str(p): GateThresholds.from_dict(d) for p, d in pops.items()}


def uncalibrated_reason(population: str) -> str:
    return f"no calibration for {population} items yet: a person must judge it"


def decide_population(
    scores: Mapping[str, float],
    population: str,
    by_population: Mapping[str, GateThresholds],
) -> Decision:
    """Decide one image with its own population's thresholds; an image whose population
    has none is held for review: launching or rejecting it would lean on a bound measured
    on other images."""
    thresholds = by_population.get(population)
    if thresholds is None:
        return Decision("review", None, uncalibrated_reason(population))
    return decide(scores, thresholds)


def evaluate(
    scores: Mapping[str, np.ndarray], usable: Sequence[int] | np.ndarray, thresholds: GateThresholds
) -> dict[str, float]:
    """Gate outcome on labelled images: usable rate among launched, recall of usable images,
    shares per action, and usable share among rejected."""
    y = np.asarray(usable, dtype=int)
    actions, _ = decide_batch(scores, thresholds)
    launched, rejected = actions == "launch", actions == "reject"
    return {
        "n": len(y),
        "share_launched": float(launched.mean()) if len(y) else 0.0,
        "share_rejected": float(rejected.mean()) if len(y) else 0.0,
        "usable_rate": float(y[launched].mean()) if launched.any() else float("nan"),
        "recall": float(launched[y == 1].mean()) if (y == 1).any() else float("nan"),
        "usable_among_rejected": float(y[rejected].mean()) if rejected.any() else float("nan"),
    }
