"""The benchmark world's product catalogue: curated e-commerce goods drawn as 3D cut-outs.

Each product points at one Fluent Emoji 3D image (MIT, via the `@lobehub/fluent-emoji-3d`
npm package). Titles and brands are invented so that nothing depends on real trademarks.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# The repo root is three levels above this file (labeling/world/products.py).
DEFAULT_ASSET_DIR = (
    Path(__file__).resolve().parents[2] / "node_modules" / "@lobehub" / "fluent-emoji-3d" / "assets"
)


@dataclass(frozen=True)
class WorldProduct:
    sku: str
    title: str
    category: str
    brand: str
    color: str
    # A plain dict keeps catalog rows easy to serialise; frozen only guards the identity fields.
    attributes: dict = field(default_factory=dict, hash=False, compare=False)
    asset: str = ""


# One row per product: asset, category, brand, title, color, attributes.
_CATALOG_FILE = Path(__file__).with_name("products.json")


@functools.cache
def world_products() -> list[WorldProduct]:
    """The curated catalogue, in a stable order (the world's sampling depends on it)."""
    rows = json.loads(_CATALOG_FILE.read_text())
    return [
        WorldProduct(
            sku=f"W-{i:03d}-{row['asset'].split('-')[0].upper()}",
            title=row["title"],
            category=row["category"],
            brand=row["brand"],
            color=row["color"],
            attributes=row["attributes"],
            asset=row["asset"],
        )
        for i, row in enumerate(rows)
    ]


@functools.lru_cache(maxsize=256)
def _load_asset(asset: str, asset_dir: str) -> Image.Image:
    path = Path(asset_dir) / f"{asset}.webp"
    with Image.open(path) as im:
        im.load()
        return im.convert("RGBA")


def load_cutout(product: WorldProduct, asset_dir: str | Path | None = None) -> Image.Image:
    """The product's RGBA cut-out (256x256). Cached; callers get a copy they may modify."""
    return _load_asset(product.asset, str(asset_dir or DEFAULT_ASSET_DIR)).copy()


def dominant_color(cutout: Image.Image | np.ndarray) -> tuple[int, int, int]:
    """The product's main colour: the mean of the most common colour cluster of opaque pixels.

    A coarse 8-level-per-channel histogram finds the biggest cluster; averaging the pixels
    near it (rather than the bin centre) keeps the colour faithful under 3D shading.
    """
    arr = np.asarray(cutout)
    rgb = arr[..., :3].reshape(-1, 3).astype(np.int32)
    opaque = arr[..., 3].reshape(-1) > 200
    px = rgb[opaque] if opaque.any() else rgb
    bins = (px // 32) @ np.array([64, 8, 1])
    top = np.bincount(bins, minlength=512).argmax()
    centre = px[bins == top].mean(axis=0)
    near = px[np.abs(px - centre).sum(axis=1) < 60]
    mean = near.mean(axis=0) if len(near) else centre
    return (round(mean[0]), round(mean[1]), round(mean[2]))
