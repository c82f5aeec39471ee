"""Colour arithmetic shared by the composer and the oracle (sRGB <-> CIELAB, D65).

Both sides measure colour the same way so that "low contrast" and "clashing" mean one thing:
ΔE76 between background and the product's dominant colour, and CIELAB chroma / hue angle.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

_M = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]],
    dtype=np.float64,
)
_M_INV = np.linalg.inv(_M)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: ArrayLike) -> np.ndarray:
    """sRGB in 0..255 (any shape ending in 3) to CIELAB."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = lin @ _M.T / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_rgb(lab: ArrayLike) -> np.ndarray:
    """CIELAB to sRGB 0..255 floats, clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 0.2069, f**3, (f - 16 / 116) / 7.787) * _WHITE
    lin = np.clip(xyz @ _M_INV.T, 0, 1)
    c = np.where(lin > 0.0031308, 1.055 * lin ** (1 / 2.4) - 0.055, 12.92 * lin)
    return np.clip(c * 255, 0, 255)


def delta_e(a_rgb: ArrayLike, b_rgb: ArrayLike) -> float:
    """ΔE76 between two sRGB colours."""
    return float(np.linalg.norm(rgb_to_lab(a_rgb) - rgb_to_lab(b_rgb)))


def chroma_hue(rgb: ArrayLike) -> tuple[float, float]:
    """CIELAB chroma and hue angle in degrees of one sRGB colour."""
    lab = rgb_to_lab(rgb)
    return float(np.hypot(lab[1], lab[2])), float(np.degrees(np.arctan2(lab[2], lab[1])) % 360)


def hue_distance(h1: float, h2: float) -> float:
    d = abs(h1 - h2) % 360
    return min(d, 360 - d)


def lch_to_rgb(lightness: float, chroma: float, hue: float) -> tuple[int, int, int]:
    h = np.radians(hue)
    rgb = lab_to_rgb(np.array([lightness, chroma * np.cos(h), chroma * np.sin(h)]))
    return (round(rgb[0]), round(rgb[1]), round(rgb[2]))
