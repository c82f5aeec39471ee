"""Depth pruning of the generator: Block Influence -> FFT low-pass -> Ramer-Douglas-Peucker.

1. Block Influence (ShortGPT, Men et al. 2024): BI_i = 1 - cos(h_in, h_out) of block i,
   averaged over tokens, samples and diffusion timesteps. Near-zero BI: the block barely
   turns its input, so removing it changes little.
2. The BI curve over depth is noisy (a few samples, a few timesteps). An FFT low-pass keeps
   its low-frequency structure (where the network does its work) and drops the high
   frequencies (measurement noise), using an even (mirrored) extension so the curve's two
   ends do not leak into each other as they would under plain periodic FFT.
3. RDP (Ramer 1972; Douglas & Peucker 1973) simplifies the smoothed curve to the points
   needed to draw it within tolerance eps: those critical points (changes of slope) are the
   blocks that stay; blocks inside stretches a straight line explains are removed.
The analysis is cheap and pure numpy, so the UI can change eps and rerun it without training.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import AdImageGenerator, make_scheduler
from .train import GenData, TrainConfig, TrainResult, regression_target, train_generator


@torch.no_grad()
def block_influence(
    model: AdImageGenerator,
    data: GenData,
    timesteps: Sequence[int] = (100, 300, 500, 700, 900),
    n_samples: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """Mean 1 - cos(input, output) per transformer block (ShortGPT's Block Influence)."""
    device = next(model.parameters()).device
    blocks = model.transformer.transformer_blocks
    sums = torch.zeros(len(blocks))
    counts = torch.zeros(len(blocks))

    def hook(i: int):
        def fn(_module, args, kwargs, output):
            h_in = args[0] if args else kwargs["hidden_states"]
            cos = F.cosine_similarity(h_in.float(), output.float(), dim=-1)  # [B, tokens]
            sums[i] += (1 - cos).sum().item()
            counts[i] += cos.numel()

        return fn

    handles = [b.register_forward_hook(hook(i), with_kwargs=True) for i, b in enumerate(blocks)]
    try:
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(data), generator=gen)[:n_samples]
        target, known, mask, text = data.batch(idx, device)
        sched = make_scheduler(model.cfg)
        model.eval()
        for t in timesteps:
            noise = torch.randn(target.shape, generator=gen).to(device)
            tt = torch.full((len(idx),), int(t), device=device)
            # diffusers annotates timesteps as the legacy torch.IntTensor; any integer tensor works.
            noisy = sched.add_noise(target, noise, cast(torch.IntTensor, tt))
            model(noisy, tt, known, mask, text)
    finally:
        for h in handles:
            h.remove()
    return (sums / counts.clamp(min=1)).numpy()


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


def _curve_points(smoothed: np.ndarray) -> np.ndarray:
    # Both axes on [0, 1] so eps means the same for any depth and any BI scale.
    n = len(smoothed)
    x = np.arange(n) / max(1, n - 1)
    span = smoothed.max() - smoothed.min()
    y = (smoothed - smoothed.min()) / (span if span > 0 else 1.0)
    return np.stack([x, y], axis=1)


def analyze(
    influence: Sequence[float],
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
    pts = _curve_points(smooth)
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


def prune_model(model: AdImageGenerator, remove: Sequence[int]) -> AdImageGenerator:
    """Copy of `model` without the given blocks; the config records the new depth so
    save_pretrained/from_pretrained rebuild the pruned architecture."""
    pruned = copy.deepcopy(model)
    blocks = pruned.transformer.transformer_blocks
    kept = [b for i, b in enumerate(blocks) if i not in set(remove)]
    pruned.transformer.transformer_blocks = nn.ModuleList(kept)
    pruned.transformer.register_to_config(num_layers=len(kept))
    pruned.cfg = replace(pruned.cfg, num_layers=len(kept))
    return pruned.requires_grad_(True)


def recover(
    pruned: AdImageGenerator,
    teacher: AdImageGenerator,
    data: GenData,
    cfg: TrainConfig,
    distill_weight: float = 0.5,
) -> TrainResult:
    """Short recovery fine-tune: match the unpruned teacher's prediction (knowledge
    distillation) mixed with the plain denoising target."""
    # teacher only under no_grad: its requires_grad flags are left alone, since the caller
    # may prune it again (a deepcopy would inherit frozen weights)
    teacher.eval()
    sched = make_scheduler(pruned.cfg)

    def loss_fn(model, batch, noise, t):
        target, known, mask, text = batch
        noisy = sched.add_noise(target, noise, t)
        pred = model(noisy, t, known, mask, text)
        with torch.no_grad():
            teach = teacher(noisy, t, known, mask, text)
        task = F.mse_loss(pred, regression_target(sched, target, noise, t))
        return distill_weight * F.mse_loss(pred, teach) + (1 - distill_weight) * task

    return train_generator(pruned, data, cfg, loss_fn=loss_fn)
