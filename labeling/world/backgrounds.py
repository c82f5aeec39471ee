"""Background recipes for composed ads, rendered with numpy (a few milliseconds each).

Styles with a surface (studio floor, scene with a table) give the product something to
stand on; the horizon / table edge is a crisp full-width line so that both people and the
oracle can find it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

STYLES = ("gradient", "studio", "texture", "scene")
SURFACE_STYLES = ("studio", "scene")


@dataclass
class Background:
    style: str
    # RGB triples: main colour, second tone (floor / table / gradient end), accent.
    colors: list[list[int]] = field(default_factory=list)
    # Surface line (fraction of height) where the floor / table top starts; None: no surface.
    surface_y: float | None = None
    # Scene only: where the table's top face ends and its front begins.
    front_y: float | None = None
    angle: float = 90.0  # gradient direction in degrees; scene: accent disc x position
    seed: int = 0  # texture noise


def _vgrad(h: int, w: int, y0: int, y1: int, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    t = np.linspace(0.0, 1.0, max(1, y1 - y0), dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (y1 - y0, w, 3))


_LOW = 64  # smooth styles are computed at this size and upscaled in C (PIL), for speed


@functools.cache
def _grain(size: int) -> np.ndarray:
    # One fixed film-grain tile; each texture rolls it by its own seed.
    return np.random.default_rng(12345).normal(0.0, 2.5, (size, size, 1)).astype(np.float32)


def _upscale(low: np.ndarray, size: int) -> np.ndarray:
    im = Image.fromarray(np.clip(low, 0, 255).astype(np.uint8), "RGB")
    return np.asarray(im.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def _mix(c1: np.ndarray, c2: np.ndarray, t: np.ndarray) -> np.ndarray:
    return c1 + t[..., None] * (c2 - c1)


def render_background(bg: Background, size: int) -> np.ndarray:
    """The background as a float32 (size, size, 3) array in 0..255."""
    c = [np.asarray(col, dtype=np.float32) for col in bg.colors]
    c1, c2 = c[0], c[1]
    ax = np.linspace(-0.5, 0.5, _LOW, dtype=np.float32)
    if bg.style == "gradient":
        t = np.float32(np.radians(bg.angle))
        proj = ax[None, :] * np.cos(t) + ax[:, None] * np.sin(t)
        proj = (proj - proj.min()) / max(np.float32(1e-6), np.ptp(proj))
        # A gentle light in the middle, as in a studio shot.
        light = np.float32(1.06) - np.float32(0.12) * (ax[None, :] ** 2 + ax[:, None] ** 2)
        return _upscale(_mix(c1, c2, proj) * light[..., None], size)
    if bg.style == "texture":
        rng = np.random.default_rng(bg.seed)
        coarse = (rng.random((5, 5)) * 255).astype(np.uint8)
        field_ = Image.fromarray(coarse).resize((_LOW, _LOW), Image.Resampling.BICUBIC)
        weight = np.asarray(field_, dtype=np.float32) / 255.0
        # Half-way to the second tone: the texture stays soft, with no edge to read as a floor.
        out = _upscale(_mix(c1, (c1 + c2) / 2, weight), size)
        shift = int(bg.seed % size)
        out += np.roll(_grain(size), (shift, 2 * shift % size), axis=(0, 1))
        return out
    out = np.empty((size, size, 3), dtype=np.float32)
    assert bg.surface_y is not None, f"{bg.style} needs a surface line"
    if bg.style == "studio":
        hz = round(bg.surface_y * size)
        out[:hz] = _vgrad(size, size, 0, hz, c1 * 1.04, c1)
        out[hz:] = _vgrad(size, size, hz, size, c2, c2 * 0.9)
    elif bg.style == "scene":
        hz = round(bg.surface_y * size)
        fy = round((bg.front_y or 1.0) * size)
        out[:hz] = c1
        # A large accent disc on the wall behind the product (a common "podium" ad look).
        cx, cy, r = bg.angle / 360.0 * size, hz * 0.55, 0.36 * size
        y0, y1 = max(0, int(cy - r)), min(hz, int(cy + r) + 1)
        x0, x1 = max(0, int(cx - r)), min(size, int(cx + r) + 1)
        if y0 < y1 and x0 < x1:
            yy = (np.arange(y0, y1, dtype=np.float32) - cy)[:, None]
            xx = (np.arange(x0, x1, dtype=np.float32) - cx)[None, :]
            disc = (xx * xx + yy * yy) < r * r
            out[y0:y1, x0:x1][disc] = c[2] if len(c) > 2 else c1
        out[hz:fy] = _vgrad(size, size, hz, fy, c2, c2 * 0.96)
        out[fy:] = _vgrad(size, size, fy, size, c2 * 0.82, c2 * 0.72)
    else:
        raise ValueError(f"unknown background style {bg.style!r}")
    return out


def add_shadow(
    canvas: np.ndarray, cx: float, cy: float, rx: float, ry: float, strength: float
) -> None:
    """Darken an elliptical, soft-edged patch in place (a shadow cast on the surface)."""
    h, w = canvas.shape[:2]
    x0, x1 = max(0, int(cx - 2.2 * rx)), min(w, int(cx + 2.2 * rx) + 1)
    y0, y1 = max(0, int(cy - 2.2 * ry)), min(h, int(cy + 2.2 * ry) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    xx = (np.arange(x0, x1, dtype=np.float32) - cx) / rx
    yy = (np.arange(y0, y1, dtype=np.float32) - cy) / ry
    a = np.exp(-(yy[:, None] ** 2 + xx[None, :] ** 2) * 1.6) * strength
    canvas[y0:y1, x0:x1] *= (1.0 - a)[..., None]
