"""The counting of the fault benchmark (bench/faults.py), on made-up records: a full run
starts PostgreSQL, Redis, gunicorn and a worker, and can only show zeros; these show the
counters are not blind."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _faults():  # type: ignore[no-untyped-def]
    from bench import _faults

    return _faults


def _count(**overrides):  # type: ignore[no-untyped-def]
    bench = _faults()
    records = {
        "submitted": [(100, 1, 10), (101, 2, 11)],
        "handed": {10: {1}, 11: {2}},
        "holders": {100: {1}, 101: {2}},
        "requests": [],
        "stored": {(100, 1, 10), (101, 2, 11)},
        "double_db": 0,
        "overlap": 1,
        "windows": [bench.Window("postgres", start=10.0, back=10.5)],
        "grace_s": 1.0,
        **overrides,
    }
    return bench.count_load(**records)


def test_a_clean_run_counts_nothing():
    counts = _count()
    assert counts["submits_ok"] == 2
    assert counts["lost"] == counts["double_assigned"] == counts["http_5xx_outside_outage"] == 0


def test_an_accepted_submit_missing_from_the_database_is_lost():
    assert _count(stored={(100, 1, 10)})["lost"] == 1


def test_an_item_or_an_assignment_handed_to_two_annotators_is_counted():
    assert _count(handed={10: {1, 2}, 11: {2}})["double_assigned"] == 1
    assert _count(holders={100: {1, 2}, 101: {2}})["double_assigned"] == 1
    assert _count(double_db=3)["double_assigned"] == 3  # what the database shows wins


def test_a_503_during_the_restart_is_allowed_and_any_other_5xx_is_not():
    requests = [
        (9.9, 10.2, "next", 503),  # in flight when the restart began
        (10.9, 11.2, "submit", 503),  # within the grace after the server was back
        (10.2, 10.3, "next", 500),  # a 500 is a bug even during the outage
        (13.0, 13.1, "next", 503),  # after the outage: the app did not recover
        (14.0, 14.1, "submit", 502),
        (15.0, 15.1, "next", 0),  # no answer at all
        (16.0, 16.1, "next", 200),
    ]
    counts = _count(requests=requests)
    assert counts["http_503_in_outage"] == 2
    assert counts["http_other_5xx_in_outage"] == 1
    assert counts["http_5xx_outside_outage"] == 2
    assert counts["no_answer_outside_outage"] == 1


def test_recovery_runs_until_the_first_success_after_the_last_failure():
    bench = _faults()
    window = bench.Window("postgres", start=10.0, back=10.3)
    requests = [
        (9.0, 9.1, "next", 200),
        (10.0, 10.35, "next", 503),
        (10.31, 10.4, "next", 200),  # one thread answers...
        (10.4, 10.8, "submit", 503),  # ...while another still fails
        (10.9, 11.25, "next", 200),
        (11.0, 11.1, "next", 200),
    ]
    assert bench.recovery_s(requests, window, until=30.0) == 1.1
    # A later fault's failures are not this one's.
    assert bench.recovery_s([*requests, (20.0, 20.1, "next", 503)], window, until=19.0) == 1.1
    assert bench.recovery_s([(10.0, 10.5, "next", 503)], window, until=30.0) is None


def test_the_live_model_is_intact_unless_the_killed_run_changed_it():
    bench = _faults()
    before = {"shape": (1, "aaa")}
    assert bench.live_intact(before, before, {1: "aaa"}, replaced_by=set())
    # The retried job succeeded and promoted its model: the job working, not a leak.
    assert bench.live_intact(before, {"shape": (2, "bbb")}, {1: "aaa"}, replaced_by={2})
    # A version nobody finished went live, the old files changed, or nothing is served.
    assert not bench.live_intact(before, {"shape": (2, "bbb")}, {1: "aaa"}, replaced_by=set())
    assert not bench.live_intact(before, before, {1: "changed"}, replaced_by=set())
    assert not bench.live_intact(before, {}, {1: "aaa"}, replaced_by=set())
