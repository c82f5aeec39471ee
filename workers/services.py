"""Writes to job rows: start or create (and enqueue after commit), dispatch, claim, finish,
reap.

``job_start`` is the one way a person starts a job (every page and the API): it checks the
parameters against the kind's dataclass before a row exists. ``job_create`` is the step
below it, for jobs the system starts itself (a retraining that queues scoring).

The job row is the outbox: a job is queued once its row is committed, whether or not the
broker took the message. ``jobs_dispatch_queued`` (run by beat) sends again the queued jobs
that no worker claimed in time (the broker was down, or lost its messages in a restart),
and ``job_claim`` makes a message delivered twice run the job once.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from jdreview.access import require_perm
from jdreview.activity import acting_job, activity_record
from jdreview.logs import current_request_id
from jdreview.models import Project
from jdreview.roles import PERM_MODELS
from workers.models import Job
from workers.params import ParamError
from workers.registry import all_kinds, get_kind
from workers.reporter import JobReporter, json_safe

logger = logging.getLogger(__name__)

# One quick retry covers a pooled connection that went stale when the broker restarted; a
# broker that is down fails the send within a second (the socket timeouts are set in
# jdreview/celery.py), and the request that created the job goes on.
SEND_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# What a failed send raises: kombu's OperationalError (refused, timed out), or a socket
# error a transport let through.
SEND_ERRORS: tuple[type[Exception], ...] = (KombuError, OSError)


def job_start(*, project: Project, kind: str, params: Mapping[str, Any], user: User) -> Job:
    """Start a job a person asked for: their role may run jobs (PermissionDenied), the kind
    exists and the parameters fit its dataclass (ParamError, a 400 naming the field). The
    row stores the parameters as given and checked; the job is enqueued after commit."""
    require_perm(user, PERM_MODELS)
    job_kind = all_kinds().get(kind)
    if job_kind is None:
        raise ParamError(f"unknown job kind {kind!r}")
    clean = job_kind.params_clean(params)
    with transaction.atomic():
        return job_create(kind=kind, params=clean, project=project, user=user)


def job_create(
    *,
    kind: str,
    params: dict[str, Any],
    project: Project | None = None,
    user: User | None = None,
) -> Job:
    """Create a queued job and enqueue it once the surrounding transaction commits."""
    job_kind = get_kind(kind)
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            params=params,
            project=project,
            queue=job_kind.queue,
            created_by=user if user is not None and user.is_authenticated else None,
            # The request (or the job) that made it: one id from a page action to its work.
            request_id=current_request_id(),
        )
        if project is not None:
            activity_record(
                project=project,
                action="job.start",
                actor=user,
                obj=job,
                detail={"kind": kind, "params": params},
            )
    transaction.on_commit(lambda: _enqueue(job.pk, job_kind.queue))
    return job


def _enqueue(job_id: int, queue: str) -> None:
    """Send a new job's message after its row committed. A broker that is down leaves the
    job queued for the dispatcher; it never fails the request that made the job."""
    error = _send(job_id, queue)
    if error is not None:
        logger.warning(
            "job %s stays queued: the broker did not take its message (%s); the dispatcher "
            "sends it again in about %s s",
            job_id,
            error,
            settings.JOB_REDISPATCH_AFTER_S,
        )


def _send(job_id: int, queue: str) -> Exception | None:
    """Hand a job's message to the broker; returns the error if it did not take it."""
    from workers.tasks import run_job

    try:
        run_job.apply_async(args=[job_id], queue=queue, retry_policy=SEND_RETRY_POLICY)
    except SEND_ERRORS as exc:
        return exc
    return None


