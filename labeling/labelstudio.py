"""Import of Label Studio JSON tasks (image classification with choices)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from jdreview.models import Project
from labeling.items import ImportError_, NewItem, check_upload, items_create, record_items_added
from labeling.models import Annotation, Item
from labeling.schemas import AD_IMAGE_FIELDS, AnnotationError, validate_ad_image
from labeling.uploads import UploadError

MAX_TASKS = 10_000


def _image_bytes(ref: str, files: Mapping[str, bytes], where: str) -> tuple[bytes, str]:
    if ref.startswith("data:"):
        try:
            _, b64 = ref.split(",", 1)
            return base64.b64decode(b64, validate=True), "inline"
        except (ValueError, binascii.Error):
            raise ValueError(f"{where}: data.image is not a valid base64 data URI") from None
    name = ref.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if name not in files:
        raise ValueError(
            f"{where}: image {name!r} is referenced but was not uploaded with the tasks "
            "(this server cannot fetch URLs; attach the files or use data URIs)"
        )
    return files[name], name


def _values_from_result(result: Any, where: str) -> dict[str, str]:
    if not isinstance(result, list):
        raise ValueError(f"{where}: result must be a list")
    values: dict[str, str] = {}
    names = {f.name for f in AD_IMAGE_FIELDS}
    for r in result:
        if not isinstance(r, dict) or r.get("type") != "choices":
            continue
        name = r.get("from_name")
        choices = (r.get("value") or {}).get("choices") or []
        if name in names and len(choices) == 1:
            values[name] = choices[0]
    return values


def labelstudio_import(
    *, project: Project, tasks: Any, files: Mapping[str, bytes], user: User
) -> tuple[list[Item], int]:
    """Create items (and their annotations, attributed to the importing user) from Label
    Studio tasks. All-or-nothing; returns (items, number of annotations)."""
    if not isinstance(tasks, list) or not tasks:
        raise ImportError_(["expected a non-empty JSON list of Label Studio tasks"])
    if len(tasks) > MAX_TASKS:
        raise ImportError_([f"over {MAX_TASKS} tasks; split the file"])
    errors: list[str] = []
    new_items: list[NewItem] = []
    labels: list[list[dict[str, str]]] = []
    for i, task in enumerate(tasks):
        where = f"task {i}"
        try:
            if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
                raise ValueError(f"{where}: needs a 'data' object")
            ref = task["data"].get("image")
            if not isinstance(ref, str) or not ref:
                raise ValueError(f"{where}: data.image is missing")
            data, name = _image_bytes(ref, files, where)
            image = check_upload(data, f"{where} ({name})")
            task_labels = []
            for j, ann in enumerate(task.get("annotations") or []):
                if not isinstance(ann, dict):
                    raise ValueError(f"{where}, annotation {j}: must be an object")
                if ann.get("was_cancelled"):
                    continue
                values = _values_from_result(ann.get("result"), f"{where}, annotation {j}")
                try:
                    clean, _ = validate_ad_image(values, [], width=image.width, height=image.height)
                except AnnotationError as exc:
                    raise ValueError(f"{where}, annotation {j}: {exc}") from None
                task_labels.append(clean)
            new_items.append(
                NewItem(
                    image=image,
                    external_id=str(task["data"].get("external_id") or "")[:200],
                    product_sku=str(task["data"].get("product_sku") or ""),
                    source=Item.Source.IMPORT,
                    filename=name,
                )
            )
            labels.append(task_labels)
        except (UploadError, ValueError) as exc:
            errors.append(str(exc))
    if errors:
        raise ImportError_(errors)
    with transaction.atomic():
        items = items_create(project=project, new_items=new_items, log_activity=False)
        annotations = [
            Annotation(
                item=item, project=project, user=user, values=values, source="import:labelstudio"
            )
            for item, item_labels in zip(items, labels, strict=True)
            for values in item_labels
        ]
        Annotation.objects.bulk_create(annotations)
        for item, item_labels in zip(items, labels, strict=True):
            if item_labels:
                Item.objects.filter(pk=item.pk).update(
                    done_count=len(item_labels), claims=len(item_labels)
                )
        record_items_added(
            project,
            items,
            user=user,
            action="items.import_labelstudio",
            annotations=len(annotations),
        )
    return items, len(annotations)
