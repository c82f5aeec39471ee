"""API plumbing shared by the apps: error shape."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the project's domain errors as 4xx with a message."""
    from labeling.items import ImportError_
    from labeling.schemas import AnnotationError
    from labeling.services import QueueError
    from labeling.uploads import UploadError

    if isinstance(exc, ImportError_):
        return Response({"detail": str(exc), "errors": exc.errors}, status=400)
    if isinstance(exc, UploadError | AnnotationError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, QueueError):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)
