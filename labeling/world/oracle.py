"""The world's oracle: verdicts from ground truth, and a judge for images whose product was
pasted intact by a generator (only the background generated).

The judge measures what the composer plants, with the thresholds in rules.py, so a composed
image judged from its pixels mostly agrees with its recorded truth. It is not a reward model:
it sees the product mask and cut-out, which a reward model never gets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from labeling.world import rules
from labeling.world.colors import chroma_hue, hue_distance, rgb_to_lab
from labeling.world.composer import Layout, place
from labeling.world.products import dominant_color
from labeling.world.rules import ASPECTS
from labeling.world.shapes import trim


def oracle_verdict(truth: dict) -> dict:
    """Per-aspect "ok" / "defect" and usable "yes" / "no", straight from ground truth."""
    out = {a: ("defect" if truth[a]["defect"] else "ok") for a in ASPECTS}
    out["usable"] = "no" if any(v == "defect" for v in out.values()) else "yes"
    return out


def _verdict(details: dict) -> dict:
    out: dict[str, Any] = {a: ("defect" if details[a]["defect"] else "ok") for a in ASPECTS}
    out["usable"] = "no" if any(v == "defect" for v in out.values()) else "yes"
    out["details"] = details
    return out


def judge_generated(
    image: Image.Image | np.ndarray,
    product_mask: np.ndarray,
    cutout: Image.Image,
    layout: Layout | dict,
) -> dict:
    """Judge an ad from its pixels: the same keys as oracle_verdict, plus "details".

    layout is where the product was pasted (the composer's Layout or a dict like it).
    """
    if isinstance(layout, dict):
        layout = Layout(**{k: layout[k] for k in ("cx", "cy", "scale")})
    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    mask = np.asarray(product_mask, dtype=bool)
    details = {
        "shape": judge_shape(rgb, mask, cutout, layout),
        "placement": judge_placement(rgb, mask),
        "color": judge_color(rgb, mask, cutout),
    }
    return _verdict(details)


def judge_shape(rgb: np.ndarray, mask: np.ndarray, cutout: Image.Image, layout: Layout) -> dict:
    """Intact when the product pixels are the cut-out pasted at the layout."""
    size = rgb.shape[0]
    obj, x, y = place(trim(cutout), layout, size)
    exp_rgba = np.zeros((size, size, 4), dtype=np.uint8)
    h, w = obj.height, obj.width
    x0, y0, x1, y1 = max(0, x), max(0, y), min(size, x + w), min(size, y + h)
    if x0 < x1 and y0 < y1:
        exp_rgba[y0:y1, x0:x1] = np.asarray(obj)[y0 - y : y1 - y, x0 - x : x1 - x]
    expected = exp_rgba[..., 3] > 127
    union = (mask | expected).sum()
    iou = float((mask & expected).sum() / union) if union else 1.0
    solid = mask & (exp_rgba[..., 3] == 255)
    diff = (
        float(np.abs(rgb[solid].astype(np.int16) - exp_rgba[..., :3][solid]).mean())
        if solid.any()
        else 255.0
    )
    area = max(1, int(expected.sum()))
    extra = float((mask & ~expected).sum() / area)
    missing = float((expected & ~mask).sum() / area)
    defect = None
    if iou < rules.ORACLE_SHAPE_IOU or diff > rules.ORACLE_SHAPE_PIXEL_DIFF:
        # The kind is a best guess; the verdict (intact or not) is what the oracle vouches for.
        if missing > 2 * extra and missing > 0.1:
            defect = "cropped"
        elif extra > 2 * missing and extra > 0.1:
            defect = "extended"
        else:
            defect = "distorted"
    return {"defect": defect, "iou": iou, "pixel_diff": diff}


def find_surface(rgb: np.ndarray, mask: np.ndarray) -> int | None:
    """Row of the top-most crisp full-width horizontal edge (floor or table top), if any.

    The median over columns ignores edges that span only part of the width (shapes, shadows).
    """
    size = rgb.shape[0]
    lab = rgb_to_lab(rgb[::1, ::2])  # every other column is plenty and halves the cost
    keep = ~ndimage.binary_dilation(mask[:, ::2], iterations=3)
    d = np.linalg.norm(lab[4:] - lab[:-4], axis=-1)  # jump between rows r and r+4
    valid = keep[4:] & keep[:-4]
    d[~valid] = np.nan
    enough = valid.sum(axis=1) >= 12  # rows mostly hidden by the product say nothing
    jump = np.zeros(len(d))
    jump[enough] = np.nanmedian(d[enough], axis=1)
    rows = np.flatnonzero(jump > 5.0)
    rows = rows[(rows >= 4) & (rows < size - 8)]
    return int(rows[0]) + 2 if len(rows) else None


def has_contact_shadow(rgb: np.ndarray, mask: np.ndarray) -> bool:
    """Is the surface just under the product darker than the same rows further out?"""
    size = rgb.shape[0]
    ys, xs = np.nonzero(mask)
    bottom, x0, x1 = int(ys.max()), int(xs.min()), int(xs.max()) + 1
    w = x1 - x0
    cx = (x0 + x1) / 2
    band_rows = slice(bottom + 1, min(size, bottom + 4))
    if bottom + 2 >= size:
        return True  # standing on the canvas edge: nothing below to judge
    lum = rgb.astype(np.float32).mean(axis=2)
    bx0, bx1 = int(max(0, cx - 0.2 * w)), int(min(size, cx + 0.2 * w + 1))
    band = lum[band_rows, bx0:bx1].mean()
    reach = 0.63 * w + 6
    cols = np.r_[0 : max(0, int(cx - reach)), min(size, int(cx + reach)) : size]
    if len(cols) >= 8:
        ref = lum[band_rows][:, cols].mean()
    else:
        below = int(bottom + 0.25 * w + 8)
        if below + 3 >= size:
            return True
        ref = lum[below : below + 3, bx0:bx1].mean()
    return bool(band < rules.CONTACT_SHADOW_RATIO * ref)


def judge_placement(rgb: np.ndarray, mask: np.ndarray) -> dict:
    size = rgb.shape[0]
    if not mask.any():
        return {"defect": "too_small", "scale": 0.0}
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    scale = max(x1 - x0, y1 - y0) / size
    dx, dy = (x0 + x1) / 2 / size - 0.5, (y0 + y1) / 2 / size - 0.5
    surface = find_surface(rgb, mask)
    info: dict[str, Any] = {
        "scale": float(scale),
        "dx": float(dx),
        "dy": float(dy),
        "surface": surface,
    }
    defect = None
    touches = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
    if touches:
        defect = "cut_by_canvas"
    elif scale > rules.ORACLE_LARGE:
        defect = "too_large"
    elif scale < rules.ORACLE_SMALL:
        defect = "too_small"
    elif abs(dx) > rules.ORACLE_OFFSET or (surface is None and abs(dy) > rules.ORACLE_OFFSET):
        defect = "off_centre"
    elif surface is not None:
        # Above the surface line it floats whatever lies below; on the surface it needs a
        # contact shadow (the shadow test compares rows of one surface, so it is only
        # meaningful there).
        if (surface - y1) / size > rules.ORACLE_FLOAT_GAP:
            defect = "floating"
        else:
            info["contact_shadow"] = has_contact_shadow(rgb, mask)
            if not info["contact_shadow"]:
                defect = "floating"
    info["defect"] = defect
    return info


def judge_color(rgb: np.ndarray, mask: np.ndarray, cutout: Image.Image) -> dict:
    """Background next to the product vs the product's dominant colour."""
    dom = dominant_color(cutout)
    ring = ndimage.binary_dilation(mask, iterations=14) & ~ndimage.binary_dilation(
        mask, iterations=3
    )
    if mask.any():
        ys = np.flatnonzero(mask.any(axis=1))
        # Leave out the rows where a shadow may darken the surface under the product.
        ring[int(ys[-1] - 0.15 * (ys[-1] - ys[0])) :] = False
    if ring.sum() < 50:
        ring = ~mask
    lab = rgb_to_lab(rgb[ring])
    dom_lab = rgb_to_lab(dom)
    de = float(np.median(np.linalg.norm(lab - dom_lab, axis=1)))
    a, b = float(np.median(lab[:, 1])), float(np.median(lab[:, 2]))
    chroma = float(np.median(np.hypot(lab[:, 1], lab[:, 2])))
    bg_hue = float(np.degrees(np.arctan2(b, a)) % 360)
    p_chroma, p_hue = chroma_hue(dom)
    hue_gap = hue_distance(bg_hue, p_hue)
    defect = None
    if de < rules.ORACLE_LOW_DE:
        defect = "low_contrast"
    elif chroma > rules.ORACLE_CLASH_CHROMA and (
        p_chroma < rules.ACHROMATIC_CHROMA or hue_gap > rules.ORACLE_CLASH_HUE
    ):
        defect = "clashing"
    return {"defect": defect, "delta_e": de, "chroma": chroma, "hue_gap": hue_gap}
