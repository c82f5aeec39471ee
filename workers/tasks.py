"""Celery tasks: thin adapters that take an id and call a service."""

from __future__ import annotations

from celery import shared_task

from workers import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> None:
    services.job_run(job_id)


@shared_task(ignore_result=True)
def reap_stale_jobs() -> int:
    return services.jobs_reap_stale()


@shared_task(ignore_result=True)
def dispatch_queued_jobs() -> int:
    return services.jobs_dispatch_queued()
