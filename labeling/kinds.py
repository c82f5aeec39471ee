"""What differs between the kinds of reviewable item: how an annotation is checked, how the
labeling page shows the item and reads its form, and how annotations split into units for
agreement statistics.

The queue, overlap, gold, skip, undo and agreement machinery is the same for every kind;
each kind only brings a :class:`KindSpec`. Ad images are defined here; a loop's own kind
(query expansions, agent traces) lives in the loop's folder and registers itself when the
loop's app is ready (see jdreview.loops).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labeling.schemas import AD_IMAGE_FIELDS, AnnotationError, validate_ad_image

if TYPE_CHECKING:
    from labeling.models import Item

Values = dict[str, Any]
Marks = list[dict[str, Any]]


@dataclass(frozen=True)
class KindSpec:
    kind: str
    # The form part of the labeling page (inside the task partial), and the key help
    # beside it.
    template: str
    help_template: str
    # Check and normalise a submission: (item, values, marks) -> (values, marks).
    validate: Callable[[Item, Any, Any], tuple[Values, Marks]]
    # Read the HTML form of the labeling page into (values, marks, for validate).
    parse_form: Callable[[Mapping[str, Any]], tuple[Any, Any]]
    # Split stored values into agreement units: {group: {unit: category}}. Agreement is
    # computed per group over the (item, unit) pairs that several people labeled.
    units: Callable[[Values], dict[str, dict[str, str]]]
    # Extra template context for the item (search results beside a query, say).
    context: Callable[[Item], dict[str, Any]] | None = None
    # Static JS file of the page's keyboard handling, relative to static/.
    script: str = ""
    groups: tuple[str, ...] = field(default=())


def _ad_validate(item: Item, values: Any, marks: Any) -> tuple[Values, Marks]:
    return validate_ad_image(values, marks, width=item.width, height=item.height)


def _ad_parse(form: Mapping[str, Any]) -> tuple[Any, Any]:
    values = {f.name: form.get(f.name, "") for f in AD_IMAGE_FIELDS}
    try:
        marks = json.loads(form.get("marks") or "[]")
    except json.JSONDecodeError:
        marks = "invalid"
    return values, marks


def _ad_units(values: Values) -> dict[str, dict[str, str]]:
    return {f.name: {"": values[f.name]} for f in AD_IMAGE_FIELDS if f.name in values}


AD_IMAGE = KindSpec(
    kind="ad_image",
    template="labeling/_form_ad_image.html",
    help_template="labeling/_keys_ad_image.html",
    validate=_ad_validate,
    parse_form=_ad_parse,
    units=_ad_units,
    script="js/label.js",
    groups=tuple(f.name for f in AD_IMAGE_FIELDS),
)

_SPECS: dict[str, KindSpec] = {"ad_image": AD_IMAGE}


def register(spec: KindSpec) -> KindSpec:
    _SPECS[spec.kind] = spec
    return spec


def spec_for(kind: str) -> KindSpec:
    try:
        return _SPECS[kind]
    except KeyError:
        raise AnnotationError(f"items of kind {kind!r} cannot be labeled") from None
