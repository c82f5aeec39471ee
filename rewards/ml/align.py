"""Batched alignment of ads with their product's reference cut-out, for the *shape* aspect.

The product may be small in the ad, so a whole-ad CNN sees its defects (a stretch, a
missing slice, a hallucinated stand) as a few pixels (measured: shape AUC 0.58 against
ground truth). Here the product is found with its reference: masked normalised
cross-correlation of the reference, at 14 scales, against a 48x48 downsample of the ad
(Lewis, "Fast normalized cross-correlation", 1995: numerator and local sums as FFT
correlations), then the ad is cropped around the best match with a margin (so an
extension or a stretch stays in view) and the reference is drawn into the same crop box.
The shape model sees the two pixel-aligned: ad crop RGB + reference RGBA, 7 channels.

Everything is batched torch: the FFTs of a batch of ads against the templates of their own
products, the argmax over scales and shifts, and the crops (``grid_sample``), so scoring
stays at hundreds of images per second on two CPU cores. Templates are built once per
reference and cached by the caller's key (its file path).

ML code: numpy, PIL and torch only.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from workers.ml.runtime import torch_threads

GRID = 48  # side of the downsampled ad the product is located on
# Templates are stored centred on the origin (wrapping), so correlation output (y, x) is
# the match centred at grid cell (y, x). The circular correlation never wraps onto a centre
# on the grid when the transform size n >= GRID + side // 2, so the scales are searched in
# bands, each at its own n: (largest template side in the band, n). Against one 96-point
# transform of corner-anchored templates, and with only the GRID x GRID centres inverted,
# this took locating from 18 to about 2.5 ms per ad on one core (same boxes but for ties).
BANDS = ((17, 56), (33, 64), (47, 72))
CHUNK = 4  # ads per transform batch; per ad, 1: 2.9 ms, 2: 2.4, 4: 2.2, 8: 2.5
# Longest side of the template on the grid: a shown product spans ~0.15..0.975 of the
# canvas, and with an extension or a stretch the reference part can be about half that.
# 14 scales, ~17% apart: with 10 (~27% apart) the product's size was off by more than 20%
# on 13% of intact world ads, with 14 on 8%.
SCALES = tuple(int(s) for s in np.unique(np.round(np.geomspace(5, 47, 14))))
MARGIN = 1.9  # crop side = MARGIN x the matched box's longest side
ALPHA_THRESHOLD = 8
# Masked NCC favours a small template sitting inside a large product, so larger matches get
# a bonus of SIZE_PRIOR per doubling; 0.1 was best of 0 to 0.2 on intact world ads
# (size within 20% and centre within 20% of the product: 0.58 at 0, 0.72 at 0.03, 0.86 at
# 0.1, 0.83 at 0.2).
SIZE_PRIOR = 0.1
AD_SIDE = 256  # ads are aligned at this resolution (the world's size)
# Names the settings a located box depends on: a box stored with another version is located
# again (see Item.located and score_files(boxes=...)).
VERSION = "ncc-g48-s14-p0.1"
REF_SIDE = 96  # the trimmed reference is kept at this resolution for drawing


@dataclass(frozen=True)
class Template:
    """One reference, prepared: FFTs of its weighted colour and weight at every scale."""

    # Per band b of BANDS (n its transform size, S_b its scales):
    f_wt: tuple[torch.Tensor, ...]  # [S_b, 3, n, n//2+1] conj FFT of w * (T - mu)
    f_w: tuple[torch.Tensor, ...]  # [S_b, n, n//2+1] conj FFT of w
    w_sum: torch.Tensor  # [S]
    t_var: torch.Tensor  # [S]
    bonus: torch.Tensor  # [S]: the size prior
    sizes: torch.Tensor  # [S, 2] (w, h) on the grid
    drawn: torch.Tensor  # [4, REF_SIDE, REF_SIDE] trimmed reference, premultiplied, stretched


def _trim(ref: np.ndarray) -> np.ndarray:
    a = ref[..., 3] > ALPHA_THRESHOLD
    ys, xs = np.flatnonzero(a.any(1)), np.flatnonzero(a.any(0))
    if len(ys) == 0:
        return ref
    return ref[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]


def _premultiplied(rgba: Image.Image, w: int, h: int) -> np.ndarray:
    """Premultiplied resize (no dark fringes): float [h, w, 4], RGB premultiplied, A."""
    small = rgba.convert("RGBa").resize(
        (max(1, w), max(1, h)), Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    return np.asarray(small, dtype=np.float32) / 255.0


def make_template(ref_rgba: np.ndarray) -> Template:
    """Prepare a reference cut-out (uint8 [H, W, 4])."""
    trimmed = Image.fromarray(np.ascontiguousarray(_trim(ref_rgba)), "RGBA")
    tw, th = trimmed.size
    f_wt: list[list[np.ndarray]] = [[] for _ in BANDS]
    f_w: list[list[np.ndarray]] = [[] for _ in BANDS]
    w_sum, t_var, sizes = [], [], []
    bonus = np.zeros(len(SCALES), np.float32)
    for s, side in enumerate(SCALES):
        k = side / max(tw, th)
        w, h = max(1, round(tw * k)), max(1, round(th * k))
        arr = _premultiplied(trimmed, w, h)
        wgt = arr[..., 3]
        col = arr[..., :3] / np.maximum(wgt[..., None], 1e-3)
        ws = float(wgt.sum())
        mu = (wgt[..., None] * col).sum((0, 1)) / max(ws, 1e-6)
        b = next(i for i, (largest, _) in enumerate(BANDS) if side <= largest)
        n = BANDS[b][1]
        pad = np.zeros((3, n, n), np.float32)
        pad[:, :h, :w] = ((col - mu) * wgt[..., None]).transpose(2, 0, 1)
        padw = np.zeros((n, n), np.float32)
        padw[:h, :w] = wgt
        pad = np.roll(pad, (-(h // 2), -(w // 2)), (1, 2))
        padw = np.roll(padw, (-(h // 2), -(w // 2)), (0, 1))
        f_wt[b].append(np.conj(np.fft.rfft2(pad)))
        f_w[b].append(np.conj(np.fft.rfft2(padw)))
        w_sum.append(ws)
        t_var.append(float((wgt[..., None] * (col - mu) ** 2).sum()))
        sizes.append((w, h))
        bonus[s] = SIZE_PRIOR * math.log2(max(w, h))
    drawn = _premultiplied(trimmed, REF_SIDE, REF_SIDE).transpose(2, 0, 1)
    return Template(
        f_wt=tuple(torch.from_numpy(np.stack(f).astype(np.complex64)) for f in f_wt),
        f_w=tuple(torch.from_numpy(np.stack(f).astype(np.complex64)) for f in f_w),
        w_sum=torch.tensor(w_sum, dtype=torch.float32),
        t_var=torch.tensor(t_var, dtype=torch.float32),
        bonus=torch.from_numpy(bonus),
        sizes=torch.tensor(sizes, dtype=torch.float32),
        drawn=torch.from_numpy(np.ascontiguousarray(drawn)),
    )


class TemplateBank:
    """Templates of many references, stacked, built once per key (a file path)."""

    def __init__(self) -> None:
        # Scoring decodes batches in a thread pool; rows are added under this lock.
        self._lock = threading.Lock()
        self._rows: dict[str, int] = {}
        self._templates: list[Template] = []
        self._stacked: dict[str, torch.Tensor] | None = None

    def row(self, key: str, ref_rgba: np.ndarray | None = None) -> int:
        """The row of ``key``, building its template from ``ref_rgba`` (or the file at
        ``key``) the first time."""
        with self._lock:
            hit = self._rows.get(key)
            if hit is not None:
                return hit
            if ref_rgba is None:
                with Image.open(key) as im:
                    ref_rgba = np.asarray(im.convert("RGBA"))
            self._templates.append(make_template(ref_rgba))
            self._rows[key] = len(self._templates) - 1
            self._stacked = None
            return self._rows[key]

    def stacked(self) -> dict[str, torch.Tensor]:
        with self._lock:
            if self._stacked is None:
                stacked = {}
                for f in Template.__dataclass_fields__:
                    values = [getattr(t, f) for t in self._templates]
                    if isinstance(values[0], tuple):  # one tensor per band: f"{field}{band}"
                        for b in range(len(values[0])):
                            stacked[f"{f}{b}"] = torch.stack([v[b] for v in values])
                    else:
                        stacked[f] = torch.stack(values)
                self._stacked = stacked
            return self._stacked


def locate(ads: torch.Tensor, rows: torch.Tensor, bank: TemplateBank) -> torch.Tensor:
    """Best match of each ad's reference: boxes [N, 4] (x, y, w, h) in ad pixels.

    ``ads`` uint8 or float [N, 3, AD_SIDE, AD_SIDE]; ``rows`` the template row per ad."""
    if not len(ads):
        return torch.zeros(0, 4)
    t = bank.stacked()
    chunks = range(0, len(ads), CHUNK)
    return torch.cat([_locate(ads[i : i + CHUNK], rows[i : i + CHUNK], t) for i in chunks])


def _locate(ads: torch.Tensor, rows: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    x = ads.float() / 255.0 if ads.dtype == torch.uint8 else ads.float()
    small = F.interpolate(x, size=(GRID, GRID), mode="area")
    planes = torch.cat([small, (small**2).sum(1, keepdim=True)], 1)  # [N, 4, G, G]
    w_sum = t["w_sum"][rows][..., None, None]
    t_var = t["t_var"][rows][..., None, None]
    out = torch.cat(
        [
            _correlate(planes, t[f"f_wt{b}"][rows], t[f"f_w{b}"][rows], n)
            for b, (_, n) in enumerate(BANDS)
        ],
        dim=1,
    )  # [N, S, 5, G, G]
    local = out[:, :, 1] - (out[:, :, 2:5] ** 2).sum(2) / w_sum.clamp_min(1e-6)
    ncc = out[:, :, 0] / torch.sqrt(local.clamp_min(1e-4 * w_sum) * t_var + 1e-9)
    score = (ncc + t["bonus"][rows][..., None, None]).flatten(1)
    best = score.argmax(1)
    s, centre = best // (GRID * GRID), best % (GRID * GRID)
    wh = t["sizes"][rows, s]  # [N, 2]
    # Top-left of the matched box; sizes are whole grid cells, as the template was placed.
    dy = (centre // GRID).float() - torch.floor(wh[:, 1] / 2)
    dx = (centre % GRID).float() - torch.floor(wh[:, 0] / 2)
    f = x.shape[-1] / GRID
    return torch.stack([dx * f, dy * f, wh[:, 0] * f, wh[:, 1] * f], dim=1)


def _correlate(planes: torch.Tensor, f_wt: torch.Tensor, f_w: torch.Tensor, n: int) -> torch.Tensor:
    """The five correlation planes of masked NCC at every centre on the grid, for one band
    of scales: [N, S, 5, GRID, GRID]."""
    fi = torch.fft.rfft2(planes, s=(n, n))  # zero-padded: [N, 4, n, n/2+1]
    batch, n_scales = f_w.shape[:2]
    spec = torch.empty(batch, n_scales, 5, n, n // 2 + 1, dtype=torch.complex64)
    torch.sum(fi[:, None, :3] * f_wt, 2, out=spec[:, :, 0])  # sum_c corr(I_c, w T'_c)
    torch.mul(fi[:, None, 3], f_w, out=spec[:, :, 1])  # corr(sum_c I_c^2, w)
    torch.mul(fi[:, None, :3], f_w[:, :, None], out=spec[:, :, 2:5])  # corr(I_c, w)
    # Inverse along rows, keep the GRID rows of centres, then along columns.
    rows_done = torch.fft.ifft(spec, dim=-2)[..., :GRID, :]
    return torch.fft.irfft(rows_done, n=n, dim=-1)[..., :GRID]


def _sample(
    src: torch.Tensor,
    x0: torch.Tensor,
    y0: torch.Tensor,
    sx: torch.Tensor,
    sy: torch.Tensor,
    size: int,
) -> torch.Tensor:
    """Bilinear sample of ``src`` [N, C, H, W] on a size x size grid whose pixel (u, v)
    centre sits at source pixel coordinates (x0 + (u + .5) sx, y0 + (v + .5) sy)."""
    n, _, h, w = src.shape
    steps = torch.arange(size, dtype=torch.float32) + 0.5
    gx = x0[:, None] + steps[None] * sx[:, None]  # [N, size] in source pixels
    gy = y0[:, None] + steps[None] * sy[:, None]
    # grid_sample's normalised coordinates (align_corners=False): -1/+1 are the outer edges.
    nx = (gx / w) * 2 - 1
    ny = (gy / h) * 2 - 1
    grid = torch.stack(
        [nx[:, None, :].expand(n, size, size), ny[:, :, None].expand(n, size, size)], dim=-1
    )
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def locate_known(
    ads: torch.Tensor, rows: torch.Tensor, bank: TemplateBank, known: torch.Tensor | None
) -> torch.Tensor:
    """:func:`locate`, except for ads whose box is already known (rows of ``known`` [N, 4]
    without NaN): the search is the expensive part, so a box found once is kept."""
    if known is None:
        return locate(ads, rows, bank)
    boxes = known.clone().float()
    todo = torch.isnan(boxes).any(1).nonzero().flatten()
    if len(todo):
        boxes[todo] = locate(ads[todo], rows[todo], bank)
    return boxes


def _sample_windows(
    ads: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor, step: torch.Tensor, size: int
) -> torch.Tensor:
    """:func:`_sample` with equal steps, one ad at a time on the window its taps reach:
    the same values, without turning every whole ad into floats (most of the cost)."""
    n, c, h, w = ads.shape
    out = torch.empty(n, c, size, size)
    # Bilinear taps reach from floor(first centre - .5) to floor(last centre - .5) + 1.
    lo_x = (x0 + 0.5 * step - 0.5).floor().clamp(0, w - 1).long()
    hi_x = ((x0 + (size - 0.5) * step - 0.5).floor() + 2).clamp(1, w).long()
    lo_y = (y0 + 0.5 * step - 0.5).floor().clamp(0, h - 1).long()
    hi_y = ((y0 + (size - 0.5) * step - 0.5).floor() + 2).clamp(1, h).long()
    bounds = torch.stack([lo_x, hi_x, lo_y, hi_y], 1).tolist()
    for i, (xa, xb, ya, yb) in enumerate(bounds):
        # Taps outside the canvas read zeros either way; inside, the window holds them all.
        window = ads[i : i + 1, :, ya:yb, xa:xb].float()
        out[i] = _sample(
            window, x0[i : i + 1] - xa, y0[i : i + 1] - ya, step[i : i + 1], step[i : i + 1], size
        )[0]
    return out


def align_batch(
    ads: torch.Tensor,
    rows: torch.Tensor,
    bank: TemplateBank,
    size: int = 64,
    boxes: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ad crops uint8 [N, 3, size, size], aligned references uint8 [N, 4, size, size]).

    ``ads``: uint8 [N, 3, AD_SIDE, AD_SIDE]; ``boxes``: the matched boxes when known (from
    :func:`locate`; NaN rows, or all when None, are located here). The crop is a square of
    MARGIN x the matched box's longest side around its centre; outside the canvas it is
    black."""
    x, y, w, h = locate_known(ads, rows, bank, boxes).unbind(1)
    side = torch.maximum(w, h) * MARGIN
    cx0, cy0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    # Shrinking ~150 px to 64 with plain bilinear taps would alias; blur by the shrink
    # factor first (one area-downsample of the whole ad to about twice the crop density).
    factor = max(1, int(AD_SIDE * MARGIN / (2 * size) / 2))
    if factor > 1:
        src = F.avg_pool2d(ads.float(), factor)
        k = src.shape[-1] / ads.shape[-1]
        crops = _sample(src, cx0 * k, cy0 * k, side * k / size, side * k / size, size)
    else:
        crops = _sample_windows(ads, cx0, cy0, side / size, size)
    # The reference, stretched over the matched box: crop pixel -> reference pixel.
    drawn = bank.stacked()["drawn"][rows]
    step = side / size
    ref = _sample(
        drawn,
        (cx0 - x) / w * REF_SIDE,
        (cy0 - y) / h * REF_SIDE,
        step / w * REF_SIDE,
        step / h * REF_SIDE,
        size,
    )
    to_u8 = lambda t: t.round().clamp(0, 255).to(torch.uint8)  # noqa: E731
    return to_u8(crops), to_u8(ref * 255)


