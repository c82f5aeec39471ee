"""Located product boxes, kept on the item: the alignment search runs once per image (when
it is scored or first trained on), and retraining reuses the box."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labeling.models import Item


def _ref_name(item: Item) -> str:
    return (item.product.cutout.name or "") if item.product and item.product.cutout else ""


def known_boxes(items: Sequence[Item]) -> np.ndarray:
    """[N, 4] boxes stored for these items; NaN rows where none is stored or where it was
    found with other alignment settings or another reference cut-out."""
    from rewards.ml.align import VERSION

    out = np.full((len(items), 4), np.nan, np.float32)
    for i, item in enumerate(items):
        got = item.located or {}
        box = got.get("box")
        if (
            got.get("version") == VERSION
            and got.get("ref") == _ref_name(item)
            and isinstance(box, list)
            and len(box) == 4
        ):
            out[i] = box
    return out


def store_boxes(items: Sequence[Item], boxes: np.ndarray) -> int:
    """Keep each item's located box (rows with NaN are skipped); returns how many changed."""
    from rewards.ml.align import VERSION

    changed = []
    for item, box in zip(items, boxes):
        if np.isnan(box).any():
            continue
        entry = {
            "box": [float(v) for v in box],  # exact: a rounded box crops differently
            "ref": _ref_name(item),
            "version": VERSION,
        }
        if item.located != entry:
            item.located = entry
            changed.append(item)
    Item.objects.bulk_update(changed, ["located"], batch_size=500)
    return len(changed)
