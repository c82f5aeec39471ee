"""Killing the worker in the middle of a retraining leaves the live models untouched and
the job ends failed (or retried), never "running" forever."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from labeling.world_seed import simulate_labels, world_seed
from rewards.registry import live_versions
from rewards.training import train_aspects
from tests.worker import celery_worker, wait_for
from workers import services
from workers.models import Job, ModelVersion

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.backend]


def test_killed_training_leaves_the_live_model(project, groups, settings, tmp_path):
    settings.ARTIFACT_ROOT = str(tmp_path / "artifacts")
    os.environ["JDREVIEW_ARTIFACT_ROOT"] = settings.ARTIFACT_ROOT  # for the worker process
    world_seed(project=project, images=80, seed=5, gold_share=0.0)
    simulate_labels(project=project, reviewers=2, labels=80, seed=5)
    train_aspects(project=project, aspects=["shape"], epochs=1)
    before = live_versions(project)["shape"]
    with transaction.atomic():
        job = services.job_create(
            kind="train_rewards", params={"aspects": ["shape"], "epochs": 60}, project=project
        )
    try:
        with celery_worker() as worker:
            wait_for(lambda: Job.objects.get(pk=job.pk).progress > 0.0, timeout=180)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    finally:
        os.environ.pop("JDREVIEW_ARTIFACT_ROOT", None)
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    later = timezone.now() + timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S + 1)
    services.jobs_reap_stale(now=later)
    assert Job.objects.get(pk=job.pk).status == Job.Status.FAILED
    assert live_versions(project)["shape"].pk == before.pk
    assert not ModelVersion.objects.filter(project=project, slot="shape", version=2).exists()
