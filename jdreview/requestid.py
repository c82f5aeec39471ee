"""One id per request: in the response (``X-Request-ID``), in every line logged while it
runs, on the jobs it starts (``workers.Job.request_id``) and so in their lines too, so one
id ties a page action to the work it caused. And one line per request for the operator's
log search (logger ``jdreview.requests``): id, user, project, view, status, duration.

An incoming ``X-Request-ID`` (from a proxy, or a client retrying) is kept when it looks
like an id; anything else is replaced, so a header cannot write arbitrary text into logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

from jdreview.logs import log_context

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,64}")

logger = logging.getLogger("jdreview.requests")


def request_id_for(request: HttpRequest) -> str:
    incoming = request.headers.get(HEADER, "")
    return incoming if _SANE.fullmatch(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        with log_context(request_id=request_id):
            response = self.get_response(request)
            response[HEADER] = request_id
            if logger.isEnabledFor(logging.INFO):  # the fields are not built for nobody
                ms = (time.perf_counter() - started) * 1000
                logger.info(
                    "%s %s %s %.0f ms",
                    request.method,
                    request.path,
                    response.status_code,
                    ms,
                    extra=_request_fields(request, response.status_code, ms),
                )
        return response


def _request_fields(request: HttpRequest, status: int, ms: float) -> dict[str, Any]:
    match = request.resolver_match
    project = match.kwargs.get("project_id") if match else None
    return {
        "method": request.method,
        "path": request.path,
        "view": match.view_name if match else None,
        "user_id": _user_id(request),
        "project_id": project,
        "status": status,
        "duration_ms": round(ms, 1),
    }


def _user_id(request: HttpRequest) -> int | None:
    """The user the request was served as, if anything asked. Never looked up here: that
    would read the session, and while the database is away the line must still be written."""
    user: Any = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return int(user.pk)
