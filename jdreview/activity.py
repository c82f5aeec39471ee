"""The activity log: one row per state change of a project's data.

The service that makes a change writes its row with :func:`activity_record`, inside the
change's own transaction: a change that fails or rolls back leaves no row, and no view,
signal or admin hook writes one. Work a job does is recorded with the job as its actor
(``acting_job``, set around a job's runner by ``workers.services.job_run``).

The actions are declared here, in one list; a loop may add its own (``action_register``).
The page, its exports and the API read through :func:`activity_events`, with filters
parsed once by :func:`activity_filter_parse`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from jdreview.errors import UserError
from jdreview.models import ActivityEvent, Project
from jdreview.roles import PERM_DASHBOARDS

# Who may read a project's log: those who watch it (managers and admins), as for the
# annotator statistics, which also tell people apart.
PERM_ACTIVITY = PERM_DASHBOARDS

ACTIONS: dict[str, str] = {
    "label.submit": "label submitted",
    "label.edit": "label changed (submitted again after undo)",
    "label.undo": "label taken back",
    "label.skip": "item skipped",
    "label.record": "label stored outside the queue",
    "label.record_undo": "stored label taken back",
    "audit.confirm": "audit confirmed the gate",
    "audit.override": "audit overrode the gate",
    "audit.undo": "audit verdict taken back",
    "gate.settings": "gate settings changed",
    "gate.decisions": "gate decided a batch",
    "model.create": "model version registered",
    "model.promote": "model version made live",
    "model.rollback": "model rolled back",
    "model.reject": "model version rejected",
    "items.create": "items added",
    "items.import_labelstudio": "Label Studio tasks imported",
    "labels.export": "labels exported",
    "project.create": "project created",
    "project.settings": "project settings changed",
    "member.add": "member added",
    "member.remove": "member removed",
    "member.role": "role changed",
    "job.start": "job started",
    "job.succeed": "job succeeded",
    "job.fail": "job failed",
}


def action_register(name: str, label: str) -> None:
    """A loop's own action (in its AppConfig.ready()). Names are "<thing>.<verb>"."""
    if len(name) > ActivityEvent._meta.get_field("action").max_length:  # type: ignore[operator]
        raise ValueError(f"action name too long: {name!r}")
    ACTIONS.setdefault(name, label)


_acting_job: ContextVar[int | None] = ContextVar("jdreview_acting_job", default=None)


@contextmanager
def acting_job(job_id: int) -> Iterator[None]:
    """Changes made inside are the job's: recorded with ``actor_job_id``."""
    token = _acting_job.set(job_id)
    try:
        yield
    finally:
        _acting_job.reset(token)


def activity_record(
    *,
    project: Project | int,
    action: str,
    actor: User | AnonymousUser | None = None,
    obj: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    detail: Mapping[str, Any] | None = None,
    job_id: int | None = None,
) -> ActivityEvent:
    """Write one row of the log: one INSERT, no reads. Call it inside the transaction of
    the change it records. ``actor`` is the person; the job is ``job_id``, else the job
    running this code (``acting_job``), else none."""
    if action not in ACTIONS:
        raise ValueError(f"undeclared activity action {action!r}")  # a programming error
    user = actor if isinstance(actor, User) and actor.is_authenticated else None
    return ActivityEvent.objects.create(
        project_id=project if isinstance(project, int) else project.pk,
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        actor_job_id=job_id if job_id is not None else _acting_job.get(),
        action=action,
        object_type=(obj._meta.model_name or "") if obj is not None else "",
        object_id=obj.pk if obj is not None else None,
        before=before,
        after=after,
        detail=dict(detail or {}),
    )


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """The fields whose value differs, as (before, after) of those fields only."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# Reading the log -------------------------------------------------------------------------


class ActivityFilterError(UserError):
    """A filter of the log that cannot be read (an unknown action, a bad date): a 400."""


@dataclass(frozen=True)
class ActivityFilter:
    actor: str = ""  # a username
    action: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _moment(raw: str, name: str, *, end_of_day: bool) -> datetime:
    """A date (a whole day: ``until`` a date means up to the end of that day) or an ISO
    date and time; a time without a zone is in the site's zone."""
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            if day is None:
                raise ValueError
            if end_of_day:
                day += timedelta(days=1)
            moment = datetime.combine(day, time.min)
    except ValueError:
        raise ActivityFilterError(
            f"{name}: {raw!r} is not a date (YYYY-MM-DD) or an ISO date and time"
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def activity_filter_parse(params: Mapping[str, str]) -> ActivityFilter:
    """The log's filters from query parameters: ``actor`` (a username), ``action`` (one of
    ACTIONS), ``since`` and ``until`` (dates, or ISO dates and times). Raises
    ActivityFilterError with a message a person can act on."""
    actor = (params.get("actor") or "").strip()
    action = (params.get("action") or "").strip()
    if len(actor) > 150:
        raise ActivityFilterError("actor: a username has at most 150 characters")
    if action and action not in ACTIONS:
        raise ActivityFilterError(
            f"action: {action[:60]!r} is not an action; one of {', '.join(sorted(ACTIONS))}"
        )
    since_raw = (params.get("since") or "").strip()
    until_raw = (params.get("until") or "").strip()
    since = _moment(since_raw, "since", end_of_day=False) if since_raw else None
    until = _moment(until_raw, "until", end_of_day=True) if until_raw else None
    if since is not None and until is not None and until <= since:
        raise ActivityFilterError("until must be after since")
    return ActivityFilter(actor=actor, action=action, since=since, until=until)


def activity_events(project: Project, f: ActivityFilter) -> QuerySet[ActivityEvent]:
    """The project's log, newest first, filtered. The caller has checked the person may
    read it (PERM_ACTIVITY in this project)."""
    qs = ActivityEvent.objects.filter(project=project)
    if f.actor:
        # By the account's id, so the (project, actor, created_at) index serves it; an
        # unknown name matches nothing, as in the other lists' filters.
        user_id = User.objects.filter(username=f.actor).values_list("pk", flat=True).first()
        if user_id is None:
            return qs.none()
        qs = qs.filter(actor_id=user_id)
    if f.action:
        qs = qs.filter(action=f.action)
    if f.since is not None:
        qs = qs.filter(created_at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(created_at__lt=f.until)
    return qs.order_by("-created_at", "-id")


EXPORT_FIELDS = (
    "id",
    "created_at",
    "actor",
    "actor_job_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "detail",
)


def event_record(e: ActivityEvent) -> dict[str, Any]:
    """One row of the log as the exports and the API give it."""
    return {
        "id": e.pk,
        "created_at": e.created_at.isoformat(),
        "actor": e.actor_name or None,
        "actor_job_id": e.actor_job_id,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "before": e.before,
        "after": e.after,
        "detail": e.detail,
    }


def export_jsonl(events: QuerySet[ActivityEvent]) -> Iterator[str]:
    for e in events.iterator(chunk_size=2000):
        yield json.dumps(event_record(e), ensure_ascii=False, cls=DjangoJSONEncoder) + "\n"


class _Line:
    """csv.writer's file: hands back the line it was given."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    # A cell starting like a formula runs as one in a spreadsheet (a username may begin
    # with "+", "-" or "@"): quoted, it is text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def export_csv(events: QuerySet[ActivityEvent]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_FIELDS)
    for e in events.iterator(chunk_size=2000):
        record = event_record(e)
        yield writer.writerow([_cell(record[k]) for k in EXPORT_FIELDS])


def actions_choices() -> Iterable[tuple[str, str]]:
    return sorted(ACTIONS.items())
