"""A request body is refused by its size before it is read.

Django reads a body only when a view asks for it, and then whole: a 200 MB upload was held
in a worker's memory before the view found it too big. Here a Content-Length over
REQUEST_MAX_BYTES is answered 413 before a byte is read.

A body without a Content-Length (chunked transfer) is one Django never reads: its stream is
limited to the declared length, 0. Where the server says that input ends on its own
(``wsgi.input_terminated``, as gunicorn does for a chunked request), the body is read here,
at most up to the cap, into a spooled file: past the cap it is refused with 413; within it,
the request carries the body and its length, so Django's and DRF's parsers, which trust
only Content-Length, see it. Without that flag reading could wait on a client that has
finished, so the request is left as Django would leave it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import IO, BinaryIO, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase

CHUNK = 64 * 1024


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limit: int = settings.REQUEST_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared:
            try:
                length = int(declared)
            except ValueError:
                return _refused(request, 400, "The Content-Length header is not a number.")
            if length > limit:
                return _too_large(request, limit, length)
            return self.get_response(request)
        if not (isinstance(request, WSGIRequest) and _terminated_chunked(request)):
            return self.get_response(request)
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            if not _copied(request.META["wsgi.input"], body, limit):
                return _too_large(request, limit)
            size = body.tell()
            body.seek(0)
            request.META["CONTENT_LENGTH"] = str(size)
            # The file holds the body and nothing more, so it needs no LimitedStream around it.
            request._stream = cast(BinaryIO, body)
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Django raises this for form fields (everything but the files) over
        # DATA_UPLOAD_MAX_MEMORY_SIZE; unhandled, a view answers 400 or, under DRF, 500.
        if isinstance(exception, RequestDataTooBig):
            limit: int = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return _refused(
                request,
                413,
                f"The request's form data (everything but the files) is over the limit of "
                f"{limit:,} bytes.",
            )
        return None


def _terminated_chunked(request: WSGIRequest) -> bool:
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked and bool(request.META.get("wsgi.input_terminated"))


def _copied(source: IO[bytes], target: IO[bytes], limit: int) -> bool:
    """Copy the whole of ``source``; False, having read one byte more, past ``limit``."""
    size = 0
    while chunk := source.read(min(CHUNK, limit + 1 - size)):
        size += len(chunk)
        if size > limit:
            return False
        target.write(chunk)
    return True


def _too_large(request: HttpRequest, limit: int, length: int | None = None) -> HttpResponse:
    size = "" if length is None else f"{length:,} bytes, "
    return _refused(
        request,
        413,
        f"The request is {size}over the limit of {limit:,} bytes; "
        "send fewer or smaller files per request.",
    )


def _refused(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
