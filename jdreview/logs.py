"""Log lines an operator can search: the context every line carries (the request id, the
job), and the two formats (``LOG_FORMAT``: ``text``, the default, or ``json``, one object a
line).

The context lives in a context variable, set by the request middleware
(jdreview/requestid.py) around a request and by ``workers.services.job_run`` around a
job, so any logger's line written meanwhile carries it without being passed it. Plain
Python: no Django, so settings can name these classes and the ML code may log freely.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The fields a line may carry from its context, in the order the text format shows them.
CONTEXT_FIELDS = ("request_id", "job_id", "job_kind")

_context: ContextVar[dict[str, Any]] = ContextVar("jdreview_log_context", default={})  # noqa: B039

# A LogRecord's own attributes; anything else on a record came from ``extra=`` and is a
# field of the JSON line.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}


def log_context_get() -> dict[str, Any]:
    return dict(_context.get())


def current_request_id() -> str:
    """The id of the request (or of the request behind the job) this code runs for; ""."""
    return str(_context.get().get("request_id") or "")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to the context of every line logged inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


_jobs = logging.getLogger("jdreview.jobs")
_STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ")


def job_step(job: Any) -> None:
    """One line per progress write of a running job (``workers.reporter``): its id, kind,
    progress and latest log line (the step)."""
    if not _jobs.isEnabledFor(logging.INFO):
        return
    step = _STAMP.sub("", job.log_tail.rpartition("\n")[2])
    _jobs.info(
        "job %s %s at %.0f%%%s",
        job.pk,
        job.kind,
        job.progress * 100,
        f": {step}" if step else "",
        extra={"job_id": job.pk, "job_kind": job.kind, "progress": job.progress, "step": step},
    )


class ContextFilter(logging.Filter):
    """Puts the context's fields on each record (a handler's filter: it sees the records of
    every logger that propagates to it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message [request … job …]``: what a person reads in a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        context = " ".join(
            f"{key.replace('_id', '')}={getattr(record, key)}"
            for key in CONTEXT_FIELDS
            if getattr(record, key, None)
        )
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context, every ``extra``
    field, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)
