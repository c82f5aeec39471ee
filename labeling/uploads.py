"""Checks on uploaded image bytes, before anything is stored.

Only real raster images are accepted (PNG, JPEG, WebP), within a byte and pixel budget.
The pixel count is read from the header *before* decoding, so a decompression bomb is
refused without being expanded; a full decode then catches truncated files.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


class UploadError(ValueError):
    """The upload is refused; the message says why, in words a user can act on."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    format: str
    ext: str
    width: int
    height: int
    sha256: str


def check_image(
    data: bytes, *, name: str = "upload", max_bytes: int, max_pixels: int
) -> CheckedImage:
    if not data:
        raise UploadError(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise UploadError(f"{name}: {len(data):,} bytes is over the limit of {max_bytes:,} bytes")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        raise UploadError(f"{name}: SVG is not accepted; upload a PNG, JPEG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            width, height = image.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UploadError(
            f"{name}: the image has too many pixels (the limit is {max_pixels:,} pixels)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UploadError(
            f"{name}: not a readable image; upload a PNG, JPEG or WebP image"
        ) from None
    if fmt not in FORMATS:
        raise UploadError(f"{name}: {fmt or 'this'} format is not accepted; use PNG, JPEG or WebP")
    if width * height > max_pixels:
        raise UploadError(
            f"{name}: {width}×{height} pixels is over the limit of {max_pixels:,} pixels"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        raise UploadError(f"{name}: the image is truncated or corrupt") from None
    return CheckedImage(
        data=data,
        format=fmt,
        ext=FORMATS[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
