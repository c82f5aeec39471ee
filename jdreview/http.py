"""Request types for views, so the editor and mypy know what a view may rely on."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthedHttpRequest(HttpRequest):
    """A request to a ``@login_required`` view: the user is a real account."""

    user: User  # type: ignore[assignment]
    htmx: HtmxDetails
