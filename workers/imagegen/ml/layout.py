"""Layout step (where and how large the product sits) and exact pasting of the cut-out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Layout:
    """Product placement in canvas fractions: centre (cx, cy) and the longer side's share."""

    cx: float
    cy: float
    scale: float

    def to_dict(self) -> dict:
        return {"cx": self.cx, "cy": self.cy, "scale": self.scale}


def alpha_bbox(cutout: Image.Image, threshold: int = 8) -> tuple[int, int, int, int]:
    """Bounding box of the cut-out's visible pixels (near-transparent fringe ignored)."""
    a = np.asarray(cutout.getchannel("A")) > threshold
    ys, xs = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    if len(ys) == 0:
        return (0, 0, cutout.width, cutout.height)
    return (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)


def product_bbox_aspect(cutout: Image.Image) -> float:
    """Width / height of the visible part of the cut-out."""
    x0, y0, x1, y1 = alpha_bbox(cutout)
    return (x1 - x0) / max(1, y1 - y0)


def choose_layout(aspect_ratio: float) -> Layout:
    """Pick a layout from the product's aspect ratio (width / height).

    Ads centre the product horizontally and stand it slightly below the middle so it sits on
    the floor line. Wide products get a smaller scale so their height stays substantial; tall
    ones a larger one so they do not look tiny.
    """
    ar = float(np.clip(aspect_ratio, 0.25, 4.0))
    scale = 0.56 if ar >= 1 else 0.56 + 0.06 * min(1.0, (1 / ar - 1))
    return Layout(cx=0.5, cy=0.54, scale=round(scale, 3))


def place_product(
    cutout: Image.Image, layout: Layout, canvas: int
) -> tuple[np.ndarray, np.ndarray]:
    """Resize the cut-out to the layout and put it on an empty canvas.

    The paste rule is the benchmark world's (labeling/world/composer.py `place`): trim to the
    alpha box, longest side = scale * canvas, premultiplied bilinear resize (no dark fringe),
    top-left at round(centre - size / 2). Sharing it lets the oracle check the product is
    intact pixel for pixel. Returns (rgb uint8 [H, W, 3], alpha uint8 [H, W]), 0 outside.
    """
    obj = cutout.convert("RGBA").crop(alpha_bbox(cutout))
    longest = max(2, round(layout.scale * canvas))
    k = longest / max(obj.size)
    tw, th = max(1, round(obj.width * k)), max(1, round(obj.height * k))
    obj = obj.convert("RGBa").resize((tw, th), Image.Resampling.BILINEAR).convert("RGBA")
    layer = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    layer.paste(obj, (round(layout.cx * canvas - tw / 2), round(layout.cy * canvas - th / 2)))
    arr = np.asarray(layer)
    return arr[..., :3].copy(), arr[..., 3].copy()


def paste_exact(background: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-composite the placed product over a uint8 background.

    Fully opaque product pixels are copied, not blended, so they equal the cut-out exactly
    (the shape reward must never see a repainted product).
    """
    a = alpha[..., None].astype(np.float32) / 255.0
    out = np.rint(background.astype(np.float32) * (1 - a) + rgb.astype(np.float32) * a)
    out = out.clip(0, 255).astype(np.uint8)
    opaque = alpha == 255
    out[opaque] = rgb[opaque]
    return out
