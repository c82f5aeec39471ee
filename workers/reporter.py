"""Progress reporting from inside a running job to its row, and the one adapter from an ML
function's Progress callback to it (:meth:`Reporter.stage`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db.models import F
from django.utils import timezone

from jdreview.logs import job_step
from workers.ml.runtime import Progress, sub_range
from workers.models import Job

LOG_TAIL_CHARS = 6000
T = TypeVar("T")


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they become None (an AUC on one class, say)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class Reporter:
    """Where long work reports: ``progress`` moves the bar (with metrics and a log line, when
    given), ``log`` writes a line, and ``stage`` hands an ML function the Progress for its
    part of the bar. A job's is :class:`JobReporter`; work run outside a job (a demo seed)
    reports to a :class:`LogReporter`."""

    def progress(
        self, fraction: float, *, metrics: dict[str, Any] | None = None, log: str | None = None
    ) -> None:
        raise NotImplementedError

    def log(self, line: str) -> None:
        raise NotImplementedError

    def stage(
        self,
        start: float = 0.0,
        end: float = 1.0,
        *,
        log: Callable[[float, T], str | None] | None = None,
        log_every: int = 1,
        metrics: Callable[[float, T], dict[str, Any] | None] | None = None,
    ) -> Progress[T]:
        """The Progress of one stage of the work: its 0..1 fills ``start``..``end`` of the bar.

        ``log`` and ``metrics`` are called as the Progress is, with the stage's own fraction
        and what the step reported (a loss, a metrics dict, a message). Every ``log_every``-th
        report writes ``log``'s line; every report merges ``metrics``' dict into the job's
        metrics. Without ``log``, a report that is a string is the line (the messages of
        Django-side work such as seeding or scoring).
        """
        every = max(1, log_every)
        reports = 0

        def write(fraction: float, entry: tuple[dict[str, Any] | None, str | None], /) -> None:
            self.progress(fraction, metrics=entry[0], log=entry[1])

        bar = sub_range(write, start, end)

        def report(fraction: float, detail: T, /) -> None:
            nonlocal reports
            reports += 1
            line = None
            if reports % every == 0:
                if log is not None:
                    line = log(fraction, detail)
                elif isinstance(detail, str):
                    line = detail
            bar(fraction, (metrics(fraction, detail) if metrics else None, line or None))

        return report


class LogReporter(Reporter):
    """A Reporter for work run outside a job (a demo seed): lines go to ``write``, progress
    lines at most one every ``min_interval_s``; metrics are not kept."""

    def __init__(self, write: Callable[[str], None], *, min_interval_s: float = 0.0) -> None:
        self._write = write
        self.min_interval_s = min_interval_s
        self._last: float | None = None

    def progress(
        self, fraction: float, *, metrics: dict[str, Any] | None = None, log: str | None = None
    ) -> None:
        now = time.monotonic()
        if log and (self._last is None or now - self._last >= self.min_interval_s):
            self._last = now
            self._write(f"  {fraction:4.0%} {log}")

    def log(self, line: str) -> None:
        self._write(f"  {line}")


class JobReporter(Reporter):
    """Writes progress, metrics and log lines to the job row, at most a few times a second.

    Every write is also a heartbeat: a job whose heartbeat goes stale is declared dead by
    ``workers.services.jobs_reap_stale``.
    """

    def __init__(self, job: Job, *, min_interval_s: float = 0.5) -> None:
        self.job = job
        self.min_interval_s = min_interval_s
        self._last_write = 0.0
        self._pending_log: list[str] = []

    def log(self, line: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        self._pending_log.append(f"[{stamp}] {line}")
        self._flush(force=False)

    def progress(
        self, fraction: float, *, metrics: dict[str, Any] | None = None, log: str | None = None
    ) -> None:
        self.job.progress = max(0.0, min(1.0, float(fraction)))
        if metrics:
            self.job.metrics = {**self.job.metrics, **json_safe(metrics)}
        if log:
            self.log(log)
        self._flush(force=False)

    def flush(self) -> None:
        self._flush(force=True)

    def _flush(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval_s:
            return
        self._last_write = now
        if self._pending_log:
            tail = (
                self.job.log_tail
                + ("\n" if self.job.log_tail else "")
                + "\n".join(self._pending_log)
            )
            self.job.log_tail = tail[-LOG_TAIL_CHARS:]
            self._pending_log.clear()
        self.job.heartbeat_at = timezone.now()
        # Only while still running: a reaped job stays failed even if its worker wakes up.
        Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING).update(
            progress=self.job.progress,
            metrics=self.job.metrics,
            log_tail=self.job.log_tail,
            heartbeat_at=self.job.heartbeat_at,
        )
        job_step(self.job)


def bump_attempts(job_id: int) -> None:
    Job.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)


def steps_run(
    project: Any,
    steps: Iterable[tuple[str, float, Callable[..., None]]],
    *,
    log: Callable[[str], None],
    seed: int = 0,
    min_interval_s: float = 0.0,
) -> None:
    """A loop's demo ``STEPS`` run in this process, in order, their progress lines going to
    ``log`` (``manage.py seed_demo`` without a job, and the tests); the seed job runs the
    same steps with its own reporter (jdreview.demo_jobs)."""
    reporter = LogReporter(log, min_interval_s=min_interval_s)
    for _title, _share, step in steps:
        step(project, log=log, reporter=reporter, seed=seed)
