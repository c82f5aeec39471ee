"""The ``agent_trace`` item kind: a reviewer marks each step ok / reasoning error /
execution failure (with an optional note) and the outcome success / failure.

Values: ``{"steps": ["ok" | "reasoning" | "execution", ...one per step],
"notes": {"<step index>": "..."}, "outcome": "success" | "failure"}``. Agreement units:
one per step (group ``step``) plus the outcome (group ``outcome``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labeling.kinds import KindSpec, Marks, Values, register
from labeling.schemas import AnnotationError
from workers.agents.traces.records import pretty_json

if TYPE_CHECKING:
    from labeling.models import Item

STEP_VERDICTS: tuple[tuple[str, str, str], ...] = (
    ("ok", "1", "ok"),
    ("reasoning", "2", "reasoning error"),
    ("execution", "3", "execution failure"),
)
OUTCOMES: tuple[tuple[str, str], ...] = (("success", "s"), ("failure", "f"))
VERDICTS = tuple(v for v, _, _ in STEP_VERDICTS)
OUTCOME_VALUES = tuple(v for v, _ in OUTCOMES)
MAX_NOTE_CHARS = 500
MAX_FORM_STEPS = 200


def _n_steps(item: Item) -> int:
    steps = item.payload.get("steps") if isinstance(item.payload, dict) else None
    return len(steps) if isinstance(steps, list) else 0


def _clean_notes(notes: Any, n: int) -> dict[str, str]:
    if notes in (None, "", {}):
        return {}
    if not isinstance(notes, dict):
        raise AnnotationError("notes must be an object like {'0': 'why step 1 is wrong'}")
    clean = {}
    for key, text in notes.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < n):
            raise AnnotationError(f"notes: {key!r} is not a step of this trace (0 to {n - 1})")
        if not isinstance(text, str):
            raise AnnotationError(f"note on step {int(key) + 1} must be text")
        if len(text) > MAX_NOTE_CHARS:
            raise AnnotationError(
                f"note on step {int(key) + 1} is longer than {MAX_NOTE_CHARS} characters"
            )
        if text.strip():
            clean[str(int(key))] = text.strip()
    return clean


def validate(item: Item, values: Any, marks: Any) -> tuple[Values, Marks]:
    if not isinstance(values, dict):
        raise AnnotationError(
            "values must be an object like {'steps': ['ok', ...], 'outcome': 'success'}"
        )
    unknown = set(values) - {"steps", "notes", "outcome"}
    if unknown:
        raise AnnotationError(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    n = _n_steps(item)
    steps = values.get("steps")
    if not isinstance(steps, list) or len(steps) != n:
        got = f"{len(steps)}" if isinstance(steps, list) else repr(steps)
        raise AnnotationError(f"'steps' must give one verdict per step: {n} steps, got {got}")
    for i, v in enumerate(steps):
        if v not in VERDICTS:
            raise AnnotationError(
                f"step {i + 1}: choose {', '.join(VERDICTS)} (got {v!r})"
                if v
                else f"step {i + 1} has no verdict yet: choose ok, reasoning or execution"
            )
    outcome = values.get("outcome")
    if outcome not in OUTCOME_VALUES:
        raise AnnotationError(
            f"'outcome' must be success or failure (got {outcome!r})"
            if outcome
            else "choose the outcome: success or failure"
        )
    if marks not in (None, "", []):
        raise AnnotationError("agent traces take no marks")
    notes = _clean_notes(values.get("notes"), n)
    return {"steps": list(steps), "notes": notes, "outcome": outcome}, []


def parse_form(form: Mapping[str, Any]) -> tuple[Any, Any]:
    raw = str(form.get("n_steps", ""))
    if not raw.isdigit() or int(raw) > MAX_FORM_STEPS:
        return {"steps": None, "outcome": form.get("outcome", "")}, []
    n = int(raw)
    values = {
        "steps": [form.get(f"step_{i}", "") for i in range(n)],
        "notes": {str(i): form[f"note_{i}"] for i in range(n) if form.get(f"note_{i}")},
        "outcome": form.get("outcome", ""),
    }
    return values, []


def units(values: Values) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    steps = values.get("steps")
    if isinstance(steps, list):
        out["step"] = {str(i): v for i, v in enumerate(steps)}
    if "outcome" in values:
        out["outcome"] = {"": values["outcome"]}
    return out


def context(item: Item) -> dict[str, Any]:
    """The steps as the page shows them (JSON pretty-printed, as text: never marked safe)."""
    payload = item.payload if isinstance(item.payload, dict) else {}
    rows = []
    for i, step in enumerate(payload.get("steps") or []):
        obs = step.get("observation")
        rows.append(
            {
                "index": i,
                "key": str(i),
                "number": i + 1,
                "thought": step.get("thought") or "",
                "tool": step.get("tool") or "",
                "arguments": pretty_json(step.get("arguments")),
                "observation": pretty_json(obs),
                "tool_error": isinstance(obs, dict) and "error" in obs,
                "auto": step.get("auto") or "",
            }
        )
    return {
        "trace": payload,
        "trace_steps": rows,
        "step_verdicts": STEP_VERDICTS,
        "outcomes": OUTCOMES,
        "max_note_chars": MAX_NOTE_CHARS,
    }


AGENT_TRACE = register(
    KindSpec(
        kind="agent_trace",
        template="agents/_form.html",
        help_template="agents/_keys.html",
        validate=validate,
        parse_form=parse_form,
        units=units,
        context=context,
        script="js/trace.js",
        groups=("step", "outcome"),
    )
)
