"""Image preprocessing shared by training and scoring, so both see identical pixels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

Reference = Literal["none", "mask", "rgba"]


def image_to_array(image: Image.Image, size: int) -> np.ndarray:
    """RGB uint8 array [3, size, size]. `reducing_gap` lets Pillow shrink by an integer
    factor first, which is several times faster than a plain bilinear resize."""
    img = image.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(img).transpose(2, 0, 1))


def decode_files(paths: Sequence[str | Path], sizes: Iterable[int]) -> dict[int, np.ndarray]:
    """Each file decoded once and resized to every side in ``sizes``:
    {side: uint8 [N, 3, side, side]}, the pixels :func:`load_image_file` gives."""
    decoded: dict[int, list[np.ndarray]] = {side: [] for side in sizes}
    for path in paths:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        for side, out in decoded.items():
            out.append(image_to_array(rgb, side))
    return {
        side: np.stack(out) if out else np.zeros((0, 3, side, side), np.uint8)
        for side, out in decoded.items()
    }


def load_image_file(path: str | Path, size: int) -> np.ndarray:
    with Image.open(path) as im:
        return image_to_array(im, size)


def reference_to_array(cutout: Image.Image, size: int, reference: Reference) -> np.ndarray:
    """The product's reference cut-out, trimmed to its alpha box, centred on a transparent
    square (so its aspect ratio survives) and resized: [4 or 1, size, size] uint8."""
    if reference == "none":
        raise ValueError("aspect takes no reference")
    rgba = cutout.convert("RGBA")
    box = rgba.getchannel("A").getbbox()
    if box:
        rgba = rgba.crop(box)
    side = max(rgba.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2))
    square = square.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    arr = np.asarray(square).transpose(2, 0, 1)
    if reference == "mask":
        arr = arr[3:4]
    else:
        # Zero the colour under transparent pixels so hidden RGB values carry no signal.
        arr = arr.copy()
        arr[:3] = (arr[:3].astype(np.uint16) * arr[3:4] // 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def load_reference_file(path: str | Path, size: int, reference: Reference) -> np.ndarray:
    with Image.open(path) as im:
        return reference_to_array(im, size, reference)
