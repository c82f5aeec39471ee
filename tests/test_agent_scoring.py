"""Scoring agent traces: execution detection, the step judge, local / end-to-end, pass^k."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from workers.agents.ml.judge.detect import execution_failure
from workers.agents.ml.judge.scoring import pass_hat_k, pass_k_over_tasks, score_trace
from workers.agents.ml.judge.step_judge import StepJudge, judge_examples
from workers.agents.ml.scripted import EXECUTION_FLAWS, run_scripted, scripted_traces
from workers.agents.ml.tools import ShopState
from workers.agents.ml.trace import Step, ToolCall, Trace
from workers.agents.ml.world import Task, World, load_catalog, make_tasks, split_tasks


@pytest.fixture(scope="module")
def world() -> World:
    return World(load_catalog())


@pytest.fixture(scope="module")
def split(world: World):
    train, test = split_tasks(make_tasks(world, 240, seed=11), held_out=0.3, seed=0)
    return (
        scripted_traces(world, train, flawed_share=0.6, seed=1),
        scripted_traces(world, test, flawed_share=0.6, seed=2),
    )


@pytest.fixture(scope="module")
def judge(split) -> StepJudge:
    return StepJudge().fit(split[0])


def test_detection_finds_every_planted_execution_failure(world: World) -> None:
    tasks = make_tasks(world, 24, seed=3)
    for n, task in enumerate(tasks):
        flaw = EXECUTION_FLAWS[n % len(EXECUTION_FLAWS)]
        trace = run_scripted(world, task, flaw=flaw, seed=n, fail_prob=0.0)
        planted = trace.meta["planted_step"]
        flagged = [i for i, s in enumerate(trace.steps) if execution_failure(s)]
        assert flagged == [planted], (flaw, task.kind, flagged, planted)


def test_clean_runs_without_tool_failures_have_nothing_flagged(world: World) -> None:
    for n, task in enumerate(make_tasks(world, 12, seed=4)):
        trace = run_scripted(world, task, seed=n, fail_prob=0.0)
        assert not any(execution_failure(s) for s in trace.steps)


def test_step_judge_separates_reasoning_errors_on_held_out_tasks(split, judge) -> None:
    refs, y = judge_examples(split[1])
    auc = roc_auc_score(y, judge.predict_proba(refs))
    assert 0 < y.mean() < 1
    assert auc > 0.8  # chance is 0.5


def test_step_judge_save_and_load_give_identical_scores(split, judge, tmp_path) -> None:
    judge.save(tmp_path / "judge")
    again = StepJudge.load(tmp_path / "judge")
    refs, _ = judge_examples(split[1][:20])
    np.testing.assert_allclose(judge.predict_proba(refs), again.predict_proba(refs))


def _hand_trace() -> Trace:
    task = Task(
        task_id="h1",
        kind="cart",
        instruction="find a red hoodie from Velora under $50 and add 2 to the cart",
        category="hoodie",
        color="red",
        brand="Velora",
        max_price=50,
        qty=2,
        valid_skus=frozenset({"SKU1"}),
    )
    result = {"sku": "SKU1", "color": "red", "brand": "Velora", "price": 40.0, "title": "x"}
    steps = [
        Step(
            "",
            ToolCall("search", {"query": "red Velora hoodie", "max_price": 50}),
            {"error": "timeout", "code": 504},
        ),
        Step(
            "",
            ToolCall("search", {"query": "red Velora hoodie", "max_price": 50}),
            {"results": [result]},
        ),
        Step(
            "",
            ToolCall("add_to_cart", {"sku": "SKU1", "qty": "2"}),
            {"error": "invalid arguments", "code": 400},
        ),
        Step("", ToolCall("add_to_cart", {"sku": "SKU1", "qty": 2}), {"cart": {"SKU1": 2}}),
    ]
    return Trace(task.instruction, steps, "SKU1", ShopState({"SKU1": 2}, None, "SKU1"), task)


def test_local_and_end_to_end_scores_match_hand_computed_values(judge) -> None:
    trace = _hand_trace()
    score = score_trace(trace, judge)
    # Two execution failures (a timeout, a string qty), both retried: 2 of 4 steps correct.
    assert score.labels == ["execution", "ok", "execution", "ok"]
    assert score.local == 0.5
    assert score.first_wrong == 0
    assert score.e2e == 1.0 and score.attribution is None

    trace.state = ShopState({"SKU1": 3}, None, "SKU1")  # wrong quantity: goal missed
    given = ["ok", "ok", "reasoning", "ok"]
    failed = score_trace(trace, judge, labels=given)
    assert (failed.local, failed.first_wrong, failed.e2e) == (0.75, 2, 0.0)
    assert failed.attribution == "reasoning"


def test_pass_hat_k_on_a_hand_made_case() -> None:
    # 5 runs, 3 successes: pass^1 = 3/5, pass^2 = C(3,2)/C(5,2) = 3/10, pass^4 = 0.
    assert pass_hat_k(5, 3, 1) == pytest.approx(0.6)
    assert pass_hat_k(5, 3, 2) == pytest.approx(0.3)
    assert pass_hat_k(5, 3, 4) == 0.0
    runs = {"a": [True] * 4, "b": [True, True, False, False]}
    # a: 1; b: C(2,2)/C(4,2) = 1/6.
    assert pass_k_over_tasks(runs, 2) == pytest.approx((1 + 1 / 6) / 2)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 4)


def test_failed_traces_are_attributed_like_the_ground_truth(split, judge) -> None:
    pairs = []
    for trace in split[1]:
        truth = score_trace(trace, judge, labels=trace.labels)
        if truth.e2e == 0.0:
            pairs.append((score_trace(trace, judge).attribution, truth.attribution))
    accuracy = np.mean([p == t for p, t in pairs])
    assert len(pairs) > 20 and accuracy >= 0.9
