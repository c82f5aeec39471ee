"""Reading a trace import: one JSON object, a JSON list of them, or JSON lines, each in the
chat format of workers/agents/ml/FORMAT.md.

Every trace is checked before anything is stored; the errors name the trace (its line in a
JSON-lines file, its position in a list) and the field, e.g.
``line 3: messages[2].tool_calls[0].function.name: unknown tool 'checkout' (known: ...)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jdreview.jsonin import json_loads
from workers.agents.ml.trace import Trace, TraceFormatError, parse_trace

__all__ = ["MAX_STEPS", "MAX_TRACES", "ParsedTrace", "TraceImportError", "parse_import"]

MAX_TRACES = 5_000
MAX_STEPS = 60  # per trace: a review page, not a log viewer
MAX_EXTERNAL_ID = 200
MAX_ERRORS = 50


class TraceImportError(ValueError):
    """The import was refused; ``errors`` lists the problems, each naming its trace."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]) + (" …" if len(errors) > 5 else ""))
        self.errors = errors


@dataclass
class ParsedTrace:
    trace: Trace
    external_id: str = ""
    agent: str = "imported"
    is_gold: bool = False


def _records(text: str) -> list[tuple[str, Any]]:
    """(where, JSON value) per trace. Whole-text JSON first (one object, a list, or
    {"traces": [...]}); otherwise JSON lines, when the first line is JSON on its own."""
    stripped = text.strip()
    if not stripped:
        raise TraceImportError(["the import is empty: send traces as JSON or JSON lines"])
    try:
        whole = json_loads(stripped)
    except json.JSONDecodeError as e:
        lines = stripped.splitlines()
        try:
            json_loads(lines[0])
        except json.JSONDecodeError:
            # Not JSON lines either: report where the document itself breaks.
            raise TraceImportError(
                [f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"]
            ) from None
        except ValueError:
            pass  # the first line is JSON; what is wrong with it is reported as line 1's
        return [(f"line {n}", line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    except ValueError as e:  # nested too deep, or a number no database can store
        raise TraceImportError([str(e)]) from None
    if isinstance(whole, dict) and "traces" in whole and "messages" not in whole:
        whole = whole["traces"]
        if not isinstance(whole, list):
            raise TraceImportError(["traces: expected a list of traces"])
    if isinstance(whole, list):
        return [(f"trace {n}", obj) for n, obj in enumerate(whole, 1)]
    return [("trace 1", whole)]


def _one(where: str, raw: Any) -> ParsedTrace:
    if isinstance(raw, str):  # a JSON line, not parsed yet
        try:
            raw = json_loads(raw)
        except json.JSONDecodeError as e:
            raise TraceFormatError(f"invalid JSON at column {e.colno}: {e.msg}") from None
        except ValueError as e:
            raise TraceFormatError(str(e)) from None
    trace = parse_trace(raw)
    if len(trace.steps) > MAX_STEPS:
        raise TraceFormatError(f"messages: {len(trace.steps)} steps, at most {MAX_STEPS}")
    meta = trace.meta
    external_id = meta.pop("external_id", "")
    if not isinstance(external_id, str) or len(external_id) > MAX_EXTERNAL_ID:
        raise TraceFormatError(f"metadata.external_id: expected text of at most {MAX_EXTERNAL_ID}")
    agent = meta.pop("agent", "imported")
    if not isinstance(agent, str) or not agent.strip() or len(agent) > 60:
        raise TraceFormatError("metadata.agent: expected a name of at most 60 characters")
    gold = meta.pop("gold", False)
    if not isinstance(gold, bool):
        raise TraceFormatError("metadata.gold: expected true or false")
    if gold and (trace.labels is None or trace.task is None):
        raise TraceFormatError(
            "metadata.gold: a gold trace needs metadata.labels and metadata.task (its answer)"
        )
    return ParsedTrace(trace, external_id=external_id, agent=agent.strip(), is_gold=gold)


def parse_import(text: str) -> list[ParsedTrace]:
    """All traces of an import, or TraceImportError listing every problem found."""
    records = _records(text)
    if len(records) > MAX_TRACES:
        raise TraceImportError([f"{len(records)} traces; at most {MAX_TRACES} per import"])
    parsed, errors = [], []
    seen: dict[str, str] = {}
    for where, raw in records:
        try:
            p = _one(where, raw)
        except TraceFormatError as e:
            errors.append(f"{where}: {e}")
            continue
        if p.external_id:
            if p.external_id in seen:
                errors.append(
                    f"{where}: metadata.external_id {p.external_id!r} repeats {seen[p.external_id]}"
                )
            seen[p.external_id] = where
        parsed.append(p)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise TraceImportError(errors)
    return parsed
