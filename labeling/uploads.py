"""Checks on uploaded image bytes, and the one form every stored item image has.

Only real raster images are accepted (PNG, JPEG, WebP), within a byte, pixel, side and
aspect budget. Sizes are read from the header *before* decoding, so a decompression bomb
or a 20000×200 strip is refused without being expanded; a full decode then catches
truncated files.

A stored image is upright (EXIF orientation applied) 8-bit RGB, or RGBA where the alpha
makes a pixel see-through; width and height are those of that image, so marks drawn on
what the browser shows fit. A file already in that form is stored byte for byte, so its
sha256 is the sender's and duplicates and export/import round trips still match. Any
other file is re-encoded once: a JPEG without alpha as JPEG at quality 95 with full
chroma (photos: PNG would be several times larger, and a second generation at 95 is
not visible), everything else as PNG (lossless, keeps alpha). The result is in the
stored form, so checking it again changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from jdreview.errors import UserError

FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
JPEG_QUALITY = 95
# Colour spaces whose ICC profile still describes the pixels after normalising.
_RGB_MODES = {"RGB", "RGBA", "P"}
_DEEP_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


class UploadError(UserError, ValueError):
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
    data: bytes,
    *,
    name: str = "upload",
    max_bytes: int,
    max_pixels: int,
    max_side: int | None = None,
    max_aspect: float | None = None,
) -> CheckedImage:
    """The image as it is to be stored, or UploadError. ``max_side`` bounds the longest
    side in pixels, ``max_aspect`` the longest side over the shortest (10 means 10:1)."""
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
    # Rotation swaps the sides but changes neither limit, so the header's size is enough.
    long_side, short_side = max(width, height), max(min(width, height), 1)
    if max_side is not None and long_side > max_side:
        raise UploadError(
            f"{name}: {width}×{height} pixels; the longest side may be at most {max_side:,} pixels"
        )
    if max_aspect is not None and long_side > max_aspect * short_side:
        ratio = f"{long_side / short_side:.2f}".rstrip("0").rstrip(".")
        raise UploadError(
            f"{name}: {width}×{height} pixels is {ratio}:1; the limit is {max_aspect:g}:1 "
            "(crop it closer to the ad)"
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
    # Pillow reads a 16-bit RGB(A) PNG as 8-bit RGB(A), so only the header tells that the
    # file itself is 16-bit (IHDR's bit depth, at a fixed offset in every PNG).
    sixteen_bit_png = fmt == "PNG" and data[24] == 16
    normal = _normalised(image, reencode=sixteen_bit_png)
    if normal is not None:
        icc = image.info.get("icc_profile") if image.mode in _RGB_MODES else None
        data, fmt = _encoded(normal, source_format=fmt, icc_profile=icc)
        width, height = normal.size
    return CheckedImage(
        data=data,
        format=fmt,
        ext=FORMATS[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _normalised(image: Image.Image, *, reencode: bool) -> Image.Image | None:
    """The image upright in 8-bit RGB or RGBA; None when it is that already (and the file
    need not be re-encoded for another reason)."""
    out = image
    if _orientation(image) in range(2, 9):
        out = ImageOps.exif_transpose(image) or image
    if out.mode in _DEEP_MODES:
        out = _to_8bit(out)
    if out.mode != "RGBA" and out.has_transparency_data:
        out = out.convert("RGBA")
    if out.mode == "RGBA":
        if out.getchannel("A").getextrema()[0] == 255:  # alpha that hides nothing
            out = out.convert("RGB")
    elif out.mode != "RGB":  # grey, palette, CMYK, YCbCr, bilevel
        out = out.convert("RGB")
    return None if out is image and not reencode else out


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except (OSError, ValueError, SyntaxError, TypeError):
        return 1  # unreadable EXIF: show the pixels as they are stored, as browsers do


def _to_8bit(image: Image.Image) -> Image.Image:
    """16- and 32-bit grey scaled to 8 bits. Pillow's own convert() clips instead: every
    value over 255 (all but the darkest 0.4% of a 16-bit range) becomes white."""
    values = np.asarray(image).astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if image.mode == "F" and low >= 0 and high <= 1:
        top = 1.0
    elif low >= 0 and high <= 65535:  # Pillow's I and I;16 hold 16-bit samples
        top = 65535.0
    else:  # no range the file declares: stretch the values that are there
        values -= low
        top = high - low or 1.0
    return Image.fromarray(np.rint(values * (255 / top)).astype(np.uint8))


def _encoded(
    image: Image.Image, *, source_format: str, icc_profile: bytes | None
) -> tuple[bytes, str]:
    # No EXIF is written: the orientation is applied, and a phone's GPS position need not
    # travel on with a re-encoded ad.
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    buf = io.BytesIO()
    if source_format == "JPEG" and image.mode == "RGB":
        image.save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0, **extra)
        return buf.getvalue(), "JPEG"
    image.save(buf, format="PNG", **extra)
    return buf.getvalue(), "PNG"
