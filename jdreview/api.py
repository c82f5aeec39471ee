"""API plumbing shared by the apps: the error shape, the JSON parser, the catch-all 404.

Every error the API answers is ``{"detail": "<message>"}``; a refused import adds
``"errors"`` (one line per problem), a refused form adds ``"field_errors"`` (DRF's
per-field messages), so a client can always show ``detail`` and may look closer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from jdreview.errors import UserError

# Every table's id is a BigAutoField: a number past PostgreSQL's bigint names nothing.
MAX_ID = 2**63 - 1
PAGE_MAX = 1000


@contextmanager
def unusable_input(what: str) -> Iterator[None]:
    """Around code we do not own that reads and stores what a person sent (an import's
    parser): nesting past Python's recursion limit, or a value the database cannot store
    (PostgreSQL's: a NUL character, a number past 1e308 read as infinity), is the sender's
    error, a 400, not a 500. In one transaction, so nothing of a refused import is kept."""
    try:
        with transaction.atomic():
            yield
    except RecursionError:
        raise exceptions.ParseError(f"{what} is nested too deeply to read") from None
    except DataError as exc:
        reason = str(exc).splitlines()[0]
        raise exceptions.ParseError(
            f"{what} holds a value that cannot be stored ({reason})"
        ) from None


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "this conflicts with what is already stored"
    default_code = "conflict"


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """A row id given as input: a positive number that fits the table's bigint."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class PageIn(serializers.Serializer):
    """``?limit=`` and ``?offset=`` of a list. A bad one is a 400, not quietly the default."""

    limit = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text=f"How many rows: {api_settings.PAGE_SIZE} unless given, at most {PAGE_MAX} "
        "(more is read as the most).",
    )
    offset = serializers.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, help_text="How many rows to skip."
    )


def page_from(request: Request) -> tuple[int, int]:
    """(limit, offset) that the request asks for."""
    page = PageIn(data=request.query_params.dict())
    page.is_valid(raise_exception=True)
    limit = page.validated_data.get("limit", api_settings.PAGE_SIZE)
    return min(limit, PAGE_MAX), page.validated_data.get("offset", 0)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's, reading limit and offset as the unpaginated lists do (``page_from``)."""

    max_limit = PAGE_MAX

    def get_limit(self, request: Request) -> int:
        return page_from(request)[0]

    def get_offset(self, request: Request) -> int:
        return page_from(request)[1]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = []
        for name, field in PageIn().fields.items():
            schema = {"type": "integer", "minimum": field.min_value}
            if field.max_value is not None:
                schema["maximum"] = field.max_value
            params.append(
                {"name": name, "in": "query", "description": str(field.help_text), "schema": schema}
            )
        return params


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="A refused import: one line per problem.",
    )
    field_errors = serializers.DictField(
        required=False, help_text="A refused form: the messages per field, as DRF gives them."
    )


# What any operation may answer besides its own; the last two come from middleware
# (jdreview.middleware, jdreview.outage), before or around the view.
ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: OpenApiResponse(ErrorOut, description="No or an unknown token."),
    403: ErrorOut,
    404: ErrorOut,
    413: OpenApiResponse(ErrorOut, description="The request body is over the size limit."),
    503: OpenApiResponse(
        ErrorOut, description="The database or queue is restarting: retry after Retry-After."
    ),
}


def _messages(detail: Any, path: str = "") -> Iterator[str]:
    """DRF's nested error detail as flat "field.sub: message" lines."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            yield from _messages(value, f"{path}.{name}" if path and name else path or name)
    elif isinstance(detail, list):
        for value in detail:
            yield from _messages(value, path)
    else:
        yield f"{path}: {detail}" if path else str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the project's domain errors as 4xx with a message."""
    if isinstance(exc, UserError):
        body: dict[str, Any] = {"detail": str(exc)}
        if exc.errors is not None:
            body["errors"] = exc.errors
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, SuspiciousOperation) and not isinstance(exc, RequestDataTooBig):
        # Over a thousand query fields, say: Django's answer is an HTML 400 page. A body
        # over the limit is left to the body-size middleware, which answers 413.
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        # DRF answers a bare list or a {field: [...]} map; clients get one shape.
        shaped: dict[str, Any] = {"detail": "; ".join(_messages(exc.detail)) or "invalid input"}
        if isinstance(exc.detail, dict):
            shaped["field_errors"] = exc.detail
        response.data = shaped
    return response


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any /api/ path no endpoint matches: a JSON 404, as the API's other errors are.

    Matching every path under /api/, it keeps CommonMiddleware from adding a missing
    slash, so it does that here: a GET is redirected as before; another method cannot
    follow a redirect with its body, so it is told the right path."""
    message = f"no such API endpoint: {request.path}"
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            if request.method in ("GET", "HEAD"):
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(f"{request.path}/?{query}".rstrip("?"))
            message += f" (the endpoint is {request.path}/)"
    return JsonResponse({"detail": message}, status=404)
