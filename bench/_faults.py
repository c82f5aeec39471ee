"""The counting of the fault benchmark, from what the load client recorded and what the
database stored. Nothing here starts a service, so the counts can be tested on made-up
records (tests/test_bench_faults.py).

A request is placed against the outage windows by its whole span: one that was in flight
at any moment between a fault and ``grace_s`` after the service was back is "in" the
outage, where a 503 is the promised answer. Any 5xx elsewhere, and any other 5xx anywhere,
is a failure of the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.annotation_loop import count_lost, count_over_overlap

# (start, end) on time.perf_counter, "next" / "submit" / "error", HTTP status (0: no answer)
Request = tuple[float, float, str, int]
# A /readyz answer: (sent, answered) on time.perf_counter, HTTP status, the checks it named
Readyz = tuple[float, float, int, tuple[str, ...]]


@dataclass(frozen=True)
class Window:
    name: str
    start: float  # the fault began (perf_counter)
    back: float  # the service answered again

    def holds(self, t0: float, t1: float, grace_s: float) -> bool:
        return t0 <= self.back + grace_s and t1 >= self.start


def failed(status: int) -> bool:
    return status == 0 or status >= 500


def count_shared_assignments(holders: dict[int, set[int]]) -> int:
    """Assignments the client saw handed to more than one annotator."""
    return sum(1 for users in holders.values() if len(users) > 1)


def classify(requests: Iterable[Request], windows: list[Window], grace_s: float) -> dict:
    counts = {
        "http_5xx_outside_outage": 0,
        "http_503_in_outage": 0,
        "http_other_5xx_in_outage": 0,
        "no_answer_outside_outage": 0,
        "no_answer_in_outage": 0,
    }
    for t0, t1, _, status in requests:
        if not failed(status):
            continue
        inside = any(w.holds(t0, t1, grace_s) for w in windows)
        if status == 0:
            counts["no_answer_in_outage" if inside else "no_answer_outside_outage"] += 1
        elif not inside:
            counts["http_5xx_outside_outage"] += 1
        elif status == 503:
            counts["http_503_in_outage"] += 1
        else:
            counts["http_other_5xx_in_outage"] += 1
    return counts


def recovery_s(requests: list[Request], window: Window, until: float) -> float | None:
    """Seconds from the fault to the end of the first successful request that began once the
    service was back and after the last failed request before ``until`` (the next fault, or
    the end of the load); None if none did.

    The last failure bounds it, not the first success: with several server threads one may
    answer while another still fails on a connection that the restart broke."""
    last_failure = max(
        (t1 for t0, t1, _, s in requests if failed(s) and window.start <= t1 <= until),
        default=window.back,
    )
    since = max(window.back, last_failure)
    ends = [t1 for t0, t1, _, s in requests if not failed(s) and t0 >= since and t1 <= until]
    return round(min(ends) - window.start, 2) if ends else None


def count_load(
    *,
    submitted: list[tuple[int, int, int]],
    handed: dict[int, set[int]],
    holders: dict[int, set[int]],
    requests: list[Request],
    stored: set[tuple[int, int, int]],
    double_db: int,
    overlap: int,
    windows: list[Window],
    grace_s: float,
) -> dict:
    """The load's counts: ``stored`` holds (assignment, user, item) of the live annotations
    at the end, ``double_db`` what the database itself shows handed out twice."""
    double_client = count_over_overlap(handed, overlap) + count_shared_assignments(holders)
    return {
        "submits_ok": len(submitted),
        "lost": count_lost(submitted, stored),
        "double_assigned": max(double_client, double_db),
        **classify(requests, windows, grace_s),
    }


def live_intact(
    before: dict[str, tuple[int, str]],
    after: dict[str, tuple[int, str]],
    before_again: dict[int, str],
    replaced_by: set[int],
) -> bool:
    """Was the live model left alone by the killed training?

    ``before`` / ``after``: aspect -> (live version id, hash of its artifact files);
    ``before_again``: the hash of each formerly live artifact, read at the end;
    ``replaced_by``: versions that the job registered after it finished (a retry that
    succeeded may promote its model: that is the job working, not the kill leaking).
    """
    files_kept = all(before_again.get(pk) == digest for pk, digest in before.values())
    still_served = set(before) <= set(after)
    each_ok = all(
        after[aspect] == before.get(aspect) or after[aspect][0] in replaced_by for aspect in after
    )
    return files_kept and still_served and each_ok


def readyz_tracks(
    samples: Iterable[Readyz], window: Window, check: str, until: float
) -> tuple[float | None, float | None]:
    """Seconds from the fault to the first /readyz answer of 503 naming ``check``, and from
    the service's return to the first 200 after it (before ``until``); None: never."""
    samples = list(samples)
    named = [
        t1
        for t0, t1, status, failing in samples
        if status == 503 and check in failing and t1 >= window.start and t0 <= window.back
    ]
    ready = [t1 for t0, t1, status, _ in samples if status == 200 and window.back <= t0 < until]
    turned = max(0.0, min(named) - window.start) if named else None
    back = min(ready) - window.back if ready else None
    return turned, back


def readyz_failing_outside(samples: Iterable[Readyz], windows: Iterable[Window]) -> int:
    """Answers other than 200 while no fault was on (a check timing out under load)."""
    windows = list(windows)
    return sum(
        1
        for t0, t1, status, _ in samples
        if status != 200 and not any(w.holds(t0, t1, grace_s=10.0) for w in windows)
    )
