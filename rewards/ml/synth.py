"""Synthetic shape defects, planted into aligned crops of intact ads while training.

A reviewer marks a few hundred shape defects in a few thousand ads, and from so few a small
network learns to compare the ad with its reference only roughly (AUC 0.87 against ground
truth on the benchmark world). But every ad a reviewer calls intact is a template for
defects of every kind the brief names: stretch or squash it, bend it, cut a slice away, or
grow a part out of it, and the label is known. So the training loop replaces a share of the
confidently intact crops with such a copy, labelled defective (the CutPaste / DRAEM idea
from anomaly detection, here with the brief's own defect kinds).

The crop is an ``align_batch`` crop: the product's matched box sits in the middle and its
reference, drawn into the same box, says where the product is. Only the ad crop changes;
the reference stays what it was, as it does when a generator distorts a product.

ML code: torch only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KINDS = ("stretch", "warp", "cut", "extend")
# Ranges of the brief's defects, mildest first: a product stretched by a third is plainly
# not the product; a slice of a fifth of it missing, a part a quarter of its size added.
STRETCH = (1.35, 2.1)
WARP = (0.06, 0.15)  # amplitude, share of the product's width
CUT = (0.18, 0.45)  # share of the product's extent along the cut's direction
EXTEND = (0.25, 0.6)  # length of the grown part, share of the product's longest side


def _u(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _product_box(alpha: torch.Tensor) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of the drawn reference's opaque pixels, or None if there are none."""
    return _boxes(alpha[None])[0]


def _base_grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates (gx, gy), each [H, W]."""
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    return gx, gy


def _resample(img: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """img [N, C, H, W] sampled at pixel coordinates gx, gy [N, H, W] (border padding)."""
    _, _, h, w = img.shape
    grid = torch.stack([(gx + 0.5) / w * 2 - 1, (gy + 0.5) / h * 2 - 1], -1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


# Stretch and warp move pixels: each gives where every output pixel samples the crop, so a
# batch of them is one grid_sample.


def _stretch_grid(box, gen, gx, gy):
    f = _u(gen, *STRETCH)
    if torch.rand((), generator=gen) < 0.5:
        f = 1 / f
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if torch.rand((), generator=gen) < 0.5:
        return cx + (gx - cx) / f, gy
    return gx, cy + (gy - cy) / f


def _warp_grid(box, gen, gx, gy):
    amp = _u(gen, *WARP) * (box[2] - box[0])
    cycles, phase = _u(gen, 1.2, 2.4), _u(gen, 0, 2 * math.pi)
    t = (gy - box[1]) / max(box[3] - box[1], 1.0)
    return gx - amp * torch.sin(2 * math.pi * cycles * t + phase), gy


def _moved(grid_fn):
    def apply(img, alpha, box, gen):
        gx, gy = grid_fn(box, gen, *_base_grid(*img.shape[-2:]))
        return _resample(img[None], gx[None], gy[None])[0]

    return apply


_stretch, _warp = _moved(_stretch_grid), _moved(_warp_grid)


def _background(img: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The colour around the product, [N, 3]: median of the clearly-background pixels of
    each crop (``img`` [N, 3, H, W], ``alpha`` [N, H, W]), or of all its pixels if too few."""
    bg = alpha < 0.05
    few = bg.flatten(1).sum(1) < 8
    bg[few] = True
    px = img.masked_fill(~bg[:, None], float("nan")).flatten(2)
    return px.nanmedian(dim=2).values


