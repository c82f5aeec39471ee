"""The Celery app. Queues: ``gpu`` (training, RL, generation) and ``cpu`` (scoring, light work)."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from celery import Celery, signals
from celery.beat import PersistentScheduler
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jdreview.settings")

# How often beat runs the dispatcher, which sends again the jobs no worker claimed in time.
DISPATCH_EVERY_S = 10.0
# A worker that lost the broker tries again at least this often.
RECONNECT_EVERY_S = 2.0
# How often beat sends each queue its heartbeat task (/readyz: a worker serves the queue).
HEARTBEAT_EVERY_S = 10.0


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


class Scheduler(PersistentScheduler):
    """Beat's scheduler, recording that it ran (/readyz's beat check), at most every few
    seconds however many entries fall due."""

    mark_every_s = 5.0
    _marked = 0.0

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        super().apply_entry(entry, producer=producer)
        now = time.monotonic()
        if now - self._marked >= self.mark_every_s:
            from workers.heartbeats import beat_mark

            beat_mark()
            self._marked = now


if os.environ.get("LOG_FORMAT", "").strip() == "json":
    # Celery replaces the root logger's handlers with its own text format unless something
    # sets logging up instead: here Django's LOGGING (one JSON object a line) stays.
    @signals.setup_logging.connect
    def _keep_django_logging(**kwargs: Any) -> None:
        import logging.config

        from django.conf import settings

        logging.config.dictConfig(settings.LOGGING)


app = Celery("jdreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("cpu"), Queue("gpu"))
app.conf.worker_consumer = "jdreview.celery:Consumer"
app.conf.beat_scheduler = "jdreview.celery:Scheduler"
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
    # One per queue; a tick that waited behind a long job is dropped (a running job's own
    # heartbeat shows the queue is served meanwhile).
    **{
        f"heartbeat-{queue}": {
            "task": "workers.tasks.heartbeat",
            "schedule": HEARTBEAT_EVERY_S,
            "args": (queue,),
            "options": {"queue": queue, "expires": HEARTBEAT_EVERY_S},
        }
        for queue in ("cpu", "gpu")
    },
}


@signals.worker_init.connect
def _metrics_worker_init(**kwargs: Any) -> None:
    """Before the pool starts: the pool processes' task durations go to the folder that
    /metrics reads (jdreview/metrics.py)."""
    from jdreview import metrics

    metrics.worker_init()
