"""How the fault benchmark judges /readyz during an outage (bench/_faults.py), on made-up
answers: a run can only show that it tracked; these show the judging is not blind."""

from __future__ import annotations

from bench._faults import Window, readyz_failing_outside, readyz_tracks

WINDOW = Window("redis", start=10.0, back=25.0)


def test_an_outage_named_at_once_and_cleared_at_once_is_tracked():
    samples = [
        (9.0, 9.1, 200, ()),
        (10.2, 10.3, 503, ("broker",)),
        (24.9, 25.4, 503, ("broker",)),  # asked just before the return
        (25.6, 25.7, 200, ()),
    ]
    turned, back = readyz_tracks(samples, WINDOW, "broker", until=60.0)
    assert (round(turned, 3), round(back, 3)) == (0.3, 0.7)  # type: ignore[arg-type]


def test_a_503_for_another_check_or_no_200_after_the_return_is_not_tracking():
    wrong_check = [(11.0, 11.1, 503, ("database",)), (26.0, 26.1, 200, ())]
    assert readyz_tracks(wrong_check, WINDOW, "broker", until=60.0)[0] is None
    stuck = [(11.0, 11.1, 503, ("broker",)), (26.0, 26.1, 503, ("broker",))]
    assert readyz_tracks(stuck, WINDOW, "broker", until=60.0)[1] is None
    # A 200 after the next fault began is not this recovery's.
    late = [(11.0, 11.1, 503, ("broker",)), (61.0, 61.1, 200, ())]
    assert readyz_tracks(late, WINDOW, "broker", until=60.0)[1] is None


def test_failing_answers_outside_the_outages_are_counted():
    samples = [(5.0, 5.1, 503, ("models",)), (12.0, 12.1, 503, ("broker",)), (50.0, 50.1, 0, ())]
    assert readyz_failing_outside(samples, [WINDOW]) == 2
