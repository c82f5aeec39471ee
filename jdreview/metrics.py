"""Prometheus metrics: ``GET /metrics`` in the text format (version 0.0.4), for a bearer token.

Built on prometheus-client in its multiprocess mode rather than django-prometheus: what an
operator of this app needs is a few series of our own (requests by resolved view and
status, the queue, the gate, the jobs, the broker), and django-prometheus adds some twenty
families per request and per database call (its middleware pair, its database and cache
wrappers) that cost time on every request and say less; it has no token check of its own,
and its multiprocess set-up is prometheus-client's anyway. So: one histogram observed per
request, one per Celery task, and the rest read at scrape time.

Two kinds of series:

- **Per process, observed as it happens**: request latency by view, method and status
  (``RequestMetricsMiddleware``) and Celery task durations (``worker_init``, run from the
  worker's ``worker_init`` signal). Each gunicorn worker and each Celery pool process
  writes its own file under ``PROMETHEUS_MULTIPROC_DIR``; a scrape merges them all, so the
  web worker that answers sees every process. The folder is cleaned of the files of
  processes that have ended when gunicorn or a Celery worker starts (not wiped: the other
  service may be running); gunicorn's ``child_exit`` calls ``process_dead``.
- **Facts in the database, read at scrape time** (``DatabaseCollector``): the queue depth,
  labels, gate decisions, audits, jobs and their durations, the live model versions. One
  grouped query each, whatever the number of projects; right across processes and
  restarts, and nothing to increment in the service functions. The Celery queue lengths
  are read from the broker within a short timeout; a broker that does not answer leaves
  them out of the scrape instead of failing it (``jdreview_scrape_collector_success``).

No ``METRICS_TOKEN``: the middleware takes itself out (no cost) and ``/metrics`` is a 404.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.db import DatabaseError
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

# prometheus-client chooses its multiprocess mode from the environment when it is first
# imported; the settings put PROMETHEUS_MULTIPROC_DIR there, so they are read first.
_settings_read = settings.PROMETHEUS_MULTIPROC_DIR

from prometheus_client import CollectorRegistry, Histogram, generate_latest, values  # noqa: E402
from prometheus_client.core import (  # noqa: E402
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4  # noqa: E402
from prometheus_client.multiprocess import (  # noqa: E402
    MultiProcessCollector,
    mark_process_dead,
)

if not getattr(values.ValueClass, "_multiprocess", False):
    raise ImproperlyConfigured(
        "prometheus_client was imported before the settings set PROMETHEUS_MULTIPROC_DIR: "
        "each process would count only itself"
    )

logger = logging.getLogger(__name__)

UNRESOLVED = "unresolved"  # a path no URL pattern matched: never the raw path (cardinality)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_DURATION = Histogram(
    "jdreview_http_request_duration_seconds",
    "Time to answer a request, by resolved view name, method and status.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TASK_DURATION = Histogram(
    "jdreview_celery_task_duration_seconds",
    "Time a Celery task ran in a worker process, by task name and final state.",
    ["task", "state"],
    buckets=(0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0),
)
# Jobs run from seconds (scoring a few images) to hours (RL on a GPU).
JOB_BUCKETS_S = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600)
QUEUES = ("cpu", "gpu")
BROKER_TIMEOUT_S = 0.25
# kombu's Redis transport keeps one list per queue and priority step (kombu.transport.redis).
_REDIS_PRIORITY_SEP, _REDIS_PRIORITY_STEPS = "\x06\x16", (3, 6, 9)


# -- the endpoint --------------------------------------------------------------------------


def _digest(value: str) -> bytes:
    # Compared as digests, so the time taken says nothing about the token's length either.
    return hashlib.sha256(value.encode()).digest()


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        _digest(given.strip()), _digest(token)
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    token: str = settings.METRICS_TOKEN
    if not token:
        raise Http404
    if not _authorized(request, token):
        return HttpResponse(
            "A bearer token is needed.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(multiproc_dir()))
    registry.register(SourcesCollector())
    return registry


# -- per-process series --------------------------------------------------------------------


class RequestMetricsMiddleware:
    """Times each request through the rest of the stack, by the view it resolved to."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        if not settings.METRICS_TOKEN:
            raise MiddlewareNotUsed  # no one may read them: record nothing
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        start = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        method = request.method if request.method in _METHODS else "other"
        REQUEST_DURATION.labels(
            match.view_name if match is not None else UNRESOLVED, method, response.status_code
        ).observe(time.perf_counter() - start)
        return response


def multiproc_dir() -> Path:
    return Path(settings.PROMETHEUS_MULTIPROC_DIR)


