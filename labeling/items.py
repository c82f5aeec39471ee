"""Creating items: single uploads, JSON-lines manifests, and the benchmark world.

Imports are all-or-nothing: every record and every image is checked first, and only a
fully valid batch is stored, in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction

from jdreview.activity import activity_record
from jdreview.errors import UserError
from jdreview.jsonin import json_loads
from jdreview.models import Product, Project
from labeling.models import AD_IMAGE, Item
from labeling.schemas import AD_ASPECTS, AD_IMAGE_FIELDS
from labeling.uploads import CheckedImage, UploadError, check_image

MAX_MANIFEST_LINES = 10_000
ANALYZE_AFTER = 500  # items in one batch
AD_FIELDS = (*AD_ASPECTS, "usable")


class ImportError_(UserError, ValueError):
    """A batch was refused; ``errors`` lists every problem found, by line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]) + (" …" if len(errors) > 5 else ""))
        self.errors = errors


@dataclass
class NewItem:
    image: CheckedImage
    external_id: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    product_sku: str = ""
    is_gold: bool = False
    gold_answer: dict[str, str] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    source: str = Item.Source.UPLOAD
    filename: str = "image"


def check_upload(data: bytes, name: str) -> CheckedImage:
    """An item image from outside, checked against the upload limits and normalised: every
    path that stores one (upload, manifest, Label Studio import) comes through here."""
    return check_image(
        data,
        name=name,
        max_bytes=settings.UPLOAD_MAX_BYTES,
        max_pixels=settings.UPLOAD_MAX_PIXELS,
        max_side=settings.UPLOAD_MAX_SIDE,
        max_aspect=settings.UPLOAD_MAX_ASPECT,
    )


def check_gold_answer(answer: Any, where: str) -> dict[str, str]:
    if answer in (None, {}, ""):
        return {}
    if not isinstance(answer, dict):
        raise ValueError(f"{where}: gold_answer must be an object")
    allowed = {f.name: f.choices for f in AD_IMAGE_FIELDS}
    for k, v in answer.items():
        if k not in allowed or v not in allowed[k]:
            raise ValueError(f"{where}: gold_answer {k}={v!r} is not a valid answer")
    return dict(answer)


def items_create(
    *,
    project: Project,
    new_items: list[NewItem],
    user: User | None = None,
    log_activity: bool = True,
) -> list[Item]:
    """Store checked items (files, then rows) atomically; files of a failed batch are removed.

    ``user`` is who added them (none for a job's). A caller whose own change the items are
    part of (a Label Studio import) records that change instead (``log_activity=False``)."""
    skus = {n.product_sku for n in new_items if n.product_sku}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    missing = sorted(skus - set(products))
    if missing:
        raise ImportError_([f"unknown product sku: {s}" for s in missing])
    ext_ids = [n.external_id for n in new_items if n.external_id]
    if len(ext_ids) != len(set(ext_ids)):
        raise ImportError_(["external_id values repeat within the batch"])
    clash = set(
        Item.objects.filter(project=project, external_id__in=ext_ids).values_list(
            "external_id", flat=True
        )
    )
    if clash:
        raise ImportError_([f"external_id already in this project: {e}" for e in sorted(clash)])
    written: list[str] = []
    try:
        with transaction.atomic():
            created = []
            for n in new_items:
                name = default_storage.save(
                    f"items/{project.slug}/{n.image.sha256[:16]}.{n.image.ext}",
                    ContentFile(n.image.data),
                )
                written.append(name)
                item = Item(
                    project=project,
                    kind=AD_IMAGE,
                    source=n.source,
                    external_id=n.external_id,
                    product=products.get(n.product_sku),
                    image_sha256=n.image.sha256,
                    width=n.image.width,
                    height=n.image.height,
                    payload=n.payload,
                    recipe=n.recipe,
                    truth=n.truth,
                    is_gold=n.is_gold,
                    gold_answer=n.gold_answer,
                )
                item.image.name = name
                created.append(item)
            stored = Item.objects.bulk_create(created)
            if log_activity and stored:
                record_items_added(project, stored, user=user, action="items.create")
    except Exception:
        for name in written:
            default_storage.delete(name)
        raise
    if len(stored) >= ANALYZE_AFTER:
        refresh_queue_statistics()
    return stored


def record_items_added(
    project: Project, items: list[Item], *, user: User | None, action: str, **extra: Any
) -> None:
    """One row for a batch of new items (which ids, from where), not one per item."""
    activity_record(
        project=project,
        action=action,
        actor=user,
        obj=items[0] if len(items) == 1 else None,
        detail={
            "count": len(items),
            "first_id": items[0].pk,
            "last_id": items[-1].pk,
            "kind": items[0].kind,
            "sources": sorted({i.source for i in items}),
            **extra,
        },
    )


def refresh_queue_statistics() -> None:
    """Fresh planner statistics for the item table, after a large import (PostgreSQL).

    Until autovacuum gets to a table that just grew by thousands of rows, the planner can
    pick a plan for the queue's claim that is 100x slower (seen in bench/annotation_loop.py:
    556 ms instead of 0.5 ms per claim)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Item._meta.db_table}")


def parse_manifest(text: str, files: Mapping[str, bytes]) -> list[NewItem]:
    """Read a JSON-lines manifest. Each line: ``{"image": "<uploaded file name>"}`` or
    ``{"image_base64": "..."}``, plus optional ``external_id``, ``product_sku``,
    ``payload`` (object), ``gold_answer`` (object). Raises ImportError_ listing every bad line.
    """
    errors: list[str] = []
    items: list[NewItem] = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ImportError_(["the manifest is empty"])
    if len(lines) > MAX_MANIFEST_LINES:
        raise ImportError_([f"the manifest has over {MAX_MANIFEST_LINES} lines; split it"])
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        try:
            record = json_loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not valid JSON ({exc.msg})")
            continue
        except ValueError as exc:  # nested too deep, or a number no database stores
            errors.append(f"{where}: {exc}")
            continue
        if not isinstance(record, dict):
            errors.append(f"{where}: each line must be a JSON object")
            continue
        try:
            items.append(_manifest_item(record, files, where))
        except (UploadError, ValueError) as exc:
            errors.append(str(exc) if str(exc).startswith(where) else f"{where}: {exc}")
    if errors:
        raise ImportError_(errors)
    return items


def _manifest_item(record: dict[str, Any], files: Mapping[str, bytes], where: str) -> NewItem:
    if "image_base64" in record:
        try:
            data = base64.b64decode(record["image_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError(f"{where}: image_base64 is not valid base64") from None
        name = str(record.get("external_id") or "image")
    elif "image" in record:
        name = str(record["image"]).rsplit("/", 1)[-1]
        if name not in files:
            raise ValueError(f"{where}: image {name!r} was not uploaded with the manifest")
        data = files[name]
    else:
        raise ValueError(f"{where}: needs 'image' (an uploaded file name) or 'image_base64'")
    payload = record.get("payload", {})
    if not isinstance(payload, dict):
        raise ValueError(f"{where}: payload must be an object")
    return NewItem(
        image=check_upload(data, f"{where} ({name})"),
        external_id=str(record.get("external_id", ""))[:200],
        payload=payload,
        product_sku=str(record.get("product_sku", "")),
        is_gold=bool(record.get("gold_answer")),
        gold_answer=check_gold_answer(record.get("gold_answer"), where),
        source=Item.Source.IMPORT,
        filename=name,
    )
