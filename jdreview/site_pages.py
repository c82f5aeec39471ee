"""The site's pages outside any feature: the error pages and the favicon.

People get a styled page with the way back (home, and the project they were in when they
may see it); the API keeps answering errors as JSON (``{"detail": ...}``), as its views
and the /api/ catch-all do (jdreview.api).
"""

from __future__ import annotations

import re

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static

from jdreview.access import projects_for
from jdreview.models import Project

_PROJECT_PATH = re.compile(r"^/p/(\d{1,18})/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _project(request: HttpRequest) -> Project | None:
    """The project in the path, when this person is a member: a way back to offer. An
    outsider is offered none, so an error page does not tell which projects exist."""
    match = _PROJECT_PATH.match(request.path)
    user = getattr(request, "user", None)
    if match is None or user is None:
        return None
    try:
        return projects_for(user).filter(pk=int(match.group(1))).first()
    except DatabaseError:  # the error page must render even when the database is the fault
        return None


def _page(request: HttpRequest, template: str, status: int, message: str = "") -> HttpResponse:
    context = {"project": _project(request), "message": message, "request_path": request.path}
    if not hasattr(request, "user"):  # failed before the auth middleware: no context processors
        return HttpResponse(loader.get_template(template).render(context), status=status)
    return render(request, template, context, status=status)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "not found"}, status=404)
    return _page(request, "404.html", 404)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    # The reason is one of jdreview.access's PERM_MESSAGES ("your role cannot ..."), or none.
    message = str(exception) if exception.args else ""
    if _is_api(request):
        return JsonResponse({"detail": message or "not allowed"}, status=403)
    return _page(request, "403.html", 403, message)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "bad request"}, status=400)
    # As Django's own handler: no request context, since what was bad may be the session.
    return HttpResponse(loader.get_template("400.html").render(), status=400)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links; send them to the SVG."""
    return HttpResponseRedirect(static("favicon.svg"))
