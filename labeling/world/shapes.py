"""Shape defects applied to a product cut-out before it is placed on the canvas.

Each function takes and returns an RGBA image in cut-out space (the 256x256 emoji), so the
defect scales with the product and the composer can place the result like any cut-out.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

# Which shape defects exist and the variants each can take.
SHAPE_KINDS = ("distorted", "extended", "cropped")
DISTORT_MODES = ("stretch", "warp")
EXTEND_PARTS = ("stand", "handle", "antenna")


def alpha_bbox(im: Image.Image, threshold: int = 8) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of pixels with alpha above threshold."""
    a = np.asarray(im.getchannel("A")) > threshold
    ys = np.flatnonzero(a.any(axis=1))
    xs = np.flatnonzero(a.any(axis=0))
    if len(ys) == 0:
        return (0, 0, im.width, im.height)
    return (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)


def trim(im: Image.Image) -> Image.Image:
    return im.crop(alpha_bbox(im))


def stretch(im: Image.Image, factor: float, axis: str) -> Image.Image:
    """Non-uniform scale: the product gets fatter or taller than it really is."""
    w, h = im.size
    size = (round(w * factor), h) if axis == "x" else (w, round(h * factor))
    return im.resize(size, Image.Resampling.BILINEAR)


def warp(im: Image.Image, amplitude: float, cycles: float, phase: float) -> Image.Image:
    """Sine-wave shear along x: straight edges of the product come out wavy.

    Done with a PIL mesh of horizontal strips (piecewise-linear), which is fast in C.
    """
    w, h = im.size
    amp = amplitude * w
    pad = math.ceil(abs(amp)) + 1
    out_w = w + 2 * pad
    strips = 24

    def dx(y: float) -> float:
        return amp * math.sin(2 * math.pi * cycles * y / h + phase)

    mesh = []
    for i in range(strips):
        y0, y1 = round(i * h / strips), round((i + 1) * h / strips)
        a, b = -pad - dx(y0), -pad - dx(y1)
        quad = (a, y0, b, y1, out_w + b, y1, out_w + a, y0)
        mesh.append(((0, y0, out_w, y1), quad))
    return im.transform((out_w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)


def crop_away(im: Image.Image, angle_deg: float, fraction: float) -> Image.Image:
    """Remove the part of the product beyond a straight line (a slice missing).

    angle_deg is the direction the removed side faces (0 = right, 90 = up, 180 = left);
    fraction is the share of opaque pixels removed.
    """
    arr = np.array(im)
    alpha = arr[..., 3]
    h, w = alpha.shape
    yy, xx = np.mgrid[0:h, 0:w]
    t = math.radians(angle_deg)
    proj = xx * math.cos(t) - yy * math.sin(t)
    opaque = alpha > 128
    cut = np.quantile(proj[opaque], 1.0 - fraction)
    # A one-pixel ramp keeps the cut edge anti-aliased like the rest of the cut-out.
    keep = np.clip(cut - proj + 0.5, 0.0, 1.0)
    arr[..., 3] = (alpha * keep).astype(np.uint8)
    return Image.fromarray(arr, "RGBA")


def extend(im: Image.Image, part: str, length: float, color: tuple[int, int, int]) -> Image.Image:
    """Attach a hallucinated part (stand + base, side handle, antenna) in a similar colour.

    length is the part's reach as a fraction of the product's height (stand, antenna) or
    width (handle). The part is drawn behind the product so the joint looks attached.
    """
    x0, y0, x1, y1 = alpha_bbox(im, 128)
    pw, ph = x1 - x0, y1 - y0
    reach = round(length * (pw if part == "handle" else ph))
    pad = reach + 8
    canvas = Image.new("RGBA", (im.width + 2 * pad, im.height + 2 * pad), (0, 0, 0, 0))
    alpha = np.asarray(im.getchannel("A")) > 128
    dark = tuple(int(c * 0.72) for c in color)
    light = tuple(min(255, int(c * 1.15 + 25)) for c in color)
    draw = ImageDraw.Draw(canvas)
    thick = max(6, round(0.09 * min(pw, ph) + 4))
    overlap = max(6, thick)

    def pole(box: tuple[int, int, int, int], vertical: bool) -> None:
        draw.rounded_rectangle(box, radius=thick // 2, fill=(*dark, 255))
        bx0, by0, bx1, by1 = box
        # A highlight strip on one side gives the part a little volume.
        if vertical:
            hl = (bx0 + thick // 5, by0 + 2, bx0 + thick // 2, by1 - 2)
        else:
            hl = (bx0 + 2, by0 + thick // 5, bx1 - 2, by0 + thick // 2)
        draw.rounded_rectangle(hl, radius=max(1, thick // 5), fill=(*light, 255))

    if part == "stand":
        cols = np.flatnonzero(alpha[y1 - 1])
        cx = pad + int(np.median(cols)) if len(cols) else pad + (x0 + x1) // 2
        top, bottom = pad + y1 - overlap, pad + y1 + reach
        pole((cx - thick // 2, top, cx + thick // 2, bottom), vertical=True)
        bw, bh = max(thick * 3, round(0.55 * pw)), max(6, round(0.09 * ph))
        draw.ellipse((cx - bw // 2, bottom - bh, cx + bw // 2, bottom + 2), fill=(*dark, 255))
        draw.ellipse(
            (cx - bw // 2 + 3, bottom - bh, cx + bw // 2 - 3, bottom - bh // 2),
            fill=(*light, 255),
        )
    elif part == "antenna":
        cols = np.flatnonzero(alpha[y0])
        cx = pad + int(np.median(cols)) if len(cols) else pad + (x0 + x1) // 2
        top, bottom = pad + y0 - reach, pad + y0 + overlap
        pole((cx - thick // 2, top, cx + thick // 2, bottom), vertical=True)
        r = round(thick * 1.1)
        draw.ellipse((cx - r, top - r, cx + r, top + r), fill=(*dark, 255))
        draw.ellipse((cx - r // 2, top - r + 2, cx + r // 4, top - r // 4), fill=(*light, 255))
    else:  # handle, sticking out of the right side at mid-height
        cy = (y0 + y1) // 2
        rows = np.flatnonzero(alpha[:, x1 - 1])
        cy = int(np.median(rows)) if len(rows) else cy
        left, right = pad + x1 - overlap, pad + x1 + reach
        pole((left, pad + cy - thick // 2, right, pad + cy + thick // 2), vertical=False)
        r = round(thick * 1.0)
        draw.ellipse((right - r, pad + cy - r, right + r, pad + cy + r), fill=(*dark, 255))
    canvas.alpha_composite(im, (pad, pad))
    return canvas


def apply_shape_defect(cutout: Image.Image, kind: str | None, params: dict) -> Image.Image:
    """The product as shown: the cut-out with its shape defect applied, trimmed to its bbox."""
    im = cutout
    if kind == "distorted":
        if params["mode"] == "stretch":
            im = stretch(im, params["factor"], params["axis"])
        else:
            im = warp(im, params["amplitude"], params["cycles"], params["phase"])
    elif kind == "extended":
        # A left-side handle is a right-side one drawn on the mirrored product, mirrored back.
        flip = params.get("side") == "left"
        if flip:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        im = extend(im, params["part"], params["length"], tuple(params["color"]))
        if flip:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif kind == "cropped":
        im = crop_away(im, params["angle"], params["fraction"])
    return trim(im)
