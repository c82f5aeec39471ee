"""The job row is the outbox: a job made while the broker is down stays queued, and the
dispatcher sends it once the broker is back, once per interval, never a claimed one."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from jdreview.celery import app
from tests.worker import celery_worker, wait_for
from workers import services
from workers.models import Job


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _use_broker(url: str) -> None:
    # The app caches its connection and producer pools: drop them so the next send
    # connects to ``url``.
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():  # type: ignore[no-untyped-def]
    """Point the app at a port where nothing listens, as when Redis is stopped."""
    before = app.conf.broker_url
    _use_broker(f"redis://127.0.0.1:{_closed_port()}/0")
    yield
    _use_broker(before)


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    """Record the messages the app hands to the broker instead of sending them."""
    messages: list[tuple[int, str]] = []

    def apply_async(args, queue, **kwargs):  # type: ignore[no-untyped-def]
        messages.append((args[0], queue))

    monkeypatch.setattr("workers.tasks.run_job.apply_async", apply_async)
    return messages


def _queued_job(project) -> Job:  # type: ignore[no-untyped-def]
    return services.job_create(kind="worker_check", params={"seconds": 1}, project=project)


def _later(seconds: float):  # type: ignore[no-untyped-def]
    return timezone.now() + timedelta(seconds=seconds)


@pytest.mark.django_db
def test_a_job_made_while_the_broker_is_down_stays_queued(
    broker_down, project, manager, api, django_capture_on_commit_callbacks, caplog
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api(manager).post(
            reverse("api-jobs", args=[project.pk]),
            {"kind": "worker_check", "params": {"seconds": 1}},
            format="json",
        )
    assert time.monotonic() - started < 5  # the request did not wait on the broker
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    assert "Connection refused" in caplog.text and "stays queued" in caplog.text
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.QUEUED and job.dispatched_at is None


@pytest.mark.django_db
def test_the_dispatcher_sends_a_stale_queued_job_once_per_interval(project, sent, settings):
    settings.JOB_REDISPATCH_AFTER_S = 30
    job = _queued_job(project)  # its send after commit never ran (no commit in this test)
    assert services.jobs_dispatch_queued() == 0  # just made: its first send may be on its way
    assert services.jobs_dispatch_queued(now=_later(31)) == 1
    assert sent == [(job.pk, "cpu")]
    assert services.jobs_dispatch_queued(now=_later(31)) == 0
    assert services.jobs_dispatch_queued(now=_later(50)) == 0  # within the interval
    assert services.jobs_dispatch_queued(now=_later(62)) == 1
    assert sent == [(job.pk, "cpu")] * 2


@pytest.mark.django_db
def test_a_job_claimed_meanwhile_is_not_sent_again(project, sent):
    job = _queued_job(project)
    assert services.job_claim(job.pk) is not None
    assert services.jobs_dispatch_queued(now=_later(3600)) == 0
    finished = _queued_job(project)
    services.job_run(finished.pk)
    assert Job.objects.get(pk=finished.pk).status == Job.Status.SUCCEEDED
    assert services.jobs_dispatch_queued(now=_later(3600)) == 0
    assert sent == []


@pytest.mark.django_db
def test_a_tick_while_the_broker_is_still_down_is_tried_again_at_the_next(project, monkeypatch):
    first = _queued_job(project)
    _queued_job(project)
    tries: list[int] = []

    def refused(args, queue, **kwargs):  # type: ignore[no-untyped-def]
        tries.append(args[0])
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("workers.tasks.run_job.apply_async", refused)
    assert services.jobs_dispatch_queued(now=_later(3600)) == 0
    assert tries == [first.pk]  # one refusal ends the round: the rest would wait the same
    assert Job.objects.get(pk=first.pk).dispatched_at is None
    monkeypatch.setattr("workers.tasks.run_job.apply_async", lambda args, queue, **kw: None)
    assert services.jobs_dispatch_queued(now=_later(3601)) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.backend
def test_a_job_made_while_the_broker_was_down_runs_when_it_is_back(project, manager, settings):
    before = app.conf.broker_url
    _use_broker(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        with transaction.atomic():
            job = services.job_create(
                kind="worker_check", params={"seconds": 1}, project=project, user=manager
            )
    finally:
        _use_broker(before)
    later = _later(settings.JOB_REDISPATCH_AFTER_S + 1)
    assert services.jobs_dispatch_queued(now=later) == 1
    with celery_worker():
        done = wait_for(lambda: (j := Job.objects.get(pk=job.pk)).is_finished and j, timeout=90)
    assert done.status == Job.Status.SUCCEEDED, done.error
    assert done.attempts == 1
