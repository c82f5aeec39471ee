"""The pruning analysis over depth, pure numpy: FFT low-pass, then Ramer-Douglas-Peucker.

Split from pruning.py (which measures Block Influence and removes blocks, with torch) so
that a web request can rerun the analysis for another eps on a stored curve without
importing torch: it takes microseconds.

2. The BI curve over depth is noisy (a few samples, a few timesteps). An FFT low-pass keeps
   its low-frequency structure (where the network does its work) and drops the high
   frequencies (measurement noise), using an even (mirrored) extension so the curve's two
   ends do not leak into each other as they would under plain periodic FFT.
3. RDP (Ramer 1972; Douglas & Peucker 1973) simplifies the smoothed curve to the points
   needed to draw it within tolerance eps: those critical points (changes of slope) are the
   blocks that stay; blocks inside stretches a straight line explains are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


def fft_smooth(curve: Sequence[float] | np.ndarray, keep: float | None = None) -> np.ndarray:
    """Low-pass a curve over depth in the frequency domain.

    `keep` is the frequency scale (in bins of the mirrored curve) of a Gaussian taper,
    default about a third of the depth. A hard cutoff would ring around a step (Gibbs), and
    a step in the influence curve is exactly the structure worth keeping.
    """
    y = np.asarray(curve, dtype=float)
    n = len(y)
    ext = np.concatenate([y, y[::-1]])  # even extension: no jump at the ends
    spec = np.fft.rfft(ext)
    keep = keep if keep is not None else default_keep(n)
    spec *= np.exp(-0.5 * (np.arange(len(spec)) / keep) ** 2)
    return np.fft.irfft(spec, n=2 * n)[:n]


def default_keep(n_blocks: int) -> float:
    return float(max(2, int(np.ceil(n_blocks / 3))))


def spectrum(curve: Sequence[float] | np.ndarray) -> np.ndarray:
    """Magnitudes of the mirrored curve's spectrum (for the UI's frequency plot)."""
    y = np.asarray(curve, dtype=float)
    return np.abs(np.fft.rfft(np.concatenate([y, y[::-1]])))


def rdp(points: np.ndarray, eps: float) -> list[int]:
    """Indices of the points Ramer-Douglas-Peucker keeps at tolerance eps (endpoints always)."""
    pts = np.asarray(points, dtype=float)
    keep = np.zeros(len(pts), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = pts[b] - pts[a]
        rel = pts[a + 1 : b] - pts[a]
        norm = np.hypot(*seg)
        # perpendicular distance of each inner point to the chord a-b
        dist = (
            np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
            if norm > 0
            else np.hypot(rel[:, 0], rel[:, 1])
        )
        j = int(np.argmax(dist))
        if dist[j] > eps:
            k = a + 1 + j
            keep[k] = True
            stack += [(a, k), (k, b)]
    return [int(i) for i in np.flatnonzero(keep)]


@dataclass
class PruningAnalysis:
    influence: list[float]
    smoothed: list[float]
    spectrum: list[float]
    eps: float
    keep_freqs: float
    critical: list[int]  # RDP points on the smoothed curve
    keep: list[int]
    remove: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def curve_points(smoothed: np.ndarray) -> np.ndarray:
    # Both axes on [0, 1] so eps means the same for any depth and any BI scale.
    n = len(smoothed)
    x = np.arange(n) / max(1, n - 1)
    span = smoothed.max() - smoothed.min()
    y = (smoothed - smoothed.min()) / (span if span > 0 else 1.0)
    return np.stack([x, y], axis=1)


def analyze(
    influence: Sequence[float] | np.ndarray,
    eps: float | None = 0.05,
    n_remove: int | None = None,
    keep_freqs: float | None = None,
    margin: float = 1.5,
) -> PruningAnalysis:
    """FFT-smooth the BI curve, run RDP, and pick the blocks to remove.

    With `n_remove`, exactly that many blocks go (for a throughput budget): eps (if None) is
    the smallest on a grid that leaves `margin` x n_remove non-critical blocks, and among
    those the least influential (smoothed) go. The margin matters: at the smallest eps that
    frees exactly n_remove, the choice is forced and can land on a high-influence block
    between two close critical points. Without n_remove, every non-critical block goes.
    """
    bi = np.asarray(influence, dtype=float)
    n = len(bi)
    keep_freqs = keep_freqs if keep_freqs is not None else default_keep(n)
    smooth = fft_smooth(bi, keep_freqs)
    pts = curve_points(smooth)
    if eps is None:
        if n_remove is None:
            raise ValueError("give eps or n_remove")
        need = min(n - 2, int(np.ceil(margin * n_remove)))  # RDP always keeps the two ends
        eps = next(
            (float(e) for e in np.linspace(0.0, 1.0, 201) if n - len(rdp(pts, e)) >= need),
            1.0,
        )
    critical = rdp(pts, eps)
    candidates = [i for i in range(n) if i not in critical]
    if n_remove is not None:
        candidates = sorted(candidates, key=lambda i: smooth[i])[:n_remove]
        if len(candidates) < n_remove:  # eps too small for the budget: fill by lowest BI
            rest = sorted((i for i in range(n) if i not in candidates), key=lambda i: smooth[i])
            candidates += rest[: n_remove - len(candidates)]
    remove = sorted(candidates)
    return PruningAnalysis(
        influence=bi.tolist(),
        smoothed=smooth.tolist(),
        spectrum=spectrum(bi).tolist(),
        eps=float(eps),
        keep_freqs=float(keep_freqs),
        critical=critical,
        keep=[i for i in range(n) if i not in remove],
        remove=remove,
    )


def uniform_removal(n_blocks: int, n_remove: int) -> list[int]:
    """Baseline: every k-th block, spread evenly over the inner blocks."""
    return sorted({round(x) for x in np.linspace(1, n_blocks - 2, n_remove)})


def lowest_influence_removal(influence: Sequence[float], n_remove: int) -> list[int]:
    """Baseline: ShortGPT's plain rule, the n blocks with the lowest raw BI."""
    return sorted(int(i) for i in np.argsort(np.asarray(influence))[:n_remove])
