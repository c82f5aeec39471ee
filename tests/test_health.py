"""/healthz and /readyz as a load balancer and an operator see them: anonymous, from an
address that is not an allowed host, each readiness check passing and failing, the failing
ones named, and nothing secret in the body."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from jdreview import health
from jdreview.celery import HEARTBEAT_EVERY_S, Scheduler, app
from rewards import registry
from workers import tasks
from workers.heartbeats import BEAT, heartbeat_record, queue_heartbeat
from workers.models import Heartbeat, Job, ModelVersion

# The broker check differs between Redis and the embedded SQLAlchemy broker: run on both.
pytestmark = [pytest.mark.django_db, pytest.mark.backend]

# A probe comes from the load balancer, by address: not one of ALLOWED_HOSTS.
PROBE = {"HTTP_HOST": "10.0.0.7:8000"}


@pytest.fixture(autouse=True)
def inline_checks(monkeypatch):  # type: ignore[no-untyped-def]
    """The checks run in the test's thread, inside its transaction, so they see its rows
    (the pool's threads have connections of their own)."""

    def submit(fn):  # type: ignore[no-untyped-def]
        done: Future[None] = Future()
        fn()
        done.set_result(None)
        return done

    monkeypatch.setattr(health, "_submit", submit)
    health._loadable.clear()


def live_model(project, aspect: str = "placement") -> ModelVersion:  # type: ignore[no-untyped-def]
    from rewards.ml.aspects import default_registry
    from rewards.ml.model import AspectNet, save

    relative = f"{project.slug}/{aspect}/v1"
    save(
        AspectNet(default_registry().get(aspect).model_config()),
        Path(settings.ARTIFACT_ROOT) / relative,
    )
    return ModelVersion.objects.create(
        project=project,
        family=registry.FAMILY,
        slot=aspect,
        version=1,
        name="train",
        artifact=relative,
        status=ModelVersion.Status.LIVE,
    )


@pytest.fixture
def ready(project):  # type: ignore[no-untyped-def]
    """Everything /readyz looks for: workers on both queues and beat seen just now, and a
    live model whose artifact loads."""
    for name in (queue_heartbeat("cpu"), queue_heartbeat("gpu"), BEAT):
        heartbeat_record(name)
    return live_model(project)


def readyz(**extra):  # type: ignore[no-untyped-def]
    response = Client().get("/readyz", **PROBE, **extra)
    return response, response.json()


def test_healthz_answers_anyone_at_once_without_touching_anything(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz", **PROBE)
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_200_when_every_check_passes(ready):
    response, body = readyz()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {
        "database",
        "broker",
        "worker_cpu",
        "worker_gpu",
        "beat",
        "media_storage",
        "artifact_storage",
        "models",
    }
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["models"]["detail"] == "1 live model(s) load"


def test_a_broker_that_does_not_answer_fails_the_broker_check(ready, monkeypatch):
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:9/0")
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"] == {"ok": False, "detail": "unreachable"}


def test_a_migration_not_applied_fails_the_database_check(ready, monkeypatch):
    code = health._code_migrations()
    monkeypatch.setattr(
        health, "_code_migrations", lambda: code | {("workers", "9999_from_the_future")}
    )
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["detail"] == "1 migration(s) not applied"


def test_a_database_that_is_away_fails_it_and_what_needs_it(ready, monkeypatch):
    def refused(self):  # type: ignore[no-untyped-def]
        raise OperationalError('connection to server at "10.1.2.3", port 5432 failed')

    monkeypatch.setattr(health.MigrationRecorder, "applied_migrations", refused)
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["database", "worker_cpu", "worker_gpu", "beat", "models"]
    assert body["checks"]["database"]["detail"] == "unreachable"
    assert body["checks"]["beat"]["detail"] == "needs the database"
    assert b"10.1.2.3" not in response.content


def test_an_unwritable_storage_root_fails_its_check(ready, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = str(blocker / "media")  # even root cannot make a folder in a file
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["media_storage"]
    assert body["checks"]["media_storage"]["detail"] == "not writable"


def test_a_stale_worker_heartbeat_fails_that_queue_only(ready):
    heartbeat_record(queue_heartbeat("gpu"), now=timezone.now() - timedelta(minutes=5))
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["worker_gpu"]
    assert body["checks"]["worker_gpu"]["detail"] == "last seen 300 s ago (limit 60 s)"


def test_a_worker_busy_with_a_long_job_counts_as_seen(ready, project):
    heartbeat_record(queue_heartbeat("gpu"), now=timezone.now() - timedelta(minutes=5))
    Job.objects.create(
        kind="train_rewards",
        project=project,
        queue="gpu",
        status=Job.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    response, body = readyz()
    assert response.status_code == 200, body


def test_beat_never_seen_fails_the_beat_check(ready):
    Heartbeat.objects.filter(name=BEAT).delete()
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["beat"]
    assert body["checks"]["beat"]["detail"] == "never seen"


def test_a_live_model_whose_artifact_is_missing_fails_the_models_check(ready, project):
    ModelVersion.objects.create(
        project=project,
        family=registry.FAMILY,
        slot="shape",
        version=1,
        name="train",
        artifact="nowhere/v1",
        status=ModelVersion.Status.LIVE,
    )
    response, body = readyz()
    assert response.status_code == 503
    assert body["failing"] == ["models"]
    assert body["checks"]["models"]["detail"] == "1 of 2 live model(s) cannot be loaded"


def test_a_corrupt_artifact_is_found_even_after_it_once_loaded(ready):
    assert readyz()[0].status_code == 200
    weights = next(Path(settings.ARTIFACT_ROOT, ready.artifact).glob("*.safetensors"))
    weights.write_bytes(b"not a model")
    assert readyz()[1]["failing"] == ["models"]


def test_the_body_tells_nothing_secret(ready, monkeypatch, settings, tmp_path):
    monkeypatch.setattr(app.conf, "broker_url", "redis://ops:s3cret-pw@127.0.0.1:9/0")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.ARTIFACT_ROOT = str(blocker / "artifacts")
    response, body = readyz()
    assert set(body["failing"]) == {"broker", "artifact_storage", "models"}
    text = response.content.decode()
    db = settings.DATABASES["default"]
    secrets = ["s3cret", "127.0.0.1", str(tmp_path), "Error", "Traceback", db["NAME"]]
    secrets += [db.get("HOST") or "", db.get("USER") or "", settings.MEDIA_ROOT]
    import django

    secrets.append(django.get_version())
    assert [s for s in secrets if s and s in text] == []


def test_only_get_and_head(ready):
    assert Client().post("/readyz", **PROBE).status_code == 405
    assert Client().head("/readyz", **PROBE).status_code == 200
    assert Client().get("/readyz/", **PROBE).status_code == 200


def test_a_hanging_check_is_reported_timed_out_and_does_not_hold_the_probe(monkeypatch):
    monkeypatch.undo()  # the real thread pool
    release = threading.Event()

    def hangs() -> health.Result:
        release.wait(30)
        return health.Result(True)

    groups = [[("slow", hangs)], [("fast", lambda: health.Result(True))]]
    monkeypatch.setattr(health, "_groups", lambda: groups)
    monkeypatch.setattr(health, "NAMES", ("slow", "fast"))
    monkeypatch.setattr(health, "DEADLINE_S", 0.2)
    try:
        results = health.readiness()
    finally:
        release.set()
    assert results == {"slow": health.Result(False, "timed out"), "fast": health.Result(True)}


def test_beat_sends_each_queue_its_heartbeat_and_the_worker_records_it(ready):
    schedule = app.conf.beat_schedule
    for queue in ("cpu", "gpu"):
        entry = schedule[f"heartbeat-{queue}"]
        assert entry["task"] == "workers.tasks.heartbeat" and entry["args"] == (queue,)
        assert entry["options"]["queue"] == queue
        assert entry["schedule"] == HEARTBEAT_EVERY_S
    old = timezone.now() - timedelta(minutes=5)
    heartbeat_record(queue_heartbeat("cpu"), now=old)
    assert readyz()[1]["failing"] == ["worker_cpu"]
    tasks.heartbeat("cpu")
    assert readyz()[0].status_code == 200


def test_beats_scheduler_records_that_it_ran(monkeypatch):
    marks: list[int] = []
    monkeypatch.setattr("workers.heartbeats.beat_mark", lambda: marks.append(1))
    monkeypatch.setattr(
        "celery.beat.Scheduler.apply_entry", lambda self, entry, producer=None: None
    )
    scheduler = Scheduler.__new__(Scheduler)  # no schedule file: only apply_entry is used
    scheduler.apply_entry(object())
    scheduler.apply_entry(object())  # within mark_every_s: one mark is enough
    assert marks == [1]
