"""The Celery app. Queues: ``gpu`` (training, RL, generation) and ``cpu`` (scoring, light work)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jdreview.settings")

app = Celery("jdreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("cpu"), Queue("gpu"))
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "reap-stale-jobs": {"task": "workers.tasks.reap_stale_jobs", "schedule": 60.0},
    "retrain-when-labels-arrive": {
        "task": "rewards.tasks.retrain_due_projects",
        "schedule": 60.0,
    },
}
