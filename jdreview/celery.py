"""The Celery app. Queues: ``gpu`` (training, RL, generation) and ``cpu`` (scoring, light work)."""

from __future__ import annotations

import functools
import os
from typing import Any

from celery import Celery
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jdreview.settings")

# How often beat runs the dispatcher, which sends again the jobs no worker claimed in time.
DISPATCH_EVERY_S = 10.0
# A worker that lost the broker tries again at least this often.
RECONNECT_EVERY_S = 2.0


class Consumer(CeleryConsumer):
    """Celery's consumer with a short reconnect backoff: its own grows by 2 s a try up to
    30 s, so after a broker outage of half a minute a worker idled up to 30 s more before
    it noticed the broker was back."""

    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection,
            interval_start=RECONNECT_EVERY_S / 2,
            interval_step=RECONNECT_EVERY_S / 2,
            interval_max=RECONNECT_EVERY_S,
        )
        return super().ensure_connected(conn)


app = Celery("jdreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("cpu"), Queue("gpu"))
app.conf.worker_consumer = "jdreview.celery:Consumer"
# A broker blip must not cancel a training run (Celery 6 will cancel running acks_late
# tasks by default): the job row, not the message, says whether a job ran, and a message
# redelivered after the run is claimed by no one.
app.conf.worker_cancel_long_running_tasks_on_connection_loss = False
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "reap-stale-jobs": {"task": "workers.tasks.reap_stale_jobs", "schedule": 60.0},
    "dispatch-queued-jobs": {
        "task": "workers.tasks.dispatch_queued_jobs",
        "schedule": DISPATCH_EVERY_S,
        # Ticks that waited behind a long job are dropped: the next one does the same work.
        "options": {"expires": DISPATCH_EVERY_S},
    },
    "retrain-when-labels-arrive": {
        "task": "rewards.tasks.retrain_due_projects",
        "schedule": 60.0,
    },
}
