"""A request body over the cap is refused with 413 before it is read, whether it declares
its length or comes chunked; requests within the cap are served as before."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from jdreview.middleware import RequestBodyLimitMiddleware
from labeling.models import Item
from tests.factories import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.backend]

CAP = 10_000


class Unreadable:
    """A wsgi.input that fails the test if anything reads it."""

    def read(self, *args: object) -> bytes:
        raise AssertionError("the body was read")

    readline = read


@pytest.fixture(autouse=True)
def _small_cap(settings):  # type: ignore[no-untyped-def]
    settings.REQUEST_MAX_BYTES = CAP


def chunked(body: bytes) -> dict[str, object]:
    """What a server such as gunicorn passes for a chunked multipart body: no length, and
    input that ends by itself."""
    return {
        "CONTENT_LENGTH": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }


def image_form(size: tuple[int, int] = (32, 32)) -> bytes:
    return encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("a.png", png_bytes(size))})


def test_a_declared_length_over_the_cap_is_refused_unread(api, manager, project):
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        data=b"",
        content_type=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(200 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert "over the limit of 10,000 bytes" in response.json()["detail"]
    assert Item.objects.count() == 0


def test_a_page_gets_the_refusal_as_text(client):
    response = client.post(
        reverse("login"),
        data=b"",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(CAP + 1),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert b"over the limit" in response.content


def test_a_chunked_body_over_the_cap_is_refused_after_reading_at_most_the_cap(
    api, manager, project
):
    body = image_form((200, 200)) + b"-" * (3 * CAP)
    extra = chunked(body)
    response = api(manager).generic(
        "POST", reverse("api-items", args=[project.pk]), content_type=MULTIPART_CONTENT, **extra
    )
    assert response.status_code == 413
    assert "over the limit of 10,000 bytes" in response.json()["detail"]
    assert extra["wsgi.input"].tell() == CAP + 1  # type: ignore[attr-defined]
    assert Item.objects.count() == 0


def test_a_chunked_upload_within_the_cap_is_stored(api, manager, project):
    response = api(manager).generic(
        "POST",
        reverse("api-items", args=[project.pk]),
        content_type=MULTIPART_CONTENT,
        **chunked(image_form()),
    )
    assert response.status_code == 201, response.content
    assert (Item.objects.get().width, Item.objects.get().height) == (32, 32)


def test_an_upload_within_the_cap_is_stored(api, manager, project):
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile("a.png", png_bytes((32, 32)))},
        format="multipart",
    )
    assert response.status_code == 201, response.data
    assert Item.objects.count() == 1


def test_form_fields_over_djangos_own_limit_get_413_not_500(api, manager, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile("a.png", png_bytes((32, 32))), "external_id": "x" * 2_000},
        format="multipart",
    )
    assert response.status_code == 413
    assert "form data" in response.json()["detail"]
    assert Item.objects.count() == 0


def test_a_length_that_is_not_a_number_is_refused():
    def view(request: HttpRequest) -> HttpResponse:
        raise AssertionError("the view ran")

    request = RequestFactory().post("/api/x/", data=b"", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "lots"
    response = RequestBodyLimitMiddleware(view)(request)
    assert response.status_code == 400
