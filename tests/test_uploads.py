"""Image uploads through the API: real images are stored, everything else is refused
with a clear message and nothing stored (no row, no file)."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from labeling.models import Item
from tests.factories import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.backend]


def huge_png_header(width: int, height: int) -> bytes:
    """A small, valid-looking PNG that claims to be width×height (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # One compressed row of zeros is enough for the header to parse.
    idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 4096)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(api, user, project, name: str, data: bytes, **extra):  # type: ignore[no-untyped-def]
    return api(user).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile(name, data), **extra},
        format="multipart",
    )


def stored_files(settings) -> list[str]:  # type: ignore[no-untyped-def]
    return [f for _, _, files in os.walk(settings.MEDIA_ROOT) for f in files]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_real_images_are_stored_with_metadata(api, manager, project, settings, fmt):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, format=fmt)
    response = upload(
        api,
        manager,
        project,
        f"a.{fmt.lower()}",
        buf.getvalue(),
        external_id="sku-1-ad",
        payload='{"title": "Red mug"}',
    )
    assert response.status_code == 201, response.data
    item = Item.objects.get()
    assert (item.width, item.height, item.external_id) == (40, 30, "sku-1-ad")
    assert item.payload == {"title": "Red mug"}
    assert len(stored_files(settings)) == 1


BAD = {
    "truncated PNG": ("cut.png", png_bytes((64, 64))[:-30], "truncated or corrupt"),
    "text named .png": ("notes.png", b"hello, this is not an image\n" * 10, "not a readable image"),
    "20000x20000 pixels": ("bomb.png", huge_png_header(20000, 20000), "pixels"),
    "SVG": ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
    "SVG named .png": (
        "logo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
        "SVG",
    ),
    "GIF": ("anim.gif", b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;", "format is not accepted"),
    "empty file": ("empty.png", b"", "empty"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_uploads_are_refused_and_nothing_is_stored(api, manager, project, settings, case):
    name, data, message = BAD[case]
    if case == "GIF":
        buf = io.BytesIO()
        Image.new("P", (4, 4)).save(buf, format="GIF")
        data = buf.getvalue()
    response = upload(api, manager, project, name, data)
    assert response.status_code == 400
    assert message in str(response.data), response.data
    assert Item.objects.count() == 0
    assert stored_files(settings) == []


def test_oversized_file_is_refused(api, manager, project, settings):
    settings.UPLOAD_MAX_BYTES = 50_000
    noisy = Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3))
    buf = io.BytesIO()
    noisy.save(buf, format="PNG")
    response = upload(api, manager, project, "big.png", buf.getvalue())
    assert response.status_code == 400
    assert "over the limit" in response.data["detail"]
    assert Item.objects.count() == 0


def test_bad_metadata_is_refused(api, manager, project):
    response = upload(api, manager, project, "a.png", png_bytes(), payload="[1, 2")
    assert response.status_code == 400
    response = upload(api, manager, project, "a.png", png_bytes(), gold_answer='{"shape": "great"}')
    assert response.status_code == 400 and "gold_answer" in str(response.data)
    assert Item.objects.count() == 0