def jobs_dispatch_queued(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send again the queued jobs whose last send is older than JOB_REDISPATCH_AFTER_S.

    Each job is marked before it is sent, with a conditional UPDATE: two dispatchers at
    once (an overlapping tick, a second beat by mistake) send a job once per interval, and
    a job claimed in the meantime is not sent at all. A job that waits behind a long one is
    sent again too: the extra copy costs a claim that finds nothing to do. Returns how
    many were sent.
    """
    now = now or timezone.now()
    due = now - timedelta(seconds=settings.JOB_REDISPATCH_AFTER_S)
    # Never re-sent: due when its creation is old enough (the send after commit failed,
    # or its message was lost with the broker's memory).
    is_due = Q(dispatched_at__lt=due) | Q(dispatched_at__isnull=True, created_at__lt=due)
    queued = Job.objects.filter(is_due, status=Job.Status.QUEUED)
    sent = 0
    for pk, queue, before in queued.order_by("created_at").values_list(
        "pk", "queue", "dispatched_at"
    )[:limit]:
        marked = queued.filter(pk=pk).update(dispatched_at=now)
        if not marked:
            continue  # claimed, or marked by another dispatcher, since the read
        error = _send(pk, queue)
        if error is not None:
            # The broker is down: the mark is undone so the next tick tries again, and the
            # rest of this round would only wait on the same broker.
            Job.objects.filter(pk=pk, dispatched_at=now).update(dispatched_at=before)
            logger.warning("dispatcher: the broker did not take job %s (%s)", pk, error)
            break
        sent += 1
    if sent:
        logger.info("dispatcher sent %s queued job(s) again", sent)
    return sent


def _this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_is_gone(job: Job, now: datetime) -> bool:
    """Is the process that last ran this job certainly dead?"""
    host, _, pid = job.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    limit = now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S)
    return job.heartbeat_at is None or job.heartbeat_at < limit


def job_claim(job_id: int) -> Job | None:
    """Move a job to running, once. Returns None when there is nothing to run.

    A queued job is claimed with a conditional UPDATE, so a message delivered twice runs
    the job once. A job found "running" whose worker is gone was redelivered by the broker
    after the worker died mid-way: it is retried while attempts remain, else failed.
    """
    now = timezone.now()
    me = _this_worker()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        worker=me,
    )
    job = Job.objects.filter(pk=job_id).first()
    if job is None or claimed:
        return job
    if job.status != Job.Status.RUNNING or not _worker_is_gone(job, now):
        return None  # finished, or still running in a live worker
    if job.attempts >= get_kind(job.kind).max_attempts:
        job_fail(job, f"the worker running this job ({job.worker}) died; no attempts left")
        return None
    log = (job.log_tail + "\n" if job.log_tail else "") + (
        f"[{now:%H:%M:%S}] worker {job.worker} died; retrying (attempt {job.attempts + 1})"
    )
    retried = Job.objects.filter(
        pk=job_id, status=Job.Status.RUNNING, attempts=job.attempts, worker=job.worker
    ).update(heartbeat_at=now, attempts=F("attempts") + 1, progress=0.0, worker=me, log_tail=log)
    if not retried:
        return None  # another worker took the retry
    job.refresh_from_db()
    return job


def job_run(job_id: int) -> Job | None:
    """Run a job in this process: claim it, call its kind's runner, record the outcome."""
    job = job_claim(job_id)
    if job is None:
        return None
    reporter = JobReporter(job)
    kind = get_kind(job.kind)
    try:
        params = kind.params_parse(job.params)
    except ParamError as exc:
        # Checked when the job was started; a row edited since, or a kind whose parameters
        # changed under a queued job, fails here rather than run with guesses.
        job_fail(job, f"the job's stored parameters do not fit {job.kind} any more: {exc}")
        return job
    try:
        with acting_job(job.pk):
            result = kind.runner(job, reporter, params) or {}
    except Exception as exc:  # the job row is the place errors are reported
        if isinstance(exc, OperationalError | InterfaceError) and not connection.in_atomic_block:
            # The database went away mid-job (a restart): Django does not reconnect inside
            # one task, so drop the broken connection to be able to record the failure.
            connection.close()
        reporter.log(f"failed: {exc}")
        reporter.flush()
        job_fail(job, f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())
        return job
    reporter.flush()
    job_succeed(job, result)
    return job


def job_succeed(job: Job, metrics: dict[str, Any]) -> None:
    job.metrics = {**job.metrics, **json_safe(metrics)}
    job.status = Job.Status.SUCCEEDED
    job.progress = 1.0
    job.finished_at = timezone.now()
    with transaction.atomic():
        done = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=job.status,
            progress=1.0,
            metrics=job.metrics,
            finished_at=job.finished_at,
            artifacts=job.artifacts,
        )
        if done:
            _record_outcome(job, "job.succeed")


def job_fail(job: Job, error: str, *, trace: str = "") -> None:
    job.status = Job.Status.FAILED
    job.error = error + (f"\n\n{trace}" if trace else "")
    job.finished_at = timezone.now()
    with transaction.atomic():
        done = (
            Job.objects.filter(pk=job.pk)
            .exclude(status=Job.Status.SUCCEEDED)
            .update(status=job.status, error=job.error, finished_at=job.finished_at)
        )
        if done:
            _record_outcome(job, "job.fail", error=error)


def _record_outcome(job: Job, action: str, *, error: str = "") -> None:
    if job.project_id is None:
        return
    detail: dict[str, Any] = {"kind": job.kind}
    if job.started_at is not None and job.finished_at is not None:
        detail["duration_s"] = round((job.finished_at - job.started_at).total_seconds(), 3)
    if error:
        detail["error"] = error[:500]
    activity_record(
        project=job.project_id,
        action=action,
        obj=job,
        after={"status": job.status},
        detail=detail,
        job_id=job.pk,
    )


def jobs_reap_stale(*, now: Any = None) -> int:
    """Fail running jobs whose worker stopped reporting. Returns how many were failed."""
    now = now or timezone.now()
    limit = now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S)
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=limit)
    error = (
        f"no heartbeat for {settings.JOB_HEARTBEAT_TIMEOUT_S} s: the worker running this "
        "job stopped (killed, out of memory, or the machine went away)"
    )
    with transaction.atomic():
        # Locked, so the rows failed are the rows logged (a job finishing meanwhile waits).
        reaped = list(stale.select_for_update())
        failed = stale.filter(pk__in=[j.pk for j in reaped]).update(
            status=Job.Status.FAILED, finished_at=now, error=error
        )
        for job in reaped:
            job.status, job.finished_at = Job.Status.FAILED, now
            _record_outcome(job, "job.fail", error=error)
    return failed
