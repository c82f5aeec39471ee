"""Stored files are private: item images, label exports and cut-outs go through an access
check, export names are unguessable, and an audit is looked up inside its project."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from jdreview.models import Product
from labeling.models import Annotation
from rewards.models import Audit
from tests.factories import ItemFactory, png_bytes
from workers import services as job_services
from workers.models import Job

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def item(project):  # type: ignore[no-untyped-def]
    return ItemFactory(project=project)


@pytest.fixture
def export_file(project, manager, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("workers.services._enqueue", lambda job_id, queue: None)
    job = job_services.job_create(kind="export", params={}, project=project, user=manager)
    job_services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job.artifacts["file"]


def test_item_images_are_served_to_members_only(item, annotator, outsider, manager) -> None:
    url = item.image.url
    assert url.startswith("/media/items/") or url.startswith("/media/")
    assert _client().get(url).status_code == 404
    assert _client(outsider).get(url).status_code == 404
    for member in (annotator, manager):
        response = _client(member).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert "private" in response["Cache-Control"]
        assert _body(response) == item.image.open("rb").read()


def test_it_rejects_other_projects_images_and_paths_that_are_no_rows_file(
    item, other_project, outsider, annotator, settings
) -> None:
    # The outsider's own project has an image; a member of it cannot read ours, and a
    # traversal or a guessed path answers 404 like a missing file.
    ItemFactory(project=other_project)
    assert _client(outsider).get(item.image.url).status_code == 404
    for path in ("/media/../secret_key", "/media/items/../../secret_key", "/media/secret_key"):
        assert _client(annotator).get(path).status_code == 404


def test_exports_need_manage_data_and_have_unguessable_names(
    export_file, project, manager, annotator, ops, outsider
) -> None:
    # slug, format, second, then 24 random hex digits (96 bits)
    assert re.fullmatch(
        rf"exports/{project.slug}-jsonl-\d{{8}}-\d{{6}}-[0-9a-f]{{24}}\.jsonl", export_file
    )
    url = reverse("media", args=[export_file])
    for person in (None, annotator, ops, outsider):
        assert _client(person).get(url).status_code == 404
    response = _client(manager).get(url)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]


def test_two_exports_in_the_same_second_get_different_names(project, manager, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("workers.services._enqueue", lambda job_id, queue: None)
    names = set()
    for _ in range(2):
        job = job_services.job_create(kind="export", params={}, project=project, user=manager)
        job_services.job_run(job.pk)
        job.refresh_from_db()
        names.add(job.artifacts["file"])
    assert len(names) == 2


def test_the_job_page_links_the_export_through_the_checked_view(export_file, manager) -> None:
    job = Job.objects.get(kind="export")
    page = _client(manager).get(reverse("workers:job", args=[job.pk])).content.decode()
    assert f'href="/media/{export_file}"' in page


def test_cutouts_are_readable_by_any_logged_in_member(annotator, outsider, groups) -> None:
    product = Product(sku="sku-1", title="Mug", category="kitchen")
    product.cutout.save("sku-1.png", ContentFile(png_bytes()), save=True)
    assert _client().get(product.cutout.url).status_code == 404
    assert _client(annotator).get(product.cutout.url).status_code == 200
    assert _client(outsider).get(product.cutout.url).status_code == 200


def test_with_accel_redirect_the_web_server_sends_the_file(item, annotator, settings) -> None:
    settings.MEDIA_ACCEL_REDIRECT = "/_protected/"
    response = _client(annotator).get(item.image.url)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_protected/" + item.image.name
    assert response.content == b""
    assert _client().get(item.image.url).status_code == 404


def test_model_artifacts_and_other_stored_files_are_never_served(annotator, admin, settings):  # type: ignore[no-untyped-def]
    from django.core.files.storage import default_storage

    name = default_storage.save("artifacts/model.safetensors", ContentFile(b"weights"))
    assert _client(admin).get(f"/media/{name}").status_code == 404


def test_it_rejects_an_audit_of_another_project(project, other_project, ops, groups) -> None:
    """An ops reviewer posting another project's audit id under their own project gets a
    404, and the other project's audit and annotations are untouched."""
    theirs = ItemFactory(project=other_project)
    audit = Audit.objects.create(
        item=theirs, project=other_project, outcome="launch", sample_rate=1.0
    )
    url = reverse("rewards:audit_submit", args=[project.pk, audit.pk])
    response = _client(ops).post(url, {"verdict": "unusable", "defects": ["color"]})
    assert response.status_code == 404
    audit.refresh_from_db()
    assert audit.status == Audit.Status.PENDING
    assert not Annotation.objects.filter(project=other_project).exists()
    # A missing id answers the same as another project's: nothing tells them apart.
    missing = reverse("rewards:audit_submit", args=[project.pk, audit.pk + 1000])
    assert _client(ops).post(missing, {"verdict": "usable"}).status_code == 404


def test_pages_carry_a_content_security_policy_that_allows_only_own_scripts(
    annotator, project, admin, settings
) -> None:
    for person, url in ((annotator, f"/p/{project.pk}/label/"), (admin, "/api/docs/")):
        response = _client(person).get(url)
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        # no inline script the policy would block
        assert "<script>" not in response.content.decode()


def test_cookies_are_secure_when_served_over_https(annotator, settings) -> None:
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": annotator.username, "password": "pw-for-tests"}
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True
