"""Celery tasks: thin adapters that take an id and call a service."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from jdreview.logs import log_context
from workers import heartbeats, services
from workers.models import Job

jobs_log = logging.getLogger("jdreview.jobs")


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> None:
    # Every line the job logs carries its id, kind and the request that started it.
    row = Job.objects.filter(pk=job_id).values_list("kind", "request_id").first()
    kind, request_id = row or ("", "")
    with log_context(request_id=request_id, job_id=job_id, job_kind=kind):
        started = time.perf_counter()
        jobs_log.info("job %s %s: received", job_id, kind, extra={"event": "received"})
        job = services.job_run(job_id)
        status = job.status if job is not None else "not run (claimed or finished already)"
        jobs_log.info(
            "job %s %s: %s in %.1f s",
            job_id,
            kind,
            status,
            time.perf_counter() - started,
            extra={
                "event": "finished",
                "status": job.status if job is not None else None,
                "duration_ms": round((time.perf_counter() - started) * 1000),
            },
        )


@shared_task(ignore_result=True)
def reap_stale_jobs() -> int:
    return services.jobs_reap_stale()


@shared_task(ignore_result=True)
def dispatch_queued_jobs() -> int:
    return services.jobs_dispatch_queued()


@shared_task(ignore_result=True)
def heartbeat(queue: str) -> None:
    """Sent by beat to each queue: the worker that runs it serves that queue (/readyz)."""
    heartbeats.heartbeat_record(heartbeats.queue_heartbeat(queue))
