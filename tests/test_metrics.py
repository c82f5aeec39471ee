"""GET /metrics: the token, the text format, and the series an operator watches moving
when people label, the gate decides, ops audit and jobs run; series from other processes
(a Celery worker, any second process) in the same scrape."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import textwrap
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jdreview import gunicorn_conf, metrics
from labeling.models import Assignment
from labeling.services import task_next
from rewards.audits import audit_submit, decisions_record
from rewards.models import Audit
from tests.factories import GOOD, ItemFactory, ProjectFactory
from tests.worker import celery_worker, wait_for
from workers import services
from workers.models import Job, ModelVersion

pytestmark = [pytest.mark.django_db]

TOKEN = "s3cret-metrics-token"
ROOT = Path(__file__).resolve().parent.parent

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module", autouse=True)
def _clean_multiproc_dir() -> None:
    # Files left by earlier test runs' processes would only slow the scrapes down.
    metrics.multiproc_dir_clean()


@pytest.fixture
def metrics_on(settings):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN


def scrape() -> Samples:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:500]
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: object) -> float | None:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


class AlwaysSample(random.Random):
    """The gate's audit draw, always taken."""

    def random(self) -> float:
        return 0.0


# -- the token -----------------------------------------------------------------------------


def test_without_a_token_set_metrics_is_not_there(settings):
    settings.METRICS_TOKEN = ""
    client = Client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.post("/metrics").status_code == 404


