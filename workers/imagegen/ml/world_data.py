"""Adapters to the benchmark world (labeling/world): training ads, products, the oracle.

Imported only by benchmarks and jobs that use the world; the generator itself does not
depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .sampling import GeneratedAd
from .text import embed_texts
from .train import GenData


def world_ads(n: int, seed: int, asset_dir: str | Path | None = None, size: int = 256) -> list:
    """(product, ComposedAd) pairs from the world's composer, deterministic for a seed."""
    from labeling.world.composer import generate_world

    return list(generate_world(n, seed, asset_dir=asset_dir, size=size))


def ads_to_tensors(ads: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [N,3,H,W] in [0,1] and product masks [N,1,H,W] from ComposedAds."""
    imgs = np.stack([np.asarray(a.image.convert("RGB")) for _, a in ads])
    masks = np.stack([a.product_mask for _, a in ads])
    images = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
    return images, torch.from_numpy(masks)[:, None].float()


def world_training_data(ads: list, resolution: int, cache_dir: str | Path | None = None) -> GenData:
    """Generator training set: only the usable ads (good examples), whole image as target."""
    good = [(p, a) for p, a in ads if a.usable]
    images, masks = ads_to_tensors(good)
    text = embed_texts([p.title for p, _ in good], cache_dir)
    return GenData.from_images(images, masks, text, resolution)


def world_products_and_cutouts(
    asset_dir: str | Path | None = None,
) -> tuple[list, list[str], list[Image.Image]]:
    from labeling.world.products import load_cutout, world_products

    products = world_products()
    return products, [p.title for p in products], [load_cutout(p, asset_dir) for p in products]


def oracle_judge(record: list | None = None) -> Callable[[GeneratedAd, Image.Image], bool]:
    """judge(ad, cutout) -> usable, by the world's oracle (never the reward being optimised).

    With `record`, every verdict (per-aspect details included) is appended to it, so a
    benchmark can say which aspect a change fixed or broke.
    """
    from labeling.world.oracle import judge_generated

    def judge(ad: GeneratedAd, cutout: Image.Image) -> bool:
        verdict = judge_generated(ad.image, ad.product_mask, cutout, ad.layout.to_dict())
        if record is not None:
            record.append(verdict)
        return verdict["usable"] == "yes"

    return judge


def oracle_verdicts(ads: list[GeneratedAd], cutouts: list[Image.Image]) -> list[dict]:
    from labeling.world.oracle import judge_generated

    return [
        judge_generated(a.image, a.product_mask, c, a.layout.to_dict())
        for a, c in zip(ads, cutouts)
    ]
