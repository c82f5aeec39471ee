"""The activity log's page and its exports (CSV and JSON lines), for those who may read a
project's log (``jdreview.activity.PERM_ACTIVITY``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from jdreview.access import project_for
from jdreview.activity import (
    PERM_ACTIVITY,
    ActivityFilter,
    ActivityFilterError,
    actions_choices,
    activity_events,
    activity_filter_parse,
    export_csv,
    export_jsonl,
)
from jdreview.http import AuthedHttpRequest

PAGE_SIZE = 50
# An offset past this is better asked of the export or a narrower period: OFFSET reads
# and drops every row before it.
OFFSET_MAX = 100_000
EXPORTS = {
    "csv": (export_csv, "text/csv; charset=utf-8"),
    "jsonl": (export_jsonl, "application/x-ndjson"),
}


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)


def _offset(raw: str) -> int:
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > OFFSET_MAX:
        raise ActivityFilterError(f"offset: a whole number from 0 to {OFFSET_MAX:,}")
    return int(raw)


@require_GET
@login_required
def activity_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_ACTIVITY)
    error, status = "", 200
    f, offset = ActivityFilter(), 0
    try:
        f = activity_filter_parse(request.GET)
        offset = _offset(request.GET.get("offset", ""))
    except ActivityFilterError as exc:
        error, status = str(exc), 400
    events = [] if error else list(activity_events(project, f)[offset : offset + PAGE_SIZE + 1])
    # What was typed, kept as typed: it refills the form, and the links carry it on.
    typed = {k: request.GET.get(k, "").strip() for k in ("actor", "action", "since", "until")}
    query = {k: v for k, v in typed.items() if v}

    def page_link(at: int) -> str:
        return "?" + urlencode({**query, "offset": at} if at else query)

    context = {
        "project": project,
        # Values shown as the exports give them: JSON.
        "rows": [
            (e, {"before": _json(e.before), "after": _json(e.after), "detail": _json(e.detail)})
            for e in events[:PAGE_SIZE]
        ],
        "error": error,
        "typed": typed,
        "actions": actions_choices(),
        "people": User.objects.filter(projects=project).order_by("username"),
        "newer": page_link(max(0, offset - PAGE_SIZE)) if offset else "",
        "older": page_link(offset + PAGE_SIZE) if len(events) > PAGE_SIZE else "",
        "export_query": urlencode(query),
        "offset": offset,
    }
    return render(request, "activity.html", context, status=status)


@require_GET
@login_required
def activity_export(request: AuthedHttpRequest, project_id: int) -> HttpResponseBase:
    """The filtered log, every row, streamed: ``?format=csv`` (the default) or ``jsonl``."""
    project = project_for(request.user, project_id, PERM_ACTIVITY)
    fmt = request.GET.get("format", "csv")
    if fmt not in EXPORTS:
        return HttpResponse(
            f"format: one of {', '.join(EXPORTS)}", status=400, content_type="text/plain"
        )
    try:
        f = activity_filter_parse(request.GET)
    except ActivityFilterError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    writer, content_type = EXPORTS[fmt]
    response = StreamingHttpResponse(writer(activity_events(project, f)), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-activity.{fmt}"'
    return response