def test_a_wrong_or_missing_token_is_refused_without_a_metric(metrics_on):
    client = Client()
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer not-the-token"},
        {"HTTP_AUTHORIZATION": f"Token {TOKEN}"},  # the API's scheme, not a bearer token
        {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"},
    ):
        response = client.get("/metrics", **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"jdreview_" not in response.content


def test_the_right_token_gets_the_prometheus_text_format(metrics_on, project):
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert {
        "jdreview_queue_depth",
        "jdreview_labels_submitted",
        "jdreview_gate_decisions",
        "jdreview_audits",
        "jdreview_jobs",
        "jdreview_job_duration_seconds",
        "jdreview_model_live_version",
        "jdreview_scrape_collector_success",
    } <= names
    # Prometheus refuses a scrape that declares a family twice.
    types = [line.split()[2] for line in response.content.decode().splitlines()
             if line.startswith("# TYPE ")]  # fmt: skip
    assert len(types) == len(set(types))


# -- series that move ----------------------------------------------------------------------


@pytest.mark.backend
def test_series_move_with_a_submit_a_decision_an_audit_and_a_job(
    metrics_on, project, annotator, ops, manager, api, no_enqueue
):
    to_label, to_launch, _ = ItemFactory.create_batch(3, project=project)
    p = project.pk
    before = scrape()
    assert value(before, "jdreview_queue_depth", project=p, state="unlabeled") == 3
    assert value(before, "jdreview_queue_depth", project=p, state="assigned") == 0

    # A label, through the API as the labeling page's keyboard loop does it.
    client = api(annotator)
    task = client.get(f"/api/projects/{p}/next/").json()
    held = scrape()
    assert value(held, "jdreview_queue_depth", project=p, state="assigned") == 1
    assert value(held, "jdreview_queue_depth", project=p, state="unlabeled") == 2
    response = client.post(
        f"/api/tasks/{task['assignment_id']}/submit/", {"values": GOOD}, format="json"
    )
    assert response.status_code == 201

    # The gate launches an image (sampled for audit), and ops confirm it.
    labeled = {task["item"]["id"]}
    launch = to_launch if to_launch.pk not in labeled else to_label
    decisions_record(
        project=project,
        rows=[
            {
                "item_id": launch.pk,
                "scores": {"shape": 0.99, "placement": 0.99, "color": 0.99},
                "model_versions": {},
                "outcome": "launch",
            }
        ],
        rng=AlwaysSample(),
    )
    audit = Audit.objects.get(item=launch)
    assert value(scrape(), "jdreview_audits", project=p, verdict="pending") == 1
    audit_submit(project=project, audit_id=audit.pk, user=ops, usable=True)

    # A job, run in this process as a worker would.
    with transaction.atomic():
        job = services.job_create(
            kind="export", params={"format": "jsonl"}, project=project, user=manager
        )
    services.job_run(job.pk)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED

    ModelVersion.objects.create(
        project=project, family="aspect_reward", slot="shape", version=4, status="live"
    )

    after = scrape()

    def moved(name: str, **labels: object) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert moved("jdreview_labels_submitted_total", project=p, source="api") == 1
    assert moved("jdreview_labels_submitted_total", project=p, source="audit") == 1
    assert moved("jdreview_gate_decisions", project=p, outcome="launch") == 1
    assert moved("jdreview_audits", project=p, verdict="confirmed") == 1
    assert value(after, "jdreview_audits", project=p, verdict="pending") == 0
    assert value(after, "jdreview_queue_depth", project=p, state="assigned") == 0
    # One labeled, one launched (out of the annotators' queue): one left.
    assert value(after, "jdreview_queue_depth", project=p, state="unlabeled") == 1
    assert moved("jdreview_jobs", kind="export", status="succeeded") == 1
    assert moved("jdreview_job_duration_seconds_count", kind="export", status="succeeded") == 1
    assert (
        moved("jdreview_job_duration_seconds_bucket", kind="export", status="succeeded", le="+Inf")
        == 1
    )
    assert value(after, "jdreview_model_live_version", project=p, family="aspect_reward",
                 slot="shape") == 4  # fmt: skip
    assert value(after, "jdreview_scrape_collector_success", collector="database") == 1


def test_a_lapsed_hold_shows_as_expired_until_the_queue_takes_it_back(
    metrics_on, project, annotator
):
    ItemFactory.create_batch(2, project=project)
    assignment = task_next(project=project, user=annotator)
    assert assignment is not None
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    samples = scrape()
    assert value(samples, "jdreview_queue_depth", project=project.pk, state="expired") == 1
    assert value(samples, "jdreview_queue_depth", project=project.pk, state="assigned") == 0


def test_a_finished_jobs_duration_lands_in_its_bucket(metrics_on, project):
    now = timezone.now()
    for seconds in (3, 40, 40, 4000):
        Job.objects.create(
            kind="export",
            project=project,
            status=Job.Status.FAILED,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    samples = scrape()

    def bucket(le: str) -> float | None:
        return value(
            samples, "jdreview_job_duration_seconds_bucket", kind="export", status="failed", le=le
        )

    assert (bucket("1.0"), bucket("5.0"), bucket("30.0"), bucket("60.0")) == (0, 1, 1, 3)
    assert (bucket("3600.0"), bucket("7200.0"), bucket("+Inf")) == (3, 4, 4)
    total = value(samples, "jdreview_job_duration_seconds_sum", kind="export", status="failed")
    assert total == pytest.approx(4083, abs=0.01)


def test_the_scrape_costs_the_same_queries_for_one_project_or_many(metrics_on, project):
    ItemFactory(project=project)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape()
        return len(captured.captured_queries)

    one = queries()
    for other in ProjectFactory.create_batch(4):
        ItemFactory(project=other)
        ModelVersion.objects.create(project=other, family="aspect_reward", slot="color",
                                    version=1, status="live")  # fmt: skip
    # One grouped query per family, however many projects there are.
    assert queries() == one == 9


# -- requests ------------------------------------------------------------------------------


def test_a_request_is_counted_under_its_view_name_and_status(metrics_on, project, annotator):
    labels = {"view": "project", "method": "GET", "status": "200"}
    count = "jdreview_http_request_duration_seconds_count"
    before = value(scrape(), count, **labels) or 0
    client = Client()
    client.force_login(annotator)
    assert client.get(f"/p/{project.pk}/").status_code == 200
    after = scrape()
    assert value(after, count, **labels) == before + 1
    assert (value(after, "jdreview_http_request_duration_seconds_sum", **labels) or 0) > 0


def test_a_path_no_url_matches_is_counted_without_the_path(metrics_on):
    marker = f"no-such-page-{uuid.uuid4().hex}"
    assert Client().get(f"/{marker}/").status_code == 404
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    text = response.content.decode()
    assert marker not in text
    assert 'status="404",view="unresolved"' in text


def test_without_a_token_requests_are_not_recorded(settings, project, annotator):
    labels = {"view": "project", "method": "GET", "status": "200"}
    count = "jdreview_http_request_duration_seconds_count"
    settings.METRICS_TOKEN = TOKEN
    before = value(scrape(), count, **labels) or 0
    settings.METRICS_TOKEN = ""
    client = Client()  # its middleware is loaded now: without the metrics one
    client.force_login(annotator)
    assert client.get(f"/p/{project.pk}/").status_code == 200
    settings.METRICS_TOKEN = TOKEN
    assert (value(scrape(), count, **labels) or 0) == before


# -- more than one process -----------------------------------------------------------------


def test_a_scrape_adds_up_what_another_process_observed(metrics_on):
    task = f"tests.other_process_{uuid.uuid4().hex[:8]}"
    code = textwrap.dedent(
        f"""
        import django
        django.setup()
        from jdreview import metrics
        metrics.TASK_DURATION.labels({task!r}, "SUCCESS").observe(2.0)
        """
    )
    # Same environment, so the same folder (the settings put it in os.environ).
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
    metrics.TASK_DURATION.labels(task, "SUCCESS").observe(0.5)  # and this process
    samples = scrape()
    labels = {"task": task, "state": "SUCCESS"}
    assert value(samples, "jdreview_celery_task_duration_seconds_count", **labels) == 2
    assert value(samples, "jdreview_celery_task_duration_seconds_sum", **labels) == 2.5


@pytest.mark.slow
@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
def test_a_celery_workers_task_shows_in_the_webs_scrape(metrics_on, project, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)  # the worker reads its own environment
    labels = {"task": "workers.tasks.run_job", "state": "SUCCESS"}
    count = "jdreview_celery_task_duration_seconds_count"
    with transaction.atomic():
        job = services.job_create(kind="worker_check", params={"seconds": 1}, project=project)
    with celery_worker(queues="cpu"):
        wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=120)
        # The worker removed the files of ended processes before its pool started, so
        # what the scrape finds for this task was recorded by its pool process; that
        # process records the task just after the job row says it finished.
        assert wait_for(lambda: (value(scrape(), count, **labels) or 0) >= 1, timeout=20)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


# -- the broker ----------------------------------------------------------------------------


@pytest.mark.backend
def test_queue_lengths_come_from_the_broker(metrics_on):
    from jdreview.celery import app
    from workers.tasks import run_job

    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:  # as a worker does when it starts
            queue.bind(conn.default_channel).declare()
    before = scrape()
    assert value(before, "jdreview_scrape_collector_success", collector="broker") == 1
    # A message for a job that does not exist: a worker that takes it finds nothing to do.
    run_job.apply_async(args=[0], queue="gpu")
    after = scrape()
    assert (
        value(after, "jdreview_celery_queue_length", queue="gpu")
        == (value(before, "jdreview_celery_queue_length", queue="gpu") or 0) + 1
    )
    assert value(after, "jdreview_celery_queue_length", queue="cpu") is not None


def test_a_broker_that_is_down_leaves_the_queue_lengths_out(metrics_on, settings):
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, never listening: a connection is refused
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{bound.getsockname()[1]}/0"
        samples = scrape()
    assert value(samples, "jdreview_scrape_collector_success", collector="broker") == 0
    assert value(samples, "jdreview_celery_queue_length", queue="cpu") is None
    assert value(samples, "jdreview_scrape_collector_success", collector="database") == 1


# -- the start-up and exit hooks -----------------------------------------------------------


def _ended_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_gunicorn_start_removes_only_the_files_of_ended_processes(settings, tmp_path):
    settings.PROMETHEUS_MULTIPROC_DIR = tmp_path
    dead, alive = _ended_pid(), os.getpid()
    for name in (f"counter_{dead}.db", f"histogram_{dead}.db", f"histogram_{alive}.db"):
        (tmp_path / name).write_bytes(b"")
    gunicorn_conf.on_starting(server=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"histogram_{alive}.db"]


def test_gunicorn_child_exit_drops_the_workers_live_gauges(settings, tmp_path):
    settings.PROMETHEUS_MULTIPROC_DIR = tmp_path
    for name in ("gauge_livesum_4242.db", "histogram_4242.db", "gauge_livesum_4343.db"):
        (tmp_path / name).write_bytes(b"")
    gunicorn_conf.child_exit(server=None, worker=SimpleNamespace(pid=4242))
    # Its counts stay (a total must not drop when a worker is replaced); its live gauges go.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gauge_livesum_4343.db",
        "histogram_4242.db",
    ]
