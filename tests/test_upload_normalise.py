"""Item images are stored upright, in 8-bit RGB (RGBA where something is see-through), and
within a side and aspect budget, whichever way they come in; an image already in that
form is stored byte for byte."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import ExifTags, Image

from labeling.items import check_upload
from labeling.models import Item
from tests.factories import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.backend]


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def upload(api, user, project, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return api(user).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile(name, data)},
        format="multipart",
    )


def stored(item: Item) -> Image.Image:
    with item.image.open("rb") as f:
        image = Image.open(io.BytesIO(f.read()))
        image.load()
    return image


def sideways_jpeg() -> bytes:
    """60×40 as stored, red on its left edge, with EXIF orientation 6: shown turned a
    quarter clockwise, so upright it is 40×60 with red along the top."""
    image = Image.new("RGB", (60, 40), "white")
    image.paste((255, 0, 0), (0, 0, 10, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    return encoded(image, "JPEG", exif=exif, quality=95)


def png16(width: int, height: int, color_type: int, samples: np.ndarray) -> bytes:
    """A 16-bit PNG (Pillow can write only 16-bit grey itself)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = samples.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def import_manifest(api, user, project, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return api(user).post(
        reverse("api-import", args=[project.pk]),
        {
            "manifest": SimpleUploadedFile("m.jsonl", json.dumps({"image": name}).encode()),
            "files": [SimpleUploadedFile(name, data)],
        },
        format="multipart",
    )


def import_labelstudio(api, user, project, name: str, data: bytes):  # type: ignore[no-untyped-def]
    uri = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    return api(user).post(
        reverse("api-import-labelstudio", args=[project.pk]),
        [{"data": {"image": uri}, "annotations": []}],
        format="json",
    )


@pytest.mark.parametrize("path", [upload, import_manifest, import_labelstudio])
def test_an_exif_rotated_jpeg_is_stored_upright_by_every_path(api, manager, project, path):
    response = path(api, manager, project, "photo.jpg", sideways_jpeg())
    assert response.status_code == 201, response.data
    item = Item.objects.get()
    assert (item.width, item.height) == (40, 60)
    image = stored(item)
    assert image.size == (40, 60)
    assert image.getexif().get(ExifTags.Base.Orientation, 1) == 1
    top, bottom = image.getpixel((20, 2)), image.getpixel((20, 57))
    assert top[0] > 200 and top[1] < 60, top  # red along the top
    assert min(bottom) > 200, bottom  # white below
    # What was stored is in the stored form: sent again, it is kept as it is.
    data = item.image.open("rb").read()
    again = check_upload(data, "again")
    assert again.data == data and again.sha256 == item.image_sha256


def test_a_cmyk_jpeg_is_stored_rgb(api, manager, project):
    data = encoded(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    assert upload(api, manager, project, "print.jpg", data).status_code == 201
    item = Item.objects.get()
    image = stored(item)
    assert image.mode == "RGB" and item.image.name.endswith(".jpg")
    r, g, b = image.getpixel((16, 16))
    assert r > 230 and g < 30 and b < 30


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped(api, manager, project):
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (32, 1))
    data = encoded(Image.fromarray(ramp), "PNG")
    assert upload(api, manager, project, "scan.png", data).status_code == 201
    image = stored(Item.objects.get())
    assert image.mode == "RGB"
    grey = np.asarray(image)[0, :, 0].astype(int)
    assert np.abs(grey - np.arange(256)).max() <= 1  # the ramp, not 0 then 255 from 1 on


def test_a_16_bit_rgb_png_is_stored_as_an_8_bit_file(api, manager, project):
    samples = np.full((4, 4, 3), 40000, dtype=np.uint16)
    assert upload(api, manager, project, "deep.png", png16(4, 4, 2, samples)).status_code == 201
    item = Item.objects.get()
    data = item.image.open("rb").read()
    assert data[24] == 8  # IHDR bit depth
    assert stored(item).getpixel((0, 0)) == (156, 156, 156)  # 40000 / 257


def test_alpha_is_kept_only_where_something_is_see_through(api, manager, project):
    see_through = Image.new("RGBA", (32, 32), (255, 0, 0, 255))
    see_through.paste((0, 0, 0, 0), (0, 0, 8, 8))
    palette_hole = Image.new("P", (32, 32), 1)
    palette_hole.paste(0, (0, 0, 4, 4))
    sent = {
        "cut.png": encoded(see_through, "PNG"),
        "opaque.png": encoded(Image.new("RGBA", (32, 32), (0, 0, 255, 255)), "PNG"),
        "hole.png": encoded(palette_hole, "PNG", transparency=0),
        "grey.png": encoded(Image.new("LA", (32, 32), (90, 255)), "PNG"),
    }
    for name, data in sent.items():
        assert upload(api, manager, project, name, data).status_code == 201
    modes = {
        name: stored(item).mode
        for name, item in zip(sent, Item.objects.order_by("id"), strict=True)
    }
    assert modes == {"cut.png": "RGBA", "opaque.png": "RGB", "hole.png": "RGBA", "grey.png": "RGB"}
    assert stored(Item.objects.order_by("id")[0]).getchannel("A").getextrema() == (0, 255)


def test_a_100_to_1_strip_is_refused_naming_the_ratio(api, manager, project):
    data = encoded(Image.new("RGB", (2000, 20), "white"), "PNG")
    response = upload(api, manager, project, "banner.png", data)
    assert response.status_code == 400
    assert "100:1" in response.data["detail"] and "10:1" in response.data["detail"]
    assert Item.objects.count() == 0


def test_a_side_over_the_limit_is_refused(api, manager, project, settings):
    settings.UPLOAD_MAX_SIDE = 64
    response = upload(api, manager, project, "wide.png", png_bytes((100, 80)))
    assert response.status_code == 400
    assert "at most 64 pixels" in response.data["detail"]
    assert Item.objects.count() == 0


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_an_ordinary_image_is_stored_byte_for_byte(api, manager, project, fmt):
    data = encoded(Image.new("RGB", (48, 32), (200, 120, 30)), fmt)
    assert upload(api, manager, project, f"ad.{fmt.lower()}", data).status_code == 201
    item = Item.objects.get()
    assert item.image.open("rb").read() == data
    assert item.image_sha256 == hashlib.sha256(data).hexdigest()