def multiproc_dir_clean() -> int:
    """Remove the files of processes that have ended; returns how many. Run when gunicorn or
    a Celery worker starts: the other service's live processes keep theirs."""
    removed = 0
    for path in multiproc_dir().glob("*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def process_dead(pid: int) -> None:
    mark_process_dead(pid, str(multiproc_dir()))


_task_started: dict[str, float] = {}


def worker_init() -> None:
    """Called in a Celery worker's main process before its pool starts (jdreview.celery)."""
    from celery import signals

    multiproc_dir_clean()
    if not settings.METRICS_TOKEN:
        return
    signals.task_prerun.connect(_task_prerun, weak=False)
    signals.task_postrun.connect(_task_postrun, weak=False)
    signals.worker_process_shutdown.connect(_pool_process_shutdown, weak=False)


def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _task_started.pop(task_id or "", None)
    if started is not None and task is not None:
        TASK_DURATION.labels(task.name, state or "UNKNOWN").observe(time.perf_counter() - started)


def _pool_process_shutdown(pid: int | None = None, **_: Any) -> None:
    process_dead(pid or os.getpid())


# -- read at scrape time -------------------------------------------------------------------


class SourcesCollector:
    """The series read at scrape time, from the database and from the broker; a source
    that does not answer leaves its series out and says so, the scrape goes on."""

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "jdreview_scrape_collector_success",
            "1 when the collector read its source in this scrape, 0 when it could not.",
            labels=["collector"],
        )
        try:
            families, ok = list(DatabaseCollector().collect()), True
        except DatabaseError:
            logger.info("metrics: the database did not answer", exc_info=True)
            families, ok = [], False
        success.add_metric(["database"], float(ok))
        yield from families
        queues = queue_lengths_family()
        success.add_metric(["broker"], float(queues is not None))
        if queues is not None:
            yield queues
        yield success


class DatabaseCollector:
    """Counts that are facts in the database, one grouped query per family."""

    def collect(self) -> Iterator[Metric]:
        from jdreview.models import Project
        from labeling.models import Annotation, Assignment, Item
        from rewards.models import Audit, Decision
        from workers.models import Job, ModelVersion
        from workers.registry import all_kinds

        projects = list(Project.objects.order_by("pk").values_list("pk", "slug"))
        ids = [str(pk) for pk, _ in projects]
        info = GaugeMetricFamily(
            "jdreview_project_info", "A project's slug, to join on.", labels=["project", "slug"]
        )
        for pk, slug in projects:
            info.add_metric([str(pk), slug], 1.0)
        yield info

        depth = _Grid(ids, ("unlabeled", "assigned", "expired"))
        # Items the queue can still hand out: not gold, in the queue, with a free slot.
        free = Item.objects.filter(queued=True, is_gold=False, claims__lt=F("project__overlap"))
        for item_row in free.values("project_id").annotate(n=Count("id")).order_by():
            depth.set(item_row["project_id"], "unlabeled", item_row["n"])
        # Holds: live ones, and lapsed ones the queue has not taken back yet.
        now = timezone.now()
        holds = (
            Assignment.objects.filter(status=Assignment.Status.ACTIVE)
            .values("project_id")
            .annotate(
                live=Count("id", filter=Q(expires_at__gt=now)),
                lapsed=Count("id", filter=Q(expires_at__lte=now)),
            )
            .order_by()
        )
        for hold_row in holds:
            depth.set(hold_row["project_id"], "assigned", hold_row["live"])
            depth.set(hold_row["project_id"], "expired", hold_row["lapsed"])
        yield depth.family(
            "jdreview_queue_depth",
            "Labeling queue by state: items with a free slot (unlabeled), live holds "
            "(assigned), holds past their expiry not yet back in the queue (expired).",
            ["project", "state"],
        )

        yield from self._labels(Annotation, ids)
        yield (
            _Grid(ids, tuple(Decision.Outcome.values))
            .filled(_counts(Decision.objects, "project_id", "outcome"))
            .family(
                "jdreview_gate_decisions",
                "Images by the launch gate's current decision (a re-scored image can move).",
                ["project", "outcome"],
            )
        )
        yield (
            _Grid(ids, tuple(Audit.Status.values))
            .filled(_counts(Audit.objects, "project_id", "status"))
            .family(
                "jdreview_audits",
                "Ops audits of gate decisions by verdict (pending, confirmed, overridden).",
                ["project", "verdict"],
            )
        )
        yield (
            _Grid(sorted(all_kinds()), tuple(Job.Status.values))
            .filled(_counts(Job.objects, "kind", "status"))
            .family("jdreview_jobs", "Jobs by kind and status.", ["kind", "status"])
        )
        yield self._job_durations(Job)

        live = GaugeMetricFamily(
            "jdreview_model_live_version",
            "The version number of the live model of each family and slot.",
            labels=["project", "family", "slot"],
        )
        for project_id, family, slot, version in ModelVersion.objects.filter(
            status=ModelVersion.Status.LIVE
        ).values_list("project_id", "family", "slot", "version"):
            live.add_metric([str(project_id), family, slot], version)
        yield live

    def _labels(self, annotation_model: Any, ids: list[str]) -> Iterator[Metric]:
        submitted = CounterMetricFamily(
            "jdreview_labels_submitted",
            "Annotations stored, by project and source (ui, api, audit, import, ...).",
            labels=["project", "source"],
        )
        undone = CounterMetricFamily(
            "jdreview_labels_undone",
            "Annotations taken back by undo (they stay on record).",
            labels=["project"],
        )
        undone_by_project = dict.fromkeys(ids, 0)
        for row in (
            annotation_model.objects.values("project_id", "source")
            .annotate(n=Count("id"), undone=Count("id", filter=Q(undone=True)))
            .order_by()
        ):
            submitted.add_metric([str(row["project_id"]), row["source"]], row["n"])
            undone_by_project[str(row["project_id"])] += row["undone"]
        for project_id, n in undone_by_project.items():
            undone.add_metric([project_id], n)
        yield submitted
        yield undone

    def _job_durations(self, job_model: Any) -> HistogramMetricFamily:
        duration = ExpressionWrapper(
            F("finished_at") - F("started_at"), output_field=DurationField()
        )
        per_bucket = {
            f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
            for i, bound in enumerate(JOB_BUCKETS_S)
        }
        rows = (
            job_model.objects.filter(
                status__in=[job_model.Status.SUCCEEDED, job_model.Status.FAILED],
                started_at__isnull=False,
                finished_at__isnull=False,
            )
            .alias(duration=duration)
            .values("kind", "status")
            .annotate(n=Count("id"), total=Sum("duration"), **per_bucket)
            .order_by()
        )
        family = HistogramMetricFamily(
            "jdreview_job_duration_seconds",
            "Run time of finished jobs (started to finished), by kind and status.",
            labels=["kind", "status"],
        )
        for row in rows:
            buckets = [(str(float(b)), row[f"le_{i}"]) for i, b in enumerate(JOB_BUCKETS_S)]
            total = row["total"] or timedelta(0)
            family.add_metric(
                [row["kind"], row["status"]], [*buckets, ("+Inf", row["n"])], total.total_seconds()
            )
        return family


