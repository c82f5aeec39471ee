"""Nothing a logged-in person sends makes the API answer 500: bad input is a 4xx with a
message, in the documented error shape ({"detail": ..., "field_errors": ...})."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jdreview.models import TTL_MAX_S, Project
from labeling import services
from tests.factories import GOOD, png_bytes
from tests.test_agent_import import chats

pytestmark = pytest.mark.django_db

DEEP = "[" * 1100 + "]" * 1100
DEEP_OBJECT = '{"a": ' * 1100 + "1" + "}" * 1100
TOO_BIG = 102583536780963817193472  # past PostgreSQL's bigint


def assert_refused(response, status: int = 400, mentions: str = "") -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert mentions in body["detail"], body
    return body


# --- JSON nested too deep ---------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, "[" * 65 + "]" * 65])
def test_it_refuses_deeply_nested_json_on_expand(api, annotator, project, body):
    response = api(annotator).post("/api/expand", data=body, content_type="application/json")
    assert_refused(response, mentions="nested")


def test_it_refuses_deeply_nested_json_on_submit(api, annotator, project, items):
    task = services.task_next(project=project, user=annotator)
    assert task is not None
    body = '{"values": ' + DEEP_OBJECT + "}"
    url = reverse("api-submit", args=[task.pk])
    assert_refused(api(annotator).post(url, data=body, content_type="application/json"))


def test_it_still_takes_json_nested_within_the_limit(api, annotator, project, items):
    task = services.task_next(project=project, user=annotator)
    assert task is not None
    url = reverse("api-submit", args=[task.pk])
    response = api(annotator).post(url, {"values": GOOD}, format="json")
    assert response.status_code == 201, response.content


def test_it_refuses_a_deeply_nested_label_studio_file(api, manager, project):
    response = api(manager).post(
        reverse("api-import-labelstudio", args=[project.pk]),
        {"tasks": SimpleUploadedFile("tasks.json", DEEP.encode())},
        format="multipart",
    )
    assert_refused(response, mentions="nested")


def test_it_refuses_a_deeply_nested_manifest_line(api, manager, project):
    response = api(manager).post(
        reverse("api-import", args=[project.pk]),
        {"manifest": SimpleUploadedFile("m.jsonl", DEEP_OBJECT.encode())},
        format="multipart",
    )
    assert_refused(response, mentions="nested")


def test_it_refuses_deeply_nested_traces(api, manager, project):
    url = f"/api/projects/{project.pk}/traces/import"
    response = api(manager).post(url, data=DEEP_OBJECT, content_type="application/json")
    assert_refused(response, mentions="nested")


def test_it_refuses_a_deeply_nested_json_form_field(api, manager, project):
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile("a.png", b"x"), "payload": DEEP_OBJECT},
        format="multipart",
    )
    assert_refused(response, mentions="payload")


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_it_refuses_a_number_past_what_a_float_holds(api, manager, project, number):
    # Read as infinity, it could be neither stored (PostgreSQL's JSON has no infinity) nor
    # sent back (strict JSON has none either).
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile("a.png", png_bytes()), "payload": f'{{"x": {number}}}'},
        format="multipart",
    )
    assert "payload" in assert_refused(response, mentions="out of range")["field_errors"]
    body = f'{{"project": {project.pk}, "query": "red mug", "x": {number}}}'
    response = api(manager).post("/api/expand", data=body, content_type="application/json")
    assert_refused(response, mentions="out of range")


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="what PostgreSQL cannot store"
)


@postgresql_only
def test_an_upload_with_a_nul_character_is_refused(api, manager, project):
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile("a.png", png_bytes()), "payload": '{"x": "a\\u0000b"}'},
        format="multipart",
    )
    assert_refused(response, mentions="cannot be stored")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # read as infinity: refused by the reader on every backend
        ("1e400", "out of range"),
        # PostgreSQL's JSON cannot hold a NUL (SQLite can)
        pytest.param('"a\\u0000b"', "cannot be stored", marks=postgresql_only),
    ],
)
def test_a_manifest_with_a_value_past_storing_is_refused(api, manager, project, value, message):
    line = f'{{"image": "a.png", "payload": {{"x": {value}}}}}'
    response = api(manager).post(
        reverse("api-import", args=[project.pk]),
        {
            "manifest": SimpleUploadedFile("m.jsonl", line.encode()),
            "files": [SimpleUploadedFile("a.png", png_bytes())],
        },
        format="multipart",
    )
    assert_refused(response, mentions=message)
    assert not project.items.exists()


def test_traces_with_a_value_past_storing_are_refused(api, manager, project):
    trace = chats(1)[0]
    trace.setdefault("metadata", {})["score"] = "INFINITE"
    body = json.dumps(trace).replace('"INFINITE"', "1e400")
    url = f"/api/projects/{project.pk}/traces/import"
    response = api(manager).post(url, data=body, content_type="application/json")
    assert_refused(response, mentions="out of range")
    assert not project.items.exists()
    # The same trace as an uploaded JSON-lines file is read by the same strict reader.
    upload = SimpleUploadedFile("t.jsonl", body.encode())
    response = api(manager).post(url, {"file": upload}, format="multipart")
    assert_refused(response, mentions="out of range")
    assert not project.items.exists()


# --- query parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, field",
    [
        ({"item": TOO_BIG}, "item"),
        ({"project": TOO_BIG}, "project"),
        ({"project": "abc"}, "project"),
        ({"item": ""}, "item"),
        ({"since": "2026-02-30T00:00:00"}, "since"),
        ({"since": "0001-01-01T00:00:00+08:00"}, "since"),
        ({"since": ""}, "since"),
        ({"gold": "maybe"}, "gold"),
    ],
)
def test_it_refuses_bad_annotation_filters(api, annotator, project, params, field):
    response = api(annotator).get(reverse("api-annotations"), params)
    body = assert_refused(response, mentions=field)
    assert field in body["field_errors"]


def test_annotation_filters_still_work(api, manager, annotator, project, items):
    task = services.task_next(project=project, user=annotator)
    assert task is not None
    services.annotation_submit(assignment_id=task.pk, user=annotator, values=GOOD)
    url = reverse("api-annotations")
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    got = api(manager).get(url, {"project": project.pk, "since": since, "gold": "false"})
    assert got.status_code == 200 and len(got.json()["results"]) == 1
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api(manager).get(url, {"since": later}).json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "-5"},
        {"limit": "1e3"},
        {"limit": "0"},
        {"offset": "abc"},
        {"offset": "-1"},
        {"offset": str(10**30)},
    ],
)
def test_it_refuses_bad_item_pages(api, manager, project, params):
    response = api(manager).get(reverse("api-items", args=[project.pk]), params)
    (field,) = params
    assert field in assert_refused(response, mentions=field)["field_errors"]


def test_item_pages_still_work(api, manager, project, items):
    url = reverse("api-items", args=[project.pk])
    page = api(manager).get(url, {"limit": 2, "offset": 1}).json()
    assert [i["id"] for i in page] == [i.pk for i in items[1:3]]
    # A limit past the largest page is clamped, not refused: it is a request for "all".
    assert len(api(manager).get(url, {"limit": 5000}).json()) == 5


# --- ids past the database's integers ---------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/projects/{TOO_BIG}/",
        f"/api/projects/{TOO_BIG}/items/",
        f"/api/projects/{TOO_BIG}/next/",
        f"/api/projects/{TOO_BIG}/jobs/",
        f"/api/jobs/{TOO_BIG}/",
    ],
)
def test_an_id_past_bigint_is_not_found(api, admin, path):
    assert_refused(api(admin).get(path), status=404)


def test_a_submit_for_an_id_past_bigint_is_refused(api, annotator):
    url = f"/api/tasks/{TOO_BIG}/submit/"
    response = api(annotator).post(url, {"values": GOOD}, format="json")
    assert response.status_code in (404, 409), response.content


def test_expand_refuses_a_project_id_past_bigint(api, annotator):
    body = {"project": TOO_BIG, "query": "red mug"}
    response = api(annotator).post("/api/expand", body, format="json")
    assert "project" in assert_refused(response)["field_errors"]


# --- project settings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        {"assignment_ttl_s": 9223372036854775807},
        {"assignment_ttl_s": 0},
        {"overlap": 0},
        {"overlap": 70000},
        {"gold_share": 1.5},
        {"gold_share": -0.1},
        {"gold_share": "1e400"},
    ],
)
def test_project_settings_out_of_range_are_refused(api, admin, setting):
    body = {"name": "New", "slug": "new-one", **setting}
    response = api(admin).post(reverse("api-projects"), body, format="json")
    (field,) = setting
    assert field in assert_refused(response, mentions=field)["field_errors"]
    assert not Project.objects.filter(slug="new-one").exists()


@pytest.mark.backend
def test_a_stored_out_of_range_ttl_does_not_break_the_queue(api, annotator, project, items):
    # A row written before the bounds existed (or by hand) must not 500 the queue. The
    # largest value the column holds: on SQLite, 2**63 - 1 seconds is past any date.
    largest = 2**63 - 1 if connection.vendor == "sqlite" else 2**31 - 1
    Project.objects.filter(pk=project.pk).update(assignment_ttl_s=largest)
    response = api(annotator).get(reverse("api-next", args=[project.pk]))
    assert response.status_code == 200, response.content
    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert expires_at <= timezone.now() + timedelta(seconds=TTL_MAX_S)
    client = Client()
    client.force_login(annotator)
    assert client.get(reverse("labeling:label", args=[project.pk])).status_code == 200


# --- the shape of errors ----------------------------------------------------------------


def test_validation_errors_carry_a_detail_and_the_fields(api, admin):
    response = api(admin).post(reverse("api-projects"), {"name": ""}, format="json")
    body = assert_refused(response)
    assert set(body["field_errors"]) == {"name", "slug"}
    assert "name" in body["detail"] and "slug" in body["detail"]


def test_malformed_json_is_a_400_with_a_detail(api, annotator):
    response = api(annotator).post("/api/expand", data="{nope", content_type="application/json")
    assert_refused(response, mentions="JSON")


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope/",
        "/api/projects/abc/",
        "/api/projects/1/nothing-here/",
        "/api/",
        "/api/projects/%0A/jobs/",
        "/api/projects/1/jobs/%0A",
    ],
)
def test_an_unknown_api_path_is_a_json_404(api, annotator, path):
    assert_refused(api(annotator).get(path), status=404)


def test_an_api_path_without_its_slash_is_redirected_or_named(api, annotator, project):
    got = api(annotator).get(f"/api/projects/{project.pk}?x=1")
    assert got.status_code == 301 and got["Location"] == f"/api/projects/{project.pk}/?x=1"
    posted = api(annotator).post(f"/api/projects/{project.pk}/undo", format="json")
    assert_refused(posted, status=404, mentions=f"/api/projects/{project.pk}/undo/")


def test_a_slug_already_taken_is_a_conflict(api, admin, project):
    response = api(admin).post(
        reverse("api-projects"), {"name": "Again", "slug": project.slug}, format="json"
    )
    assert_refused(response, status=409, mentions="slug")


def test_an_unknown_api_path_is_a_json_404_when_logged_out(db):
    response = Client().get("/api/nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_job_kind_errors_name_the_field(api, manager, project):
    url = reverse("api-jobs", args=[project.pk])
    response = api(manager).post(url, {"kind": "nope"}, format="json")
    assert "kind" in assert_refused(response, mentions="kind")["field_errors"]
    bad_params = {"kind": "export", "params": {"format": "xml"}}
    response = api(manager).post(url, bad_params, format="json")
    assert "params" in assert_refused(response, mentions="format")["field_errors"]


def test_too_many_query_fields_are_a_json_400(api, manager, project):
    query = "&".join(f"f{i}=1" for i in range(1100))
    response = api(manager).get(reverse("api-items", args=[project.pk]) + "?" + query)
    assert_refused(response, mentions="DATA_UPLOAD_MAX_NUMBER_FIELDS")


def test_a_binary_json_body_is_refused(api, annotator):
    response = api(annotator).post(
        "/api/expand", data=b"\xff\xfe\x00binary", content_type="application/json"
    )
    assert_refused(response)


def test_a_json_body_that_is_not_an_object_is_refused(api, annotator, project, items):
    task = services.task_next(project=project, user=annotator)
    assert task is not None
    for body in ("[]", "1", '"text"', "null"):
        url = reverse("api-submit", args=[task.pk])
        response = api(annotator).post(url, data=body, content_type="application/json")
        assert_refused(response)


def test_an_item_json_form_field_that_is_not_an_object_is_refused(api, manager, project):
    response = api(manager).post(
        reverse("api-items", args=[project.pk]),
        {"image": SimpleUploadedFile("a.png", b"x"), "payload": json.dumps([1, 2])},
        format="multipart",
    )
    assert "payload" in assert_refused(response)["field_errors"]
