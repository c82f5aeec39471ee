"""A database or broker that is briefly away answers 503 with Retry-After, never 500, and
a job whose database went away mid-way ends failed, not "running"."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError

from jdreview.outage import OutageMiddleware
from workers import registry, services
from workers.models import Job


def _answer(path: str, exc: Exception) -> HttpResponse | None:
    middleware = OutageMiddleware(lambda request: HttpResponse())
    return middleware.process_exception(RequestFactory().get(path), exc)


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
        BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        RedisConnectionError("Connection refused"),
    ],
)
def test_an_api_request_during_an_outage_is_told_to_retry(exc):
    response = _answer("/api/projects/1/next/", exc)
    assert response is not None and response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "retry" in json.loads(response.content)["detail"].lower()


def test_a_page_during_an_outage_is_a_short_page_that_says_to_try_again():
    response = _answer("/p/1/label/", OperationalError("could not connect to server"))
    assert response is not None and response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"].startswith("text/html")
    assert b"Try again" in response.content


def test_other_errors_are_left_to_the_500_handler():
    assert _answer("/api/projects/", ValueError("a bug")) is None
    assert _answer("/p/1/label/", KeyError("a bug")) is None


@pytest.mark.django_db
def test_the_queue_answers_503_while_the_database_restarts(
    project, annotator, api, client, monkeypatch, caplog
):
    # Through the whole stack: the middleware is installed and DRF lets the error reach it.
    def restarting(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr("labeling.services.task_next", restarting)
    response = api(annotator).get(reverse("api-next", args=[project.pk]))
    assert response.status_code == 503 and response["Retry-After"]
    assert "detail" in response.json()
    client.force_login(annotator)
    page = client.get(reverse("labeling:label", args=[project.pk]))
    assert page.status_code == 503 and b"Try again" in page.content
    # One warning with the cause each, and nothing in the error log that pages people.
    assert [r.levelno for r in caplog.records if "503" in r.getMessage()] == [logging.WARNING] * 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_database_connection_broke_ends_failed(project, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("a server that restarts under the app is PostgreSQL's case, not SQLite's")

    def restart_mid_job(job, reporter, params):  # type: ignore[no-untyped-def]
        connection.connection.close()  # as a fast restart cuts every session
        reporter.flush()  # the next write of the job finds the connection gone

    kind = registry.get_kind("worker_check")
    monkeypatch.setitem(
        registry._KINDS,
        "worker_check",
        registry.JobKind(**{**vars(kind), "runner": restart_mid_job}),
    )
    job = services.job_create(kind="worker_check", params={"seconds": 1}, project=project)
    services.job_run(job.pk)
    failed = Job.objects.get(pk=job.pk)
    assert failed.status == Job.Status.FAILED
    assert "InterfaceError" in failed.error or "OperationalError" in failed.error
