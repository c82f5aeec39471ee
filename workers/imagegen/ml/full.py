"""The `full` generator: a diffusers inpainting pipeline from a local folder, on GPU.

The product is kept the same way as in the tiny model: the pipeline only paints outside the
product mask, and the cut-out is pasted back exactly afterwards (inpainting VAEs alter the
kept region slightly).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from workers.ml import runtime

from .config import GeneratorConfig
from .layout import Layout, choose_layout, paste_exact, place_product, product_bbox_aspect
from .sampling import GeneratedAd


def load_full_pipeline(cfg: GeneratorConfig, device: torch.device | str | None = None):
    """Load the inpainting pipeline named by cfg.pipeline_path; never downloads."""
    if not cfg.pipeline_path or not Path(cfg.pipeline_path).is_dir():
        raise FileNotFoundError(
            f"full generator needs a local diffusers inpainting pipeline folder; "
            f"{cfg.pipeline_path!r} does not exist (set the path to a downloaded checkpoint)"
        )
    from diffusers import AutoPipelineForInpainting

    device = runtime.device(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    pipe = AutoPipelineForInpainting.from_pretrained(
        cfg.pipeline_path, torch_dtype=dtype, local_files_only=True
    )
    return pipe.to(device)


@torch.no_grad()
def generate_ads_full(
    pipe,
    cfg: GeneratorConfig,
    titles: Sequence[str],
    cutouts: Sequence[Image.Image],
    seeds: Sequence[int],
    layouts: Sequence[Layout] | None = None,
    steps: int = 30,
) -> list[GeneratedAd]:
    """One ad per (title, cut-out, seed) with the full pipeline (prompt = the product title)."""
    size = cfg.resolution
    layouts = list(layouts or [choose_layout(product_bbox_aspect(c)) for c in cutouts])
    ads = []
    for title, cut, seed, lay in zip(titles, cutouts, seeds, layouts):
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
            num_inference_steps=steps,
            generator=gen,
        ).images[0]
        img = paste_exact(np.asarray(out.convert("RGB").resize((size, size))), rgb, alpha)
        ads.append(GeneratedAd(Image.fromarray(img), alpha > 127, lay, int(seed), title))
    return ads
