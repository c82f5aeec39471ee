"""While the database or the broker is briefly away (a restart, a failover), a request that
needs it is answered 503 with Retry-After instead of 500: the client is told to try again,
and the error log keeps the real bugs. Django reconnects by itself on the next request
(``CONN_HEALTH_CHECKS``), so nothing here retries."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 3
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerError,
    RedisConnectionError,
    RedisTimeoutError,
)
MESSAGE = "The service is briefly unavailable (its database or queue is restarting)."
PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Try again shortly</title></head>
<body><h1>Try again shortly</h1><p>{MESSAGE} Try again in a few seconds.</p></body></html>
"""


class OutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OUTAGE_ERRORS):
            return None
        logger.warning("503 for %s %s: %r", request.method, request.path, exception)
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": f"{MESSAGE} Retry shortly."}, status=503)
        else:
            # A string, not a template: rendering one could need the database that is away.
            response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_S)
        # Logged above as a warning with its cause; Django would log it again as an error
        # (django.utils.log.log_response skips a response marked so).
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
