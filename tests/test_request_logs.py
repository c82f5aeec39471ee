"""Request logs an operator can search: an id per request in the response and in the log
line (user, project, view, status, duration), carried into the jobs the request starts and
their step lines; JSON lines with LOG_FORMAT=json, readable text by default."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from jdreview.logs import ContextFilter, JsonFormatter, log_context
from tests.conftest import api_client_for
from workers import tasks
from workers.models import Job
from workers.services import job_create

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def logs(caplog):  # type: ignore[no-untyped-def]
    """The request and job lines, with the context the console handler adds."""
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO, logger="jdreview.requests")
    caplog.set_level(logging.INFO, logger="jdreview.jobs")
    return caplog


def lines(caplog, logger: str) -> list[dict]:  # type: ignore[no-untyped-def]
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == logger]


def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(annotator):
    made = Client().get(reverse("login"))
    assert len(made["X-Request-ID"]) == 32
    assert Client().get(reverse("login"))["X-Request-ID"] != made["X-Request-ID"]
    kept = Client().get(reverse("login"), HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    assert kept["X-Request-ID"] == "lb-7f3a9c21-0001"
    for insane in ("short", "x" * 65, "two words here", "id\nINFO forged line"):
        response = Client().get(reverse("login"), HTTP_X_REQUEST_ID=insane)
        assert response["X-Request-ID"] != insane and len(response["X-Request-ID"]) == 32


def test_one_line_per_request_with_who_where_what_and_how_long(logs, annotator, project):
    client = Client()
    client.force_login(annotator)
    response = client.get(reverse("project", args=[project.pk]), HTTP_X_REQUEST_ID="req-page-0001")
    assert response.status_code == 200
    (line,) = lines(logs, "jdreview.requests")
    assert line["request_id"] == "req-page-0001"
    assert line["user_id"] == annotator.pk
    assert line["project_id"] == project.pk
    assert line["view"] == "project"
    assert line["status"] == 200
    assert line["method"] == "GET" and line["path"] == f"/p/{project.pk}/"
    assert isinstance(line["duration_ms"], float)


def test_an_api_call_logs_its_token_user_and_an_anonymous_one_none(logs, annotator, project):
    api_client_for(annotator).get(f"/api/projects/{project.pk}/next/")
    Client().get(f"/api/projects/{project.pk}/next/")
    token_line, anonymous_line = lines(logs, "jdreview.requests")
    assert token_line["user_id"] == annotator.pk and token_line["project_id"] == project.pk
    assert anonymous_line["user_id"] is None and anonymous_line["status"] in (401, 403)


def test_the_request_id_travels_into_the_job_and_its_step_lines(
    logs, manager, project, no_enqueue, monkeypatch
):
    monkeypatch.setattr("workers.jobs.time.sleep", lambda s: None)
    response = api_client_for(manager).post(
        f"/api/projects/{project.pk}/jobs/",
        {"kind": "worker_check", "params": {"seconds": 2}},
        format="json",
        HTTP_X_REQUEST_ID="req-job-0001",
    )
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.request_id == "req-job-0001"

    tasks.run_job(job.pk)  # as the worker runs it
    job_lines = lines(logs, "jdreview.jobs")
    assert {line["request_id"] for line in job_lines} == {"req-job-0001"}
    assert {line["job_id"] for line in job_lines} == {job.pk}
    assert {line["job_kind"] for line in job_lines} == {"worker_check"}
    steps = [line for line in job_lines if "progress" in line]
    assert steps and steps[-1]["progress"] == 1.0
    assert steps[-1]["step"] == "tick 8/8"
    assert job_lines[-1]["event"] == "finished" and job_lines[-1]["status"] == "succeeded"


def test_a_job_started_by_a_job_carries_the_same_request_id(project):
    with log_context(request_id="req-chain-0001", job_id=1):
        follow_up = job_create(kind="worker_check", params={"seconds": 1}, project=project)
    assert Job.objects.get(pk=follow_up.pk).request_id == "req-chain-0001"
    assert job_create(kind="worker_check", params={}, project=project).request_id == ""


def _log_a_request(**env: str) -> list[str]:
    """A fresh process with the given environment makes one request and logs a warning;
    what it wrote to stderr, line by line."""
    code = (
        "import django, logging; django.setup()\n"
        "from django.test import Client\n"
        "Client().get('/accounts/login/', HTTP_X_REQUEST_ID='req-proc-0001')\n"
        "logging.getLogger('jdreview.somewhere').warning('disk at %s%%', 91)\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "jdreview.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [line for line in done.stderr.splitlines() if line.strip()]


@pytest.mark.slow
def test_log_format_json_writes_one_object_a_line_and_text_stays_readable(tmp_path):
    json_lines = [
        json.loads(line)
        for line in _log_a_request(LOG_FORMAT="json", JDREVIEW_VAR_DIR=str(tmp_path))
    ]
    request, warning = json_lines
    assert request["logger"] == "jdreview.requests" and request["request_id"] == "req-proc-0001"
    assert request["view"] == "login" and request["status"] == 200
    assert warning["message"] == "disk at 91%" and warning["level"] == "WARNING"

    text = _log_a_request(LOG_LEVEL="INFO", JDREVIEW_VAR_DIR=str(tmp_path))
    request_line = next(line for line in text if "jdreview.requests" in line)
    assert request_line.startswith("INFO jdreview.requests: GET /accounts/login/ 200 ")
    assert request_line.endswith("[request=req-proc-0001]")
    assert not any(line.startswith("{") for line in text)
