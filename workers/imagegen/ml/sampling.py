"""Short deterministic DDIM loop over the generator, and composition onto the ad canvas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

# The defining module: diffusers' root binds DDIMScheduler to a placeholder for type checkers.
from diffusers.schedulers.scheduling_ddim import DDIMScheduler, DDIMSchedulerOutput
from PIL import Image

from .layout import Layout, choose_layout, paste_exact, place_product, product_bbox_aspect
from .model import AdImageGenerator, make_scheduler
from .text import embed_texts


@dataclass
class Conditions:
    """Per-image conditioning at generation resolution plus the canvas-size product layer."""

    known: torch.Tensor  # [B,3,r,r] in [-1,1], zero outside the product
    mask: torch.Tensor  # [B,1,r,r] product coverage in [0,1]
    text: torch.Tensor  # [B,384]
    product_rgb: torch.Tensor  # [B,3,C,C] uint8 values as float
    product_alpha: torch.Tensor  # [B,1,C,C] uint8 values as float
    layouts: list[Layout] = field(default_factory=list)

    def to(self, device: torch.device | str) -> Conditions:
        return Conditions(
            self.known.to(device),
            self.mask.to(device),
            self.text.to(device),
            self.product_rgb.to(device),
            self.product_alpha.to(device),
            self.layouts,
        )


@dataclass
class GeneratedAd:
    image: Image.Image  # RGB, canvas size
    product_mask: np.ndarray  # bool [C, C], pixels that show the product (alpha > 127)
    layout: Layout
    seed: int
    title: str


def conditions_for(
    titles: Sequence[str],
    cutouts: Sequence[Image.Image],
    resolution: int,
    canvas: int,
    layouts: Sequence[Layout] | None = None,
) -> Conditions:
    """Lay out each product (layout step unless given) and derive the model's known pixels."""
    layouts = list(layouts or [choose_layout(product_bbox_aspect(c)) for c in cutouts])
    rgbs, alphas = zip(*(place_product(c, lay, canvas) for c, lay in zip(cutouts, layouts)))
    rgb = torch.from_numpy(np.stack(rgbs)).permute(0, 3, 1, 2).float()
    alpha = torch.from_numpy(np.stack(alphas))[:, None].float()
    a = alpha / 255.0
    # Area-averaging premultiplied colour keeps edge pixels honest at low resolution.
    prem = F.adaptive_avg_pool2d(rgb / 255.0 * a, resolution)
    mask = F.adaptive_avg_pool2d(a, resolution)
    known = 2 * prem - mask  # == mask * (2 * colour - 1)
    return Conditions(known, mask, embed_texts(list(titles)), rgb, alpha, layouts)


def initial_noise(seeds: Sequence[int], resolution: int) -> torch.Tensor:
    """One generator per seed, so an image depends only on its own seed, not the batch."""
    return torch.stack(
        [
            torch.randn(3, resolution, resolution, generator=torch.Generator().manual_seed(s))
            for s in seeds
        ]
    )


def denoise(
    model: AdImageGenerator,
    cond: Conditions,
    noise: torch.Tensor,
    steps: int,
    grad_last_k: int = 0,
    scheduler: DDIMScheduler | None = None,
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Run DDIM (eta=0, deterministic) from `noise`; returns (x0 in [-1,1], grad-step inputs).

    With grad_last_k > 0 only the last K steps build a graph (DRaFT-K, Clark et al. 2023):
    the earlier steps run under no_grad and their output is detached, which bounds memory
    and, per the paper, works better than backpropagating through the whole chain. The
    returned (x_t, t) pairs of those K steps let the caller add a consistency term there.
    """
    scheduler = scheduler or make_scheduler(model.cfg)
    scheduler.set_timesteps(steps)
    x = noise
    grad_inputs: list[tuple[torch.Tensor, torch.Tensor]] = []
    timesteps = scheduler.timesteps
    for i, t in enumerate(timesteps):
        with_grad = grad_last_k > 0 and i >= len(timesteps) - grad_last_k
        if with_grad and not grad_inputs:
            x = x.detach()
        with torch.set_grad_enabled(with_grad):
            eps = model(x, t.to(x.device), cond.known, cond.mask, cond.text)
            if with_grad:
                grad_inputs.append((x.detach(), t))
            stepped = scheduler.step(eps, t, x, eta=0.0)
            assert isinstance(stepped, DDIMSchedulerOutput)  # return_dict defaults to True
            x = stepped.prev_sample
    return x, grad_inputs


def compose_canvas(background: torch.Tensor, cond: Conditions) -> torch.Tensor:
    """Differentiable ad image in [0,1]: upsampled background with the product on top."""
    canvas = cond.product_rgb.shape[-1]
    bg = F.interpolate((background.clamp(-1, 1) + 1) / 2, size=canvas, mode="bilinear")
    a = cond.product_alpha / 255.0
    return bg * (1 - a) + (cond.product_rgb / 255.0) * a


@torch.no_grad()
def generate_ads(
    model: AdImageGenerator,
    titles: Sequence[str],
    cutouts: Sequence[Image.Image],
    seeds: Sequence[int],
    layouts: Sequence[Layout] | None = None,
    steps: int | None = None,
) -> list[GeneratedAd]:
    """Generate one ad per (title, cut-out, seed); same seed -> same image."""
    cfg = model.cfg
    device = next(model.parameters()).device
    cond = conditions_for(titles, cutouts, cfg.resolution, cfg.canvas_size, layouts).to(device)
    x0, _ = denoise(
        model, cond, initial_noise(seeds, cfg.resolution).to(device), steps or cfg.sample_steps
    )
    bg = F.interpolate((x0.clamp(-1, 1) + 1) / 2, size=cfg.canvas_size, mode="bilinear")
    bg_u8 = (bg * 255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
    rgb = cond.product_rgb.byte().permute(0, 2, 3, 1).cpu().numpy()
    alpha = cond.product_alpha[:, 0].byte().cpu().numpy()
    ads = []
    for i, seed in enumerate(seeds):
        img = paste_exact(bg_u8[i], rgb[i], alpha[i])
        ads.append(
            GeneratedAd(Image.fromarray(img), alpha[i] > 127, cond.layouts[i], int(seed), titles[i])
        )
    return ads
