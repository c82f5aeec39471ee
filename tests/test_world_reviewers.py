"""Simulated reviewers: their mistakes are as frequent as configured, fall on faint defects
more than on glaring ones, and repeat exactly for a seed."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.world.reviewers import SimulatedReviewer, miss_probability, reviewer_pool
from labeling.world.rules import ASPECTS, DEFECTS, SEVERITY_RANGE


def random_truths(n: int, seed: int, defect_rate: float = 0.3) -> list[dict]:
    """Truths shaped like the world's: each aspect defective with some probability."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        truth = {}
        for aspect in ASPECTS:
            if rng.random() < defect_rate:
                kind = str(rng.choice(DEFECTS[aspect]))
                truth[aspect] = {"defect": kind, "severity": float(rng.uniform(*SEVERITY_RANGE))}
            else:
                truth[aspect] = {"defect": None, "severity": 0.0}
        out.append(truth)
    return out


def error_rate(reviewer: SimulatedReviewer, truths: list[dict]) -> float:
    wrong = total = 0
    for i, truth in enumerate(truths):
        labels = reviewer.label(truth, item_key=f"item-{i}")
        for aspect in ASPECTS:
            expected = "defect" if truth[aspect]["defect"] else "ok"
            wrong += labels[aspect] != expected
            total += 1
    return wrong / total


@pytest.mark.parametrize("rate", [0.03, 0.08, 0.15])
def test_error_rate_comes_out_near_the_configured_rate(rate):
    truths = random_truths(2000, seed=1)
    measured = error_rate(SimulatedReviewer("ann", rate, seed=4), truths)
    # 6,000 aspect labels: the binomial standard error is under 0.5 points.
    assert abs(measured - rate) < max(0.012, 0.2 * rate), measured


def test_perfect_reviewer_makes_no_mistakes():
    truths = random_truths(300, seed=2)
    assert error_rate(SimulatedReviewer("gold", 0.0, seed=0), truths) == 0.0


def test_faint_defects_are_missed_more_often_than_glaring_ones():
    reviewer = SimulatedReviewer("ann", 0.12, seed=7)

    def miss_rate(severity: float) -> float:
        truth = {a: {"defect": None, "severity": 0.0} for a in ASPECTS}
        truth["shape"] = {"defect": "distorted", "severity": severity}
        labels = [reviewer.label(truth, item_key=f"{severity}-{i}") for i in range(2000)]
        return sum(lab["shape"] == "ok" for lab in labels) / len(labels)

    faint, glaring = miss_rate(0.1), miss_rate(0.95)
    assert faint > 2 * glaring
    assert faint == pytest.approx(miss_probability(0.12, 0.1), abs=0.025)


def test_usable_follows_the_reviewers_own_aspect_labels():
    reviewer = SimulatedReviewer("ann", 0.15, seed=3)
    for truth in random_truths(500, seed=5):
        labels = reviewer.label(truth)
        all_ok = all(labels[a] == "ok" for a in ASPECTS)
        assert labels["usable"] == ("yes" if all_ok else "no")
        assert set(labels) == {*ASPECTS, "usable"}


def test_labels_repeat_for_a_seed_and_differ_for_another():
    truths = random_truths(400, seed=6)
    a = [
        SimulatedReviewer("ann", 0.1, seed=1).label(t, item_key=str(i))
        for i, t in enumerate(truths)
    ]
    b = [
        SimulatedReviewer("ann", 0.1, seed=1).label(t, item_key=str(i))
        for i, t in enumerate(truths)
    ]
    c = [
        SimulatedReviewer("ann", 0.1, seed=2).label(t, item_key=str(i))
        for i, t in enumerate(truths)
    ]
    assert a == b
    assert a != c
    # Without item keys the labels follow the call order, still reproducibly.
    r1, r2 = SimulatedReviewer("bob", 0.1, seed=1), SimulatedReviewer("bob", 0.1, seed=1)
    assert [r1.label(t) for t in truths] == [r2.label(t) for t in truths]


def test_keyed_labels_do_not_depend_on_the_order_items_are_seen():
    truths = random_truths(50, seed=8)
    reviewer = SimulatedReviewer("ann", 0.15, seed=1)
    forward = {i: reviewer.label(t, item_key=str(i)) for i, t in enumerate(truths)}
    backward = {i: reviewer.label(truths[i], item_key=str(i)) for i in reversed(range(50))}
    assert forward == backward


def test_reviewer_pool_spreads_error_rates_over_the_range():
    pool = reviewer_pool(12, seed=3)
    assert len(pool) == 12 and len({r.name for r in pool}) == 12
    rates = [r.error_rate for r in pool]
    assert all(0.03 <= r <= 0.15 for r in rates)
    assert max(rates) - min(rates) > 0.05
    assert [r.error_rate for r in reviewer_pool(12, seed=3)] == rates
    truth = random_truths(1, seed=0)[0]
    assert [r.label(truth, "x") for r in reviewer_pool(12, seed=3)] == [
        r.label(truth, "x") for r in pool
    ]


def test_error_rate_outside_range_is_rejected():
    with pytest.raises(ValueError):
        SimulatedReviewer("ann", 0.7)
