"""Periodic checks, run by Celery beat (``celery worker -B`` in the embedded set-up)."""

from __future__ import annotations

from celery import shared_task

from jdreview.models import Project
from rewards.training import retrain_if_due


@shared_task(ignore_result=True)
def retrain_due_projects() -> int:
    return sum(retrain_if_due(p) for p in Project.objects.all())
