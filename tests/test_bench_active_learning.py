"""The active-learning benchmark: its uncertainty order, its target arithmetic, and a smoke run.

The smoke run checks what the benchmark promises a reader: both strategies start from the same
seed set, grow by the same batches, and the last line is one JSON object whose label counts
agree with its own curves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench_module():  # type: ignore[no-untyped-def]
    from bench import active_learning

    return active_learning


def test_uncertainty_picks_the_items_closest_to_a_coin_flip_on_any_aspect():
    al = _bench_module()
    # Item 2 is sure on shape and placement but unsure on colour: the minimum over aspects
    # must put it first, ahead of item 0, which is only mildly unsure everywhere.
    p_ok = np.array(
        [
            [0.70, 0.30, 0.72],
            [0.99, 0.01, 0.98],
            [0.99, 0.98, 0.52],
            [0.95, 0.90, 0.05],
        ]
    )
    prio = al.uncertainty_priority(p_ok)
    candidates = np.array([10, 11, 12, 13])
    rng = np.random.default_rng(0)
    picked = al.select_uncertain(candidates, prio, k=2, rng=rng, random_share=0.0)
    assert list(picked) == [12, 10]


def test_the_random_share_of_an_uncertainty_batch_comes_from_outside_the_top():
    al = _bench_module()
    candidates = np.arange(100)
    prio = np.linspace(0.0, 0.5, 100)  # item i is the i-th most uncertain
    picked = al.select_uncertain(
        candidates, prio, k=10, rng=np.random.default_rng(1), random_share=0.3
    )
    assert len(set(picked.tolist())) == 10
    assert list(picked[:7]) == list(range(7))
    assert all(i >= 7 for i in picked[7:])


def test_labels_to_target_is_the_first_round_that_reaches_it():
    al = _bench_module()
    curve = [(200, 0.70), (400, 0.78), (600, 0.77), (800, 0.82)]
    target = al.target_auc(curve, share=0.9)
    assert target == pytest.approx(0.5 + 0.9 * 0.32)
    assert al.labels_to(curve, target) == 800
    assert al.labels_to(curve, 0.75) == 400
    assert al.labels_to(curve, 0.9) is None


@pytest.mark.slow
def test_quick_run_prints_both_learning_curves_and_a_json_last_line():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "active_learning.py"), "--quick", "--cache-dir", ""],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    curves = result["curves"]
    assert set(curves) == {"random", "uncertainty"}
    rand, unc = curves["random"], curves["uncertainty"]
    # Same seed set, same rounds: label counts match point for point and grow by the batch.
    assert [n for n, _ in rand] == [n for n, _ in unc] == [100, 200, 300]
    assert rand[0] == unc[0]
    for _, a in rand + unc:
        assert 0.0 <= a <= 1.0
    # The reported counts are read off the printed curves, not computed elsewhere.
    target = result["target_auc"]
    for name, curve in curves.items():
        reached = [n for n, a in curve if a >= target]
        assert result["labels_to_target"][name] == (reached[0] if reached else None)
    need = result["labels_to_target"]
    if need["random"] and need["uncertainty"]:
        assert result["label_ratio"] == pytest.approx(need["uncertainty"] / need["random"], 1e-3)
    # The table a person reads sits above the JSON line, one row per round.
    assert any(line.split()[:1] == ["300"] for line in lines[:-1])
