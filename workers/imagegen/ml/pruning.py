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
Steps 2 and 3 are pure numpy and live in curve.py, so the UI can change eps and rerun them
without training (and without torch).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .curve import (  # noqa: F401  (re-exported: the analysis is part of pruning's API)
    PruningAnalysis,
    analyze,
    curve_points,
    default_keep,
    fft_smooth,
    lowest_influence_removal,
    rdp,
    spectrum,
    uniform_removal,
)
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
