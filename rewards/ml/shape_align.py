"""Align an ad with its product's reference cut-out, for the *shape* aspect.

The product may be small in the 256x256 ad, so a whole-ad CNN sees its defects (a stretch,
a missing slice, a hallucinated stand) as a few pixels. Here the product is located with the
reference itself: masked normalised cross-correlation (colour, alpha-weighted) of the
trimmed reference at a range of scales against a 64x64 downsample of the ad, via FFT. The ad
is then cropped around the best match (with a margin, so an extension or a stretch stays in
view) and the reference is drawn into the same crop box, so image and reference are
pixel-aligned channels:

    align_crop(ad_rgb_uint8, ref_rgba_uint8, size) -> uint8 [7, size, size]
        channels 0-2: ad crop (RGB), 3-6: reference RGBA (premultiplied) in the same box.

The peak correlation is a strong shape cue on its own (an intact product is the reference,
resized); `align_features` returns it with the crop.

Pure numpy + PIL; templates are cached per reference (a few dozen products).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

GRID = 48  # side of the downsampled ad used to locate the product
FFT = 96  # >= GRID + largest template - 1: circular correlation never wraps onto itself
# Longest side of the reference template on the 64-grid: a shown product spans 0.15..0.975
# of the canvas, and with an extension or a stretch the reference part can be ~half that.
SCALES = tuple(np.unique(np.round(np.geomspace(5, 47, 12)).astype(int)))
MARGIN = 1.9  # crop side = MARGIN x the matched box's longest side
ALPHA_THRESHOLD = 8
SIZE_PRIOR = 0.03


@dataclass
class _Templates:
    trimmed: Image.Image  # RGBA reference trimmed to its alpha box
    sizes: list[tuple[int, int]]  # (w, h) of the template per scale, on the grid
    f_wt: np.ndarray  # [S, 3, FFT, FFT//2+1] conj FFT of w * (T - mu)
    f_w: np.ndarray  # [S, FFT, FFT//2+1] conj FFT of w
    w_sum: np.ndarray  # [S]
    t_var: np.ndarray  # [S] sum w (T - mu)^2 over channels


_CACHE: dict[str, _Templates] = {}


def _trim(ref: np.ndarray) -> np.ndarray:
    a = ref[..., 3] > ALPHA_THRESHOLD
    ys, xs = np.flatnonzero(a.any(1)), np.flatnonzero(a.any(0))
    if len(ys) == 0:
        return ref
    return ref[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]


def _resize_rgba(rgba: Image.Image, w: int, h: int) -> np.ndarray:
    """Premultiplied resize (no dark fringes), returned premultiplied float [h, w, 4]."""
    small = rgba.convert("RGBa").resize(
        (max(1, w), max(1, h)), Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    return np.asarray(small, dtype=np.float32) / 255.0  # RGB premultiplied, A


def _templates(ref_rgba: np.ndarray) -> _Templates:
    key = hashlib.blake2b(np.ascontiguousarray(ref_rgba).tobytes(), digest_size=16).hexdigest()
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    trimmed = Image.fromarray(np.ascontiguousarray(_trim(ref_rgba)), "RGBA")
    tw, th = trimmed.size
    sizes, f_wt, f_w, w_sum, t_var = [], [], [], [], []
    for L in SCALES:
        k = L / max(tw, th)
        w, h = max(1, round(tw * k)), max(1, round(th * k))
        arr = _resize_rgba(trimmed, w, h)
        wgt = arr[..., 3]
        col = arr[..., :3] / np.maximum(wgt[..., None], 1e-3)  # un-premultiply
        ws = float(wgt.sum())
        mu = (wgt[..., None] * col).sum((0, 1)) / max(ws, 1e-6)
        tc = (col - mu) * wgt[..., None]  # w * (T - mu)
        pad = np.zeros((3, FFT, FFT), np.float32)
        pad[:, :h, :w] = tc.transpose(2, 0, 1)
        padw = np.zeros((FFT, FFT), np.float32)
        padw[:h, :w] = wgt
        f_wt.append(np.conj(np.fft.rfft2(pad)))
        f_w.append(np.conj(np.fft.rfft2(padw)))
        sizes.append((w, h))
        w_sum.append(ws)
        t_var.append(float((wgt[..., None] * (col - mu) ** 2).sum()))
    t = _Templates(
        trimmed,
        sizes,
        np.stack(f_wt).astype(np.complex64),
        np.stack(f_w).astype(np.complex64),
        np.array(w_sum),
        np.array(t_var),
    )
    _CACHE[key] = t
    return t


def locate(
    ad_rgb: np.ndarray, ref_rgba: np.ndarray
) -> tuple[tuple[float, float, float, float], float]:
    """Best match of the reference in the ad: ((x, y, w, h) in ad pixels, peak NCC)."""
    tpl = _templates(ref_rgba)
    _H, W = ad_rgb.shape[:2]
    f = W / GRID
    small = Image.fromarray(ad_rgb).resize((GRID, GRID), Image.Resampling.BOX)
    img = np.asarray(small, dtype=np.float32) / 255.0
    pad = np.zeros((4, FFT, FFT), np.float32)
    pad[:3, :GRID, :GRID] = img.transpose(2, 0, 1)
    pad[3, :GRID, :GRID] = (img**2).sum(-1)
    fi = np.fft.rfft2(pad).astype(np.complex64)  # [4, F, F/2+1]
    S = len(tpl.sizes)
    spec = np.empty((S, 5, FFT, FFT // 2 + 1), np.complex64)
    spec[:, 0] = (fi[None, :3] * tpl.f_wt).sum(1)  # sum_c corr(I_c, w T'_c)
    spec[:, 1] = fi[None, 3] * tpl.f_w  # corr(sum_c I_c^2, w)
    spec[:, 2:5] = fi[None, :3] * tpl.f_w[:, None]  # corr(I_c, w)
    out = np.fft.irfft2(spec, s=(FFT, FFT))  # [S, 5, F, F]
    a = out[:, 0]
    b = out[:, 1] - (out[:, 2:5] ** 2).sum(1) / np.maximum(tpl.w_sum, 1e-6)[:, None, None]
    ncc = a / np.sqrt(
        np.maximum(b, 1e-4 * tpl.w_sum[:, None, None]) * tpl.t_var[:, None, None] + 1e-9
    )
    # Only shifts that keep the template's centre on the canvas (negative shifts wrap).
    best, arg = -2.0, (0, 0, 0)
    for s, (w, h) in enumerate(tpl.sizes):
        dys = np.arange(-(h // 2), GRID - h // 2)
        dxs = np.arange(-(w // 2), GRID - w // 2)
        sub = ncc[s][np.ix_(dys % FFT, dxs % FFT)]
        i = int(sub.argmax())
        # Masked NCC favours a small template sitting inside the product: a mild size prior.
        v = float(sub.flat[i]) + SIZE_PRIOR * np.log2(max(w, h))
        if v > best:
            best, arg = v, (s, int(dys[i // len(dxs)]), int(dxs[i % len(dxs)]))
            raw = float(sub.flat[i])
    s, dy, dx = arg
    best = raw
    w, h = tpl.sizes[s]
    return (dx * f, dy * f, w * f, h * f), best


def _crop_box(box: tuple[float, float, float, float]) -> tuple[float, float, float]:
    x, y, w, h = box
    side = max(w, h) * MARGIN
    return x + w / 2 - side / 2, y + h / 2 - side / 2, side


def align_features(
    ad_rgb_uint8: np.ndarray, ref_rgba_uint8: np.ndarray, size: int = 64
) -> tuple[np.ndarray, float]:
    """(aligned input [7, size, size] uint8, peak NCC)."""
    ad = np.ascontiguousarray(ad_rgb_uint8[..., :3])
    box, peak = locate(ad, ref_rgba_uint8)
    cx0, cy0, side = _crop_box(box)
    k = size / side
    im = Image.fromarray(ad)
    crop = (
        im.resize((size, size), Image.Resampling.BILINEAR, box=(cx0, cy0, cx0 + side, cy0 + side))
        if _inside(cx0, cy0, side, ad)
        else _padded_crop(im, cx0, cy0, side, size)
    )
    out = np.zeros((7, size, size), np.uint8)
    out[:3] = np.asarray(crop).transpose(2, 0, 1)
    tpl = _templates(ref_rgba_uint8)
    x, y, w, h = box
    rw, rh = max(1, round(w * k)), max(1, round(h * k))
    ox, oy = round((x - cx0) * k), round((y - cy0) * k)
    ref = tpl.trimmed.convert("RGBa").resize((rw, rh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    canvas = Image.new("RGBa", (size, size), (0, 0, 0, 0))
    canvas.paste(ref, (ox, oy))
    out[3:] = np.asarray(canvas).transpose(2, 0, 1)
    return out, peak


def _inside(cx0: float, cy0: float, side: float, ad: np.ndarray) -> bool:
    return cx0 >= 0 and cy0 >= 0 and cx0 + side <= ad.shape[1] and cy0 + side <= ad.shape[0]


def _padded_crop(im: Image.Image, cx0: float, cy0: float, side: float, size: int) -> Image.Image:
    """Crop that may leave the canvas (zeros outside), resized to size."""
    x0, y0 = int(np.floor(cx0)), int(np.floor(cy0))
    s = int(np.ceil(side)) + 1
    c = im.crop((x0, y0, x0 + s, y0 + s))  # PIL fills outside with black
    return c.resize(
        (size, size),
        Image.Resampling.BILINEAR,
        box=(cx0 - x0, cy0 - y0, cx0 - x0 + side, cy0 - y0 + side),
    )


def align_crop(ad_rgb_uint8: np.ndarray, ref_rgba_uint8: np.ndarray, size: int = 64) -> np.ndarray:
    """The shape model's input: [7, size, size] uint8 (ad crop RGB + aligned reference RGBA)."""
    return align_features(ad_rgb_uint8, ref_rgba_uint8, size)[0]
