"""Exports of labels: JSON lines, a Hugging Face ``datasets``-ready file, Label Studio tasks.

Label Studio's format here is its JSON task list for image classification with one
``<Choices>`` per aspect: ``{"data": {"image": ...}, "annotations": [{"result": [
{"from_name": "shape", "to_name": "image", "type": "choices",
"value": {"choices": ["ok"]}}, ...]}]}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from jdreview.activity import activity_record
from jdreview.models import Project
from labeling.models import AD_IMAGE, Annotation, Item
from labeling.schemas import AD_IMAGE_FIELDS

FORMATS = ("jsonl", "hf", "labelstudio")


def _annotations(project: Project) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(project=project, undone=False)
        .select_related("item", "item__product", "user")
        .order_by("id")
    )


def export_count(project: Project) -> int:
    """How many annotations an export of ``project`` writes (counted first, for progress)."""
    return _annotations(project).count()


def export_record(
    *,
    project: Project,
    fmt: str,
    user: User | AnonymousUser | None = None,
    annotations: int | None = None,
) -> None:
    """The activity log's row for labels leaving the system: a file an export job wrote
    (the job is the actor), or a download from the API (the person is)."""
    detail: dict[str, Any] = {"format": fmt}
    if annotations is not None:
        detail["annotations"] = annotations
    activity_record(project=project, action="labels.export", actor=user, detail=detail)


def annotation_record(a: Annotation) -> dict[str, Any]:
    item = a.item
    if item.kind == AD_IMAGE:
        values: dict[str, Any] = {f.name: a.values.get(f.name) for f in AD_IMAGE_FIELDS}
    else:  # expansions and traces keep their nested values as they are
        values = {"values": a.values}
    return {
        "annotation_id": a.pk,
        "item_id": item.pk,
        "kind": item.kind,
        "external_id": item.external_id,
        "image": item.image.name,
        "product_sku": item.product.sku if item.product else "",
        "annotator": a.user.get_username(),
        **values,
        "marks": a.marks,
        "reason": a.reason,
        "is_gold": a.is_gold,
        "gold_correct": a.gold_correct,
        "lead_time_ms": a.lead_time_ms,
        "created_at": a.created_at.isoformat(),
    }


def export_jsonl(project: Project) -> Iterator[str]:
    for a in _annotations(project).iterator(chunk_size=2000):
        yield json.dumps(annotation_record(a), ensure_ascii=False) + "\n"


def export_hf(project: Project) -> Iterator[str]:
    """JSON lines with a fixed flat schema (``datasets.load_dataset("json", ...)`` infers
    one type per column, so nested marks travel as a JSON string and nulls become "")."""
    for a in _annotations(project).iterator(chunk_size=2000):
        r = annotation_record(a)
        r["marks"] = json.dumps(r["marks"])
        r["gold_correct"] = "" if r["gold_correct"] is None else str(r["gold_correct"]).lower()
        r["lead_time_ms"] = r["lead_time_ms"] or 0
        if "values" in r:
            r["values"] = json.dumps(r["values"], ensure_ascii=False)
        else:
            r["label_usable"] = 1 if r["usable"] == "yes" else 0
        yield json.dumps(r, ensure_ascii=False) + "\n"


def export_labelstudio(project: Project, *, media_url: str = "/media/") -> list[dict[str, Any]]:
    tasks: dict[int, dict[str, Any]] = {}
    items = Item.objects.filter(project=project).select_related("product").order_by("id")
    for item in items.iterator(chunk_size=2000):
        tasks[item.pk] = {
            "id": item.pk,
            "data": {
                "image": f"{media_url}{item.image.name}",
                "external_id": item.external_id,
                "product_sku": item.product.sku if item.product else "",
            },
            "annotations": [],
        }
    for a in _annotations(project).iterator(chunk_size=2000):
        tasks[a.item_id]["annotations"].append(
            {
                "id": a.pk,
                "completed_by": {"username": a.user.get_username()},
                "created_at": a.created_at.isoformat(),
                "lead_time": (a.lead_time_ms or 0) / 1000,
                "result": [
                    {
                        "from_name": f.name,
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": [a.values[f.name]]},
                    }
                    for f in AD_IMAGE_FIELDS
                    if f.name in a.values
                ],
            }
        )
    return list(tasks.values())


LABEL_STUDIO_CONFIG = (
    """<View>
  <Image name="image" value="$image"/>
"""
    + "".join(
        f'  <Choices name="{f.name}" toName="image" choice="single" showInLine="true">\n'
        + "".join(f'    <Choice value="{c}"/>\n' for c in f.choices)
        + "  </Choices>\n"
        for f in AD_IMAGE_FIELDS
    )
    + "</View>\n"
)