@dataclass
class TrainingInputs:
    """Everything training needs from a set of ad files, decoded once."""

    crops: np.ndarray  # uint8 [N, 3, size, size]: the ads cropped around their products
    refs: np.ndarray  # uint8 [N, 4, size, size]: the references drawn into the same boxes
    boxes: np.ndarray  # float32 [N, 4]: the matched boxes
    whole: dict[int, np.ndarray]  # side -> uint8 [N, 3, side, side]: the whole ads


def training_inputs(
    image_paths: list[str],
    ref_paths: list[str],
    size: int = 64,
    *,
    whole_sizes: tuple[int, ...] = (),
    bank: TemplateBank | None = None,
    batch_size: int = 64,
    boxes: np.ndarray | None = None,
    workers: int = 2,
) -> TrainingInputs:
    """The shape model's inputs (crops, aligned references, boxes) for image files and their
    products' reference files, and the whole ads at ``whole_sizes`` for the other aspects,
    each file decoded once. ``boxes`` [N, 4] gives boxes already found (NaN rows are
    located), so retraining on scored images only decodes and crops. Batches run in
    ``workers`` threads (Pillow and torch release the GIL), one torch thread each."""
    from concurrent.futures import ThreadPoolExecutor

    from .images import decode_files

    if len(image_paths) != len(ref_paths):
        raise ValueError("one reference per image is needed")
    if boxes is not None and boxes.shape != (len(image_paths), 4):
        raise ValueError("boxes must be [N, 4], one row per image")
    bank = bank or TemplateBank()

    def batch(start: int):
        end = start + batch_size
        decoded = decode_files(image_paths[start:end], {AD_SIDE, *whole_sizes})
        ads = torch.from_numpy(decoded[AD_SIDE])
        rows = torch.tensor([bank.row(str(p)) for p in ref_paths[start:end]])
        known = None if boxes is None else torch.from_numpy(boxes[start:end])
        found = locate_known(ads, rows, bank, known)
        c, r = align_batch(ads, rows, bank, size, boxes=found)
        whole = {side: decoded[side] for side in whole_sizes}
        return c.numpy(), r.numpy(), found.numpy().astype(np.float32), whole

    starts = range(0, len(image_paths), batch_size)
    # One torch thread while the pool keeps the cores busy: their threads only contend.
    with torch_threads(1 if workers > 1 else None), ThreadPoolExecutor(max(1, workers)) as pool:
        parts = list(pool.map(batch, starts))
    if not parts:
        return TrainingInputs(
            np.zeros((0, 3, size, size), np.uint8),
            np.zeros((0, 4, size, size), np.uint8),
            np.zeros((0, 4), np.float32),
            {side: np.zeros((0, 3, side, side), np.uint8) for side in whole_sizes},
        )
    return TrainingInputs(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        {side: np.concatenate([p[3][side] for p in parts]) for side in whole_sizes},
    )


def aligned_inputs(
    image_paths: list[str],
    ref_paths: list[str],
    size: int = 64,
    bank: TemplateBank | None = None,
    batch_size: int = 64,
    boxes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ad crops uint8 [N, 3, size, size], aligned references uint8 [N, 4, size, size],
    matched boxes float32 [N, 4]): :func:`training_inputs` without the whole ads."""
    got = training_inputs(
        image_paths, ref_paths, size, bank=bank, batch_size=batch_size, boxes=boxes
    )
    return got.crops, got.refs, got.boxes
