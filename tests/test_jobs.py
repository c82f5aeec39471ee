"""Jobs as rows, run by a real Celery worker process: progress, results, and what happens
when the worker dies mid-job."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeling.models import Item
from tests.worker import celery_worker, wait_for
from workers import services
from workers.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.backend]


def job_state(job_id: int) -> Job:
    return Job.objects.get(pk=job_id)


def start(kind: str, params: dict, project, user=None) -> Job:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        return services.job_create(kind=kind, params=params, project=project, user=user)


def test_seed_job_runs_in_a_worker_and_reports_progress(project, manager):
    job = start("seed_world", {"images": 12, "seed": 3}, project, manager)
    assert job_state(job.pk).status == Job.Status.QUEUED
    with celery_worker():
        done = wait_for(lambda: job_state(job.pk).is_finished and job_state(job.pk), timeout=120)
    assert done.status == Job.Status.SUCCEEDED, done.error
    assert done.progress == 1.0 and done.metrics["created"] == 12
    assert "12/12 images" in done.log_tail
    assert Item.objects.filter(project=project, source="world").count() == 12
    # The job page shows the finished bar without polling any more.
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("workers:progress", args=[job.pk])).content.decode()
    assert "Succeeded" in page and "hx-trigger" not in page


def test_a_failing_job_ends_failed_with_its_error(project, manager):
    job = start("export", {"format": "jsonl"}, project, manager)
    Job.objects.filter(pk=job.pk).update(params={"format": "yaml"})  # as if corrupted
    services.job_run(job.pk)
    failed = job_state(job.pk)
    assert failed.status == Job.Status.FAILED
    assert "stored parameters" in failed.error and "format must be one of" in failed.error


def test_killed_worker_process_is_retried(project, manager):
    job = start("worker_check", {"seconds": 6}, project, manager)
    with celery_worker():
        running = wait_for(lambda: (j := job_state(job.pk)).progress > 0.1 and j, timeout=90)
        pid = int(running.worker.rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)  # the pool process dies mid-job
        done = wait_for(lambda: job_state(job.pk).is_finished and job_state(job.pk), timeout=90)
    assert done.status == Job.Status.SUCCEEDED, done.error
    assert done.attempts == 2
    assert "died; retrying" in done.log_tail


def test_job_of_a_dead_worker_is_not_left_running(project, manager, settings):
    job = start("worker_check", {"seconds": 30}, project, manager)
    with celery_worker() as worker:
        wait_for(lambda: job_state(job.pk).progress > 0.05, timeout=90)
        os.killpg(worker.pid, signal.SIGKILL)  # the whole worker and its pool go away
        worker.wait()
    assert job_state(job.pk).status == Job.Status.RUNNING
    later = timezone.now() + timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S + 1)
    assert services.jobs_reap_stale(now=later) == 1
    failed = job_state(job.pk)
    assert failed.status == Job.Status.FAILED and "no heartbeat" in failed.error
