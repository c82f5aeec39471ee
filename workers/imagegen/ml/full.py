"""The `full` generator: a diffusers inpainting pipeline from a local folder, on GPU.

The product is kept the same way as in the tiny model: the pipeline only paints outside the
product mask, and the cut-out is pasted back exactly afterwards (inpainting VAEs alter the
kept region slightly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from workers.ml import runtime

from .config import GeneratorConfig
from .layout import Layout, choose_layout, paste_exact, place_product, product_bbox_aspect
from .sampling import GeneratedAd


class PipelineError(FileNotFoundError):
    """No loadable inpainting pipeline at the path (none there, not a pipeline, or a part of
    it missing or unreadable); the message says what to fix."""


def load_full_pipeline(cfg: GeneratorConfig, device: torch.device | str | None = None) -> Any:
    """Load the inpainting pipeline named by cfg.pipeline_path; never downloads."""
    folder = Path(cfg.pipeline_path) if cfg.pipeline_path else None
    if folder is None or not folder.is_dir():
        raise PipelineError(
            f"full generator needs a local diffusers inpainting pipeline folder; "
            f"{cfg.pipeline_path!r} does not exist (set the path to a downloaded checkpoint)"
        )
    if not (folder / "model_index.json").is_file():
        raise PipelineError(
            "full generator needs a local diffusers inpainting pipeline folder; this one has "
            "no model_index.json (save the pipeline with save_pretrained)"
        )
    from diffusers import AutoPipelineForInpainting

    device = runtime.device(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    try:
        pipe = AutoPipelineForInpainting.from_pretrained(
            str(folder), dtype=dtype, local_files_only=True
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A missing component or weight file, or a pipeline class with no inpainting variant.
        raise PipelineError(f"the inpainting pipeline could not be loaded: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)  # the job's progress bar is the one shown
    return pipe.to(device)


def native_resolution(pipe: Any, default: int) -> int:
    """The resolution the pipeline's denoiser was trained at (its UNet's sample size times the
    VAE's downscale: 512 for Stable Diffusion 1.5 and 2 inpainting), else `default`."""
    size = getattr(getattr(getattr(pipe, "unet", None), "config", None), "sample_size", None)
    factor = getattr(pipe, "vae_scale_factor", None)
    if isinstance(size, int) and isinstance(factor, int):
        return size * factor
    return default


def config_for(pipe: Any, cfg: GeneratorConfig) -> GeneratorConfig:
    """`cfg` at the pipeline's own resolution."""
    return replace(cfg, resolution=native_resolution(pipe, cfg.resolution))


@torch.no_grad()
def generate_ads_full(
    pipe: Any,
    cfg: GeneratorConfig,
    titles: Sequence[str],
    cutouts: Sequence[Image.Image],
    seeds: Sequence[int],
    layouts: Sequence[Layout] | None = None,
    steps: int | None = None,
) -> list[GeneratedAd]:
    """One ad per (title, cut-out, seed) with the full pipeline (prompt = the product title).

    The pipeline paints at ``cfg.resolution``; the ad is composed on a canvas of at least
    ``cfg.canvas_size`` (the background resized, the product placed there exactly), as the
    tiny generator's ads are."""
    size = cfg.resolution
    canvas = max(size, cfg.canvas_size)
    layouts = list(layouts or [choose_layout(product_bbox_aspect(c)) for c in cutouts])
    ads = []
    for title, cut, seed, lay in zip(titles, cutouts, seeds, layouts, strict=True):
        rgb, alpha = place_product(cut, lay, size)
        known = Image.fromarray(paste_exact(np.full_like(rgb, 127), rgb, alpha))
        paint = Image.fromarray(np.where(alpha > 127, 0, 255).astype(np.uint8))  # white = paint
        gen = torch.Generator(device=pipe.device).manual_seed(int(seed))
        out = pipe(
            prompt=f"product photo of {title}, studio background",
            image=known,
            mask_image=paint,
            height=size,
            width=size,
            num_inference_steps=steps or cfg.sample_steps,
            generator=gen,
        ).images[0]
        background = out.convert("RGB").resize((canvas, canvas), Image.Resampling.BICUBIC)
        rgb, alpha = place_product(cut, lay, canvas)
        img = paste_exact(np.asarray(background), rgb, alpha)
        ads.append(GeneratedAd(Image.fromarray(img), alpha > 127, lay, int(seed), title))
    return ads
