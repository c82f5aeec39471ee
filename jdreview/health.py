"""Liveness and readiness probes: ``GET /healthz`` and ``GET /readyz``.

``/healthz`` says the process answers (no I/O). ``/readyz`` runs one check per dependency
and answers 200 only when all pass, else 503 with the failing ones named:

- ``database``: reachable, and every migration the code has is applied;
- ``broker``: reachable;
- ``worker_cpu``, ``worker_gpu``: a worker ran beat's heartbeat task for the queue (or a
  job running on it reported) within ``READYZ_HEARTBEAT_MAX_AGE_S``;
- ``beat``: the scheduler ran within the same age;
- ``media_storage``, ``artifact_storage``: the roots take a file;
- ``models``: every live model's artifact passes ``workers.versions.artifact_check``.

The body names checks and says what failed in words of its own, never an exception's
text, a host, a path or a version. The checks run in threads with one deadline, so a
dependency that hangs is reported "timed out" within about two seconds instead of holding
the probe. Both are answered by a middleware ahead of the others: a load balancer probes
by address (not an allowed host), and neither may need a session, a login or the outage
page.
"""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

# The whole of /readyz waits at most this long for its checks.
DEADLINE_S = 1.5
QUEUES = ("cpu", "gpu")


@dataclass(frozen=True)
class Result:
    ok: bool
    detail: str = ""


Check = Callable[[], Result]


# -- the checks ----------------------------------------------------------------------------


@functools.cache
def _code_migrations() -> frozenset[tuple[str, str]]:
    """(app, name) of every migration on disk: what the code needs applied."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def check_database() -> Result:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    applied = set(MigrationRecorder(connection).applied_migrations())
    missing = len(_code_migrations() - applied)
    if missing:
        return Result(False, f"{missing} migration(s) not applied")
    return Result(True)


def _age(at: datetime | None, now: datetime) -> Result:
    limit = settings.READYZ_HEARTBEAT_MAX_AGE_S
    if at is None:
        return Result(False, "never seen")
    seconds = max(0, round((now - at).total_seconds()))
    if seconds > limit:
        return Result(False, f"last seen {seconds} s ago (limit {limit} s)")
    return Result(True, f"seen {seconds} s ago")


def _heartbeat_at(name: str) -> datetime | None:
    from workers.models import Heartbeat

    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()


def check_worker(queue: str) -> Check:
    def check() -> Result:
        from workers.heartbeats import queue_heartbeat
        from workers.models import Job

        # A worker busy with a long job runs no heartbeat task meanwhile; the job's own
        # heartbeat (JobReporter) shows the queue is being served.
        busy = Job.objects.filter(status=Job.Status.RUNNING, queue=queue).aggregate(
            at=Max("heartbeat_at")
        )["at"]
        seen = [at for at in (_heartbeat_at(queue_heartbeat(queue)), busy) if at is not None]
        return _age(max(seen, default=None), timezone.now())

    return check


def check_beat() -> Result:
    from workers.heartbeats import BEAT

    return _age(_heartbeat_at(BEAT), timezone.now())


def check_writable(setting: str) -> Check:
    def check() -> Result:
        root = Path(getattr(settings, setting))
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".readyz-") as probe:
                probe.write(b"ok")
                probe.flush()
        except OSError:
            return Result(False, "not writable")
        return Result(True)

    return check


# Versions whose artifact passed its check, by what its files looked like then: a live
# model is loaded once per process, and again only if its files change or go.
_loadable: dict[int, tuple[Any, ...]] = {}


def _fingerprint(folder: Path) -> tuple[Any, ...]:
    if not folder.is_dir():
        return ()
    return tuple(
        sorted(
            (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")
            if p.is_file()
        )
    )


def _loads(version: Any) -> bool:
    from workers.versions import artifact_check, artifact_path

    files = _fingerprint(artifact_path(version))
    if files and _loadable.get(version.pk) == files:
        return True
    try:
        artifact_check(version)
    except Exception:  # VersionError, or whatever a family's loader raised: it cannot serve
        _loadable.pop(version.pk, None)
        return False
    _loadable[version.pk] = files
    return True


def check_models() -> Result:
    from workers.models import ModelVersion

    live = list(ModelVersion.objects.filter(status=ModelVersion.Status.LIVE))
    bad = sum(1 for version in live if not _loads(version))
    if bad:
        return Result(False, f"{bad} of {len(live)} live model(s) cannot be loaded")
    return Result(True, f"{len(live)} live model(s) load")


def check_broker() -> Result:
    from jdreview.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0)
        # Redis is pinged when the channel opens; the SQLite broker answers this query.
        conn.default_channel.queue_declare(queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    return Result(True)


# The checks, in groups that run one after another in a thread each: the database's group
# shares one connection, and when the database is away its other checks are not tried.
def _groups() -> list[list[tuple[str, Check]]]:
    return [
        [
            ("database", check_database),
            *((f"worker_{q}", check_worker(q)) for q in QUEUES),
            ("beat", check_beat),
            ("models", check_models),
        ],
        [("broker", check_broker)],
        [
            ("media_storage", check_writable("MEDIA_ROOT")),
            ("artifact_storage", check_writable("ARTIFACT_ROOT")),
        ],
    ]


NAMES = tuple(name for group in _groups() for name, _ in group)
FAILED = {"broker": "unreachable", "database": "unreachable"}


_results_lock = threading.Lock()


def _run_group(group: list[tuple[str, Check]], results: dict[str, Result]) -> None:
    # A thread of the pool keeps its connection between probes; one that a database
    # restart broke is replaced here, as Django does at the start of a request. Never
    # inside a transaction (a test's): that would end it.
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
    database_down = False
    for name, check in group:
        if database_down:
            result = Result(False, "needs the database")
        else:
            try:
                result = check()
            except Exception:
                # Its text may hold a host, a user or a path: the body says only what failed.
                result = Result(False, FAILED.get(name, "failed"))
            database_down = name == "database" and result.detail == FAILED["database"]
        with _results_lock:
            results[name] = result


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _submit(fn: Callable[[], None]) -> Future[None]:
    """Run ``fn`` in a thread of this process's probe pool (made on first use, after a
    server forked its workers). A probe does not wait for a hung check's thread, so up to
    this many may hang before later checks queue; they are then reported timed out."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")
    return _pool.submit(fn)


def readiness() -> dict[str, Result]:
    results: dict[str, Result] = {}
    futures = [_submit(functools.partial(_run_group, g, results)) for g in _groups()]
    wait(futures, timeout=DEADLINE_S)
    with _results_lock:  # a late check must not change the answer being written
        snapshot = dict(results)
    return {name: snapshot.get(name, Result(False, "timed out")) for name in NAMES}


# -- the probes ----------------------------------------------------------------------------


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


def readyz(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    results = readiness()
    failing = [name for name, r in results.items() if not r.ok]
    body = {
        "status": "not ready" if failing else "ready",
        "failing": failing,
        "checks": {name: {"ok": r.ok, "detail": r.detail} for name, r in results.items()},
        "ms": round((time.perf_counter() - started) * 1000),
    }
    return JsonResponse(body, status=503 if failing else 200)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}


class HealthProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        probe = PROBES.get(request.path_info.rstrip("/"))
        if probe is None:
            return self.get_response(request)
        response: HttpResponse
        if request.method not in ("GET", "HEAD"):
            response = HttpResponseNotAllowed(["GET", "HEAD"])
        else:
            response = probe(request)
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
