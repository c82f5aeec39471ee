"""Response headers that keep pages safe by default: a Content-Security-Policy.

Scripts come only from the app's own static files (htmx is served locally by django-htmx,
and no template has an inline script or event handler), so an injected ``<script>`` or
``onerror=`` does not run even where escaping were ever missed. Styles allow inline
``style`` attributes (progress bars and a few layouts set widths inline); that cannot run
code. Pages may not be framed (clickjacking) and forms post only to this site.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