def _cuts(img: torch.Tensor, alpha: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Cut a slice off each product (``img`` [N, 3, H, W], ``alpha`` [N, H, W]) along a
    random direction; the background shows through where it was."""
    n = len(img)
    theta = torch.rand(n, generator=gen) * 2 * math.pi
    frac = CUT[0] + (CUT[1] - CUT[0]) * torch.rand(n, generator=gen)
    gx, gy = _base_grid(*img.shape[-2:])
    proj = gx * theta.cos()[:, None, None] + gy * theta.sin()[:, None, None]
    inside = alpha > 0.5
    lo = proj.masked_fill(~inside, math.inf).amin((1, 2))
    hi = proj.masked_fill(~inside, -math.inf).amax((1, 2))
    line = hi - frac * (hi - lo)
    # The product beyond the line is gone; the background shows through (its share of each
    # pixel is what the reference's alpha leaves).
    gone = ((proj > line[:, None, None]).float() * alpha)[:, None]
    return img * (1 - gone) + _background(img, alpha)[:, :, None, None] * gone


def _cut(img, alpha, box, gen):
    return _cuts(img[None], alpha[None], gen)[0]


def _extend(img, alpha, box, gen):
    """A pole grown out of one side of the product, in a shade of its colour, ending
    bare, in a knob (an antenna, a handle) or in a foot (a stand)."""
    x0, y0, x1, y1 = box
    colour = (img * alpha).flatten(1).sum(1) / alpha.sum().clamp_min(1e-6)
    colour = (colour * _u(gen, 0.6, 1.1)).clamp(0, 1)
    length = _u(gen, *EXTEND) * max(x1 - x0, y1 - y0)
    side = int(torch.randint(4, (), generator=gen))
    horizontal = side in (0, 1)
    # Along the product's own edge on the chosen line, so the part is attached.
    lines = (alpha > 0.5) if horizontal else (alpha > 0.5).T  # [line, position]
    filled = lines.any(1).nonzero().flatten()
    lo, hi = int(filled.min()), int(filled.max())
    inner = filled[(filled >= lo + 0.2 * (hi - lo)) & (filled <= hi - 0.2 * (hi - lo))]
    pool = inner if len(inner) else filled
    row = int(pool[int(torch.randint(len(pool), (), generator=gen))])
    span = lines[row].nonzero().flatten()
    thick = max(1.5, _u(gen, 0.04, 0.14) * (hi - lo + 1))
    mid = row + 0.5
    if side in (0, 2):
        start = float(span.min()) + 1
        a, b = start - length, start
        end = a
    else:
        start = float(span.max())
        a, b = start, start + length
        end = b
    rects = [(a, b, mid - thick / 2, mid + thick / 2)]  # (along from, to, across from, to)
    tip = float(torch.rand((), generator=gen))
    if tip < 1 / 3:  # a knob
        knob = _u(gen, 2.0, 3.5) * thick
        rects.append((end - knob / 2, end + knob / 2, mid - knob / 2, mid + knob / 2))
    elif tip < 2 / 3:  # a foot across the pole's end
        foot = _u(gen, 0.3, 0.6) * (hi - lo + 1)
        depth = _u(gen, 1.0, 2.0) * thick
        lo_end = end if side in (1, 3) else end + depth
        rects.append((lo_end - depth, lo_end, mid - foot / 2, mid + foot / 2))
    out = img.clone()
    _, h, w = img.shape
    for la, lb, ca, cb in rects:
        xa, xb, ya, yb = (la, lb, ca, cb) if horizontal else (ca, cb, la, lb)
        xa_, xb_ = max(0, round(xa)), min(w, max(round(xa) + 1, round(xb)))
        ya_, yb_ = max(0, round(ya)), min(h, max(round(ya) + 1, round(yb)))
        if xb_ > xa_ and yb_ > ya_:
            out[:, ya_:yb_, xa_:xb_] = colour[:, None, None]
    return out


_FNS = {"stretch": _stretch, "warp": _warp, "cut": _cut, "extend": _extend}


_MOVES = {"stretch": _stretch_grid, "warp": _warp_grid}


def _boxes(alpha: torch.Tensor) -> list[tuple[float, float, float, float] | None]:
    """(x0, y0, x1, y1) of the opaque pixels (alpha > 0.5) of each row of ``alpha``
    [N, H, W], in one pass; None for a row with fewer than 4 of them."""
    m = alpha > 0.5
    cols, rows = m.any(1), m.any(2)  # [N, W], [N, H]
    w, h = cols.shape[1], rows.shape[1]
    x0, y0 = cols.float().argmax(1), rows.float().argmax(1)
    x1 = w - cols.flip(1).float().argmax(1)
    y1 = h - rows.flip(1).float().argmax(1)
    enough = (m.flatten(1).sum(1) >= 4).tolist()
    coords = torch.stack([x0, y0, x1, y1], 1).float().tolist()
    return [tuple(c) if ok else None for c, ok in zip(coords, enough)]  # type: ignore[misc]


def plant(
    crops: torch.Tensor, refs: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plant one random shape defect into each crop.

    ``crops`` [N, 3, S, S] and ``refs`` [N, 4, S, S] (uint8 or floats in [0, 1]) as
    ``align_batch`` gives them. Returns (crops with a defect, same dtype; a bool mask of the
    rows that got one: a crop whose reference is empty is left as it was)."""
    u8 = crops.dtype == torch.uint8
    x = crops.float() / 255.0 if u8 else crops.float()
    a = refs[:, 3].float() / 255.0 if refs.dtype == torch.uint8 else refs[:, 3].float()
    out = x.clone()
    done = torch.zeros(len(x), dtype=torch.bool)
    gx, gy = _base_grid(*x.shape[-2:])
    moved: list[int] = []
    cut: list[int] = []
    grids: list[tuple[torch.Tensor, torch.Tensor]] = []
    for i, box in enumerate(_boxes(a)):
        if box is None:
            continue
        kind = KINDS[int(torch.randint(len(KINDS), (), generator=gen))]
        if kind in _MOVES:
            moved.append(i)
            grids.append(_MOVES[kind](box, gen, gx, gy))
        elif kind == "cut":
            cut.append(i)
        else:
            out[i] = _FNS[kind](x[i], a[i], box, gen)
        done[i] = True
    if moved:
        idx = torch.tensor(moved)
        out[idx] = _resample(
            x[idx], torch.stack([g[0] for g in grids]), torch.stack([g[1] for g in grids])
        )
    if cut:
        idx = torch.tensor(cut)
        out[idx] = _cuts(x[idx], a[idx], gen)
    out = out.clamp(0, 1)
    if u8:
        return (out * 255).round().to(torch.uint8), done
    return out, done