def _counts(manager: Any, row: str, column: str) -> Iterator[tuple[str, str, int]]:
    """(row, column, count) from one GROUP BY row, column."""
    for found in manager.values(row, column).annotate(n=Count("id")).order_by():
        yield str(found[row]), str(found[column]), found["n"]


class _Grid:
    """Counts over known rows × known columns, zero where the database had none, so that a
    count that drops to nothing reads 0 instead of vanishing."""

    def __init__(self, rows: list[str], columns: tuple[str, ...]) -> None:
        self.values: dict[tuple[str, str], float] = {(r, c): 0.0 for r in rows for c in columns}

    def set(self, row: object, column: str, value: float) -> None:
        self.values[(str(row), column)] = value

    def filled(self, counts: Iterator[tuple[str, str, int]]) -> _Grid:
        for row, column, n in counts:
            self.set(row, column, n)
        return self

    def family(self, name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, documentation, labels=labels)
        for (row, column), value in self.values.items():
            family.add_metric([row, column], value)
        return family


def queue_lengths_family() -> GaugeMetricFamily | None:
    """Messages waiting on each Celery queue, read from the broker within BROKER_TIMEOUT_S;
    None when it did not answer."""
    url: str = settings.CELERY_BROKER_URL
    try:
        lengths = _queue_lengths(url)
    except Exception as exc:  # the broker is down or hung: the scrape goes on
        logger.info("metrics: the broker did not answer: %s", exc)
        return None
    if lengths is None:
        return None
    family = GaugeMetricFamily(
        "jdreview_celery_queue_length",
        "Messages waiting on each Celery queue (absent when the broker is away).",
        labels=["queue"],
    )
    for queue in QUEUES:
        family.add_metric([queue], lengths.get(queue, 0))
    return family


_redis_clients: dict[str, Any] = {}


def _queue_lengths(url: str) -> dict[str, int] | None:
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        return _redis_lengths(url)
    if scheme == "sqla+sqlite":
        return _sqlite_lengths(url)
    return None  # a transport this does not know how to read


def _redis_lengths(url: str) -> dict[str, int]:
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S
        )
    keys = [
        (queue, key)
        for queue in QUEUES
        for key in (queue, *(f"{queue}{_REDIS_PRIORITY_SEP}{p}" for p in _REDIS_PRIORITY_STEPS))
    ]
    with client.pipeline(transaction=False) as pipe:
        for _, key in keys:
            pipe.llen(key)
        sizes = pipe.execute()
    lengths = dict.fromkeys(QUEUES, 0)
    for (queue, _), size in zip(keys, sizes, strict=True):
        lengths[queue] += int(size)
    return lengths


def _sqlite_lengths(url: str) -> dict[str, int] | None:
    # sqla+sqlite:////abs/path: the path after the third slash (kombu's SQLAlchemy tables).
    path = unquote(url.split(":///", 1)[1])
    if not Path(path).exists():
        raise FileNotFoundError("the broker's database file does not exist yet")
    # Read-only: a scrape never creates the broker's file or takes its write lock.
    with closing(
        sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BROKER_TIMEOUT_S)
    ) as conn:
        rows = conn.execute(
            "SELECT q.name, count(m.id) FROM kombu_queue q "
            "LEFT JOIN kombu_message m ON m.queue_id = q.id AND m.visible "
            "GROUP BY q.name"
        ).fetchall()
    return {name: int(n) for name, n in rows}
