"""Signs of life that /readyz reads (jdreview/health.py): a worker that ran beat's heartbeat
task for its queue, and beat itself. One row per name in ``workers.Heartbeat``, replaced in
one upsert, so readiness reads one value per check."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from workers.models import Heartbeat

logger = logging.getLogger(__name__)

BEAT = "beat"


def queue_heartbeat(queue: str) -> str:
    return f"queue:{queue}"


def heartbeat_record(name: str, *, now: datetime | None = None) -> None:
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, at=now or timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["at"],
    )


def beat_mark() -> None:
    """Beat is alive: called from its scheduler's loop, outside any request or task, so the
    connection a database restart broke is replaced here (Django does it per request), and
    a database that is away costs a warning, not the scheduler."""
    close_old_connections()
    try:
        heartbeat_record(BEAT)
    except DatabaseError as exc:
        logger.warning("beat could not record its heartbeat: %s", exc)
