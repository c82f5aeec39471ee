"""Calibration labels (the launch-gate benchmark's and the demo's): disagreements among the
three auditors are settled by two more, so the labels the gate is calibrated on are nearly
clean."""

from __future__ import annotations

from pathlib import Path

from labeling.world.reviewers import SimulatedReviewer, settled_labels

ROOT = Path(__file__).resolve().parents[1]


def _gate_bench():  # type: ignore[no-untyped-def]
    from bench import gate

    return gate


def _clean(key: str) -> dict:
    aspects = {a: {"defect": None, "severity": 0.0} for a in ("shape", "placement", "color")}
    return {"key": key, "truth": aspects}


def test_auditor_disagreement_brings_two_more_and_the_majority_is_right():
    careless = SimulatedReviewer("careless", 0.3, seed=1)
    auditors = [
        SimulatedReviewer("a", 0.0, seed=2),
        careless,
        SimulatedReviewer("b", 0.0, seed=3),
        SimulatedReviewer("c", 0.0, seed=4),
        SimulatedReviewer("d", 0.0, seed=5),
    ]
    escalated = 0
    for i in range(60):
        row = _clean(f"ad-{i}")
        labs = settled_labels(row["truth"], row["key"], auditors)
        flagged = careless.label(row["truth"], item_key=row["key"])["usable"] == "no"
        # Two more exactly when the careless auditor disagreed with the others.
        assert len(labs) == (5 if flagged else 3)
        escalated += flagged
        for aspect in ("shape", "placement", "color"):
            votes = [lab[aspect] for _, lab in labs]
            assert votes.count("ok") > len(votes) / 2
    assert 0 < escalated < 60


def test_every_calibration_image_gets_audited_and_test_images_get_no_labels():
    bench = _gate_bench()
    rows = [_clean(f"ad-{i}") for i in range(30)]
    sides = {r["key"]: ("train", "calib", "test")[i % 3] for i, r in enumerate(rows)}
    anns = bench.simulate_labels(rows, sides, seed=0)
    labelled = {a.item for a in anns}
    assert labelled == {k for k, s in sides.items() if s != "test"}
    calib_votes = [a for a in anns if sides[a.item] == "calib" and a.aspect == "usable"]
    per_item = {k: sum(a.item == k for a in calib_votes) for k, s in sides.items() if s == "calib"}
    assert set(per_item.values()) <= {3, 5} and min(per_item.values()) == 3
    assert all(a.annotator.startswith("auditor-") for a in calib_votes)


def test_best_recall_is_the_loosest_cut_that_keeps_the_target():
    import numpy as np

    bench = _gate_bench()
    truth = np.array([1, 1, 1, 1, 0, 1, 1, 0, 0, 1])
    score = np.linspace(1, 0, len(truth))  # already ranked
    # Top 4 are all usable; the top 7 are 6/7 = 0.857 usable; the top 6 are 5/6 = 0.833.
    assert bench.best_recall(score, truth, 1.0) == 4 / 7
    assert bench.best_recall(score, truth, 0.85) == 6 / 7
    # A ranking that puts a defect first reaches 100% usable nowhere.
    assert bench.best_recall(score, np.roll(truth, 2), 1.0) == 0.0
