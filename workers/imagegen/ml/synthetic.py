"""Small synthetic products and ads for tests and smoke runs when the world is not at hand."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from .text import embed_texts
from .train import GenData

_COLORS = {
    "red": (200, 40, 40),
    "blue": (40, 70, 200),
    "green": (40, 160, 70),
    "yellow": (230, 200, 40),
}


def synthetic_products(n: int, seed: int = 0) -> tuple[list[str], list[Image.Image]]:
    """n (title, RGBA cut-out) pairs: coloured ellipses and boxes of varied aspect ratio."""
    rng = np.random.default_rng(seed)
    titles, cutouts = [], []
    names = list(_COLORS)
    for i in range(n):
        color = names[i % len(names)]
        kind = "ball" if i % 2 else "box"
        w, h = int(rng.integers(60, 120)), int(rng.integers(60, 120))
        im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(im)
        shape = draw.ellipse if kind == "ball" else draw.rectangle
        shape((0, 0, w - 1, h - 1), fill=(*_COLORS[color], 255))
        titles.append(f"{color.title()} {kind} {i}")
        cutouts.append(im)
    return titles, cutouts


def synthetic_gen_data(n: int, resolution: int, seed: int = 0) -> GenData:
    """Ads whose background colour depends on the product colour (a learnable rule)."""
    titles, cutouts = synthetic_products(8, seed)
    rng = np.random.default_rng(seed)
    size = resolution * 2
    imgs, masks, texts = [], [], []
    for k in range(n):
        j = k % len(titles)
        prod = np.asarray(cutouts[j])[0, 0, :3] / 255.0  # the product's flat colour
        bg = (1 - prod) * 0.8 + rng.uniform(0, 0.2)  # a contrasting background
        img = np.ones((size, size, 3)) * bg
        img[size // 2 :, :] *= 0.8  # a floor
        m = np.zeros((size, size))
        c, r = size // 2 + int(rng.integers(-3, 4)), int(rng.integers(size // 6, size // 4))
        m[c - r : c + r, c - r : c + r] = 1
        img[m > 0] = prod
        imgs.append(img)
        masks.append(m)
        texts.append(titles[j])
    images = torch.tensor(np.stack(imgs), dtype=torch.float32).permute(0, 3, 1, 2)
    mask_t = torch.tensor(np.stack(masks), dtype=torch.float32)[:, None]
    return GenData.from_images(images, mask_t, embed_texts(texts), resolution)
