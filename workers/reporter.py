"""Progress reporting from inside a running job to its row."""

from __future__ import annotations

import math
import time
from typing import Any

from django.db.models import F
from django.utils import timezone

from workers.models import Job

LOG_TAIL_CHARS = 6000


def json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they become None (an AUC on one class, say)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class JobReporter:
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


def bump_attempts(job_id: int) -> None:
    Job.objects.filter(pk=job_id).update(attempts=F("attempts") + 1)
