"""A job's parameters and metrics as people read them: ``{{ value|job_value:name }}`` and
``{% for label, text in job|job_params %}``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from workers.models import Job
from workers.registry import get_kind

register = template.Library()

NONE = "—"
_SHARES = ("accuracy", "auc", "recall", "precision")


def is_share(name: str) -> bool:
    """A metric named as a share: ends in ``_rate`` or ``share``, or its last word is
    accuracy, auc, recall or precision (``gold_accuracy``, ``val_auc``)."""
    name = name.lower()
    return (
        name.endswith("_rate")
        or name == "rate"
        or name.endswith("share")
        or name.rsplit("_", 1)[-1] in _SHARES
    )


def value_text(value: Any, name: str = "") -> str:
    """One scalar as text. The rule: None is "—"; a flag is yes/no; an int has thousands
    separators (12,345); a float in [0, 1] whose ``name`` is a share (:func:`is_share`) is a
    percentage with one decimal (0.0417 → "4.2%"); any other float has 3 significant digits
    (0.041666… → "0.0417", 1234.5 → "1,234", 12.345 → "12.3"); NaN and infinities are "—"."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return NONE
        if name and is_share(name) and 0.0 <= value <= 1.0:
            return f"{value:.1%}"
        if value != 0 and abs(value) >= 1000:
            return f"{round(value):,}"
        return f"{float(f'{value:.3g}'):g}" if value != 0 else "0"
    return str(value)


def _inline(value: Any, name: str) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_inline(v, str(k))}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_inline(v, name) for v in value) if value else NONE
    return value_text(value, name)


@register.filter
def job_value(value: Any, name: str = "") -> str | SafeString:
    """A parameter's or metric's value: scalars by :func:`value_text`; a list of scalars
    comma-separated; a dict (or a list of dicts) as one ``key: value`` line each."""
    if isinstance(value, Mapping):
        if not value:
            return NONE
        return format_html_join(
            "",
            '<span class="kv">{}: {}</span><br>',
            ((k, _inline(v, str(k))) for k, v in value.items()),
        )
    if isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        return format_html_join("", "<span>{}</span><br>", ((_inline(v, name),) for v in value))
    return _inline(value, name)


@register.filter
def metric_label(name: str) -> str:
    """A metric's key as words (``gold_error_rate`` → "gold error rate")."""
    return str(name).replace("_", " ")


@register.filter
def job_params(job: Job) -> list[tuple[str, str | SafeString]]:
    """Each declared parameter of the job's kind by its label, with the value it was given
    or "<default> (default)"; a stored name the kind no longer declares keeps its name."""
    params = job.params if isinstance(job.params, Mapping) else {}
    try:
        fields = get_kind(job.kind).fields
    except KeyError:
        fields = ()
    rows: list[tuple[str, str | SafeString]] = []
    for f in fields:
        if f.name in params:
            rows.append((f.label, job_value(params[f.name], f.name)))
        elif f.default is None:
            rows.append((f.label, "chosen when it runs"))
        else:
            rows.append((f.label, f"{_inline(f.default, f.name)} (default)"))
    declared = {f.name for f in fields}
    rows += [(metric_label(k), job_value(v, k)) for k, v in params.items() if k not in declared]
    return rows


@register.filter
def job_kind_title(job: Job) -> str:
    """The kind's title ("Export labels"), or its name when the kind is not registered."""
    try:
        return get_kind(job.kind).title
    except KeyError:
        return job.kind
