"""What an annotation of each item kind must contain, and the check that enforces it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The aspects come from the aspect registry (torch-free to import); re-exported here for
# the annotation checks and the Django code that validates against them.
from jdreview.errors import UserError
from rewards.ml.aspects import AD_ASPECTS

VERDICTS = ("ok", "defect")
USABLE = ("yes", "no")
MAX_REASON_CHARS = 2000
MAX_MARKS = 50


class AnnotationError(UserError, ValueError):
    """The submitted annotation is malformed; the message says what to fix."""


@dataclass(frozen=True)
class Field:
    name: str
    choices: tuple[str, ...]
    label: str
    keys: tuple[str, ...]  # keyboard shortcuts, one per choice

    @property
    def options(self) -> list[tuple[str, str]]:
        return list(zip(self.choices, self.keys, strict=True))


AD_IMAGE_FIELDS: tuple[Field, ...] = (
    Field("shape", VERDICTS, "Shape intact", ("q", "a")),
    Field("placement", VERDICTS, "Placement", ("w", "s")),
    Field("color", VERDICTS, "Color", ("e", "d")),
    Field("usable", USABLE, "Usable overall", ("r", "f")),
)


def validate_ad_image(
    values: Any, marks: Any, *, width: int | None, height: int | None
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    if not isinstance(values, dict):
        raise AnnotationError("values must be an object like {'shape': 'ok', ...}")
    clean: dict[str, str] = {}
    for f in AD_IMAGE_FIELDS:
        v = values.get(f.name)
        if v not in f.choices:
            raise AnnotationError(f"'{f.name}' must be one of {', '.join(f.choices)} (got {v!r})")
        clean[f.name] = v
    unknown = set(values) - {f.name for f in AD_IMAGE_FIELDS}
    if unknown:
        raise AnnotationError(f"unknown fields: {', '.join(sorted(unknown))}")
    defects = [a for a in AD_ASPECTS if clean[a] == "defect"]
    # A defect makes the ad unusable (the simulated reviewers, the world's truth and the
    # audit all hold this), so "usable" with a defect is a slip, not a judgement. The
    # reverse stays allowed: every aspect ok and still not usable overall.
    if clean["usable"] == "yes" and defects:
        raise AnnotationError(
            f"usable is 'yes' but {', '.join(defects)} is marked defect: "
            "an ad with a defect is not usable"
        )
    return clean, validate_marks(marks, width=width, height=height)


def validate_marks(marks: Any, *, width: int | None, height: int | None) -> list[dict[str, Any]]:
    if marks in (None, ""):
        return []
    if not isinstance(marks, list) or len(marks) > MAX_MARKS:
        raise AnnotationError(f"marks must be a list of at most {MAX_MARKS} points or boxes")
    w, h = width or 10**6, height or 10**6
    clean = []
    for i, m in enumerate(marks):
        if not isinstance(m, dict) or m.get("type") not in ("point", "box"):
            raise AnnotationError(f"mark {i}: needs type 'point' or 'box'")
        try:
            x, y = float(m["x"]), float(m["y"])
            bw = float(m.get("w", 0)) if m["type"] == "box" else 0.0
            bh = float(m.get("h", 0)) if m["type"] == "box" else 0.0
        except (KeyError, TypeError, ValueError):
            raise AnnotationError(
                f"mark {i}: x and y (and w, h for a box) must be numbers"
            ) from None
        inside = 0 <= x <= w and 0 <= y <= h and bw >= 0 and bh >= 0
        if not (inside and x + bw <= w and y + bh <= h):
            raise AnnotationError(f"mark {i}: outside the image ({w}×{h} pixels)")
        aspect = m.get("aspect")
        if aspect is not None and aspect not in AD_ASPECTS:
            raise AnnotationError(f"mark {i}: unknown aspect {aspect!r}")
        entry: dict[str, Any] = {"type": m["type"], "x": round(x, 1), "y": round(y, 1)}
        if m["type"] == "box":
            entry.update(w=round(bw, 1), h=round(bh, 1))
        if aspect:
            entry["aspect"] = aspect
        clean.append(entry)
    return clean


def validate_reason(reason: Any) -> str:
    if reason in (None, ""):
        return ""
    if not isinstance(reason, str):
        raise AnnotationError("reason must be text")
    if len(reason) > MAX_REASON_CHARS:
        raise AnnotationError(f"reason is longer than {MAX_REASON_CHARS} characters")
    return reason.strip()


def gold_matches(values: dict[str, Any], gold: dict[str, Any]) -> bool:
    """A gold check passes when every field the gold answer names is matched; a nested gold
    answer (the terms of an expansion, the steps of a trace) is matched key by key."""
    for k, want in gold.items():
        got = values.get(k)
        if isinstance(want, dict):
            if not isinstance(got, dict) or not gold_matches(got, want):
                return False
        elif got != want:
            return False
    return True
