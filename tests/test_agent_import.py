"""Importing agent traces into a project's review queue: the API and the upload form, all
or nothing, with errors that name the trace and the field."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from jdreview.roles import Role
from labeling.models import Item
from tests.factories import ItemFactory, UserFactory, add_member
from workers.agents.ml.scripted import run_scripted
from workers.agents.ml.trace import to_chat
from workers.agents.world import agent_world, task_split

pytestmark = [pytest.mark.django_db, pytest.mark.backend]


def chats(n: int = 3, flaw: str | None = None) -> list[dict]:
    world, (train, _) = agent_world(), task_split()
    return [to_chat(run_scripted(world, t, flaw=flaw, seed=i)) for i, t in enumerate(train[:n])]


def url(project) -> str:  # type: ignore[no-untyped-def]
    return f"/api/projects/{project.pk}/traces/import"


def post_json(api, user, project, body):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, str) else json.dumps(body)
    return api(user).post(url(project), data=data, content_type="application/json")


def test_it_imports_a_json_list_into_the_review_queue(api, manager, project):
    resp = post_json(api, manager, project, chats(3))
    assert resp.status_code == 201, resp.content
    assert resp.json()["created"] == 3
    items = Item.objects.filter(project=project).order_by("id")
    assert [i.kind for i in items] == ["agent_trace"] * 3
    first = items[0]
    assert first.source == "import"
    assert first.payload["task"].startswith(("find", "which"))
    assert {"thought", "tool", "arguments", "observation", "auto"} <= set(first.payload["steps"][0])
    # The planted ground truth is kept apart from what reviewers see.
    assert "labels" not in json.dumps(first.payload)
    assert len(first.truth["steps"]) == len(first.payload["steps"])
    assert first.truth["outcome"] in ("success", "failure")


def test_it_imports_json_lines_with_or_without_the_trailing_slash(api, manager, project):
    body = "\n".join(json.dumps(c) for c in chats(2)) + "\n"
    resp = api(manager).post(url(project) + "/", data=body, content_type="application/x-ndjson")
    assert resp.status_code == 201, resp.content
    assert resp.json()["created"] == 2


def test_detected_execution_failures_are_stored_as_hints(api, manager, project):
    body = chats(4, flaw="malformed_arguments")
    assert post_json(api, manager, project, body).status_code == 201
    hints = [s["auto"] for i in Item.objects.filter(project=project) for s in i.payload["steps"]]
    assert any(h and h.startswith("arguments:") for h in hints)


def test_bad_json_is_refused_with_its_position(api, manager, project):
    resp = post_json(api, manager, project, '{"messages": [')
    assert resp.status_code == 400
    assert "invalid JSON at line 1" in resp.json()["detail"]
    assert not Item.objects.filter(project=project).exists()


def test_an_unknown_tool_is_named_with_its_trace_and_nothing_is_stored(api, manager, project):
    good, bad, also_good = chats(3)
    bad = copy.deepcopy(bad)
    bad["messages"][2]["tool_calls"][0]["function"]["name"] = "checkout"
    resp = post_json(api, manager, project, [good, bad, also_good])
    assert resp.status_code == 400
    errors = resp.json()["errors"]
    assert errors == [
        "trace 2: messages[2].tool_calls[0].function.name: unknown tool 'checkout' "
        "(known: add_to_cart, apply_coupon, product_details, search)"
    ]
    assert not Item.objects.filter(project=project).exists()


def test_missing_fields_are_listed_by_line(api, manager, project):
    a, b, c = chats(3)
    del b["messages"][2]["tool_calls"][0]["id"]
    c = {"metadata": {}}
    body = "\n".join(json.dumps(x) for x in (a, b, c))
    resp = api(manager).post(url(project), data=body, content_type="application/x-ndjson")
    assert resp.status_code == 400
    assert resp.json()["errors"] == [
        "line 2: messages[2].tool_calls[0]: missing field 'id'",
        "line 3: trace: missing field 'messages'",
    ]
    assert not Item.objects.filter(project=project).exists()


def test_a_bad_json_line_names_its_line(api, manager, project):
    (a,) = chats(1)
    body = json.dumps(a) + "\n{not json}\n"
    resp = api(manager).post(url(project), data=body, content_type="application/x-ndjson")
    assert resp.status_code == 400
    assert resp.json()["errors"][0].startswith("line 2: invalid JSON")


def test_wrong_metadata_types_are_errors_not_crashes(api, manager, project):
    (a,) = chats(1)
    a["metadata"]["labels"] = 5
    a["metadata"]["state"] = "full"
    resp = post_json(api, manager, project, a)
    assert resp.status_code == 400
    assert "metadata.state" in resp.json()["detail"]


def test_a_multipart_file_imports_too(api, manager, project):
    body = "\n".join(json.dumps(c) for c in chats(2)).encode()
    upload = SimpleUploadedFile("traces.jsonl", body, content_type="application/jsonl")
    resp = api(manager).post(url(project), {"file": upload}, format="multipart")
    assert resp.status_code == 201, resp.content


def test_an_annotator_may_not_import_and_an_outsider_sees_nothing(
    api, annotator, groups, other_project, project
):
    assert post_json(api, annotator, project, chats(1)).status_code == 403
    stranger = UserFactory(username="max")
    stranger.groups.add(groups[Role.MANAGER])
    add_member(stranger, other_project)
    assert post_json(api, stranger, project, chats(1)).status_code == 404
    assert not Item.objects.exists()


def test_a_project_of_ad_images_refuses_traces(api, manager, project):
    ItemFactory(project=project)
    resp = post_json(api, manager, project, chats(1))
    assert resp.status_code == 400
    assert "other kinds of items" in resp.json()["detail"]


def test_a_repeated_external_id_is_refused(api, manager, project):
    a, b = chats(2)
    a["metadata"]["external_id"] = b["metadata"]["external_id"] = "run-1"
    resp = post_json(api, manager, project, [a, b])
    assert resp.status_code == 400 and "repeats trace 1" in resp.json()["detail"]
    a, b = chats(2)
    a["metadata"]["external_id"] = "run-1"
    assert post_json(api, manager, project, a).status_code == 201
    b["metadata"]["external_id"] = "run-1"
    resp = post_json(api, manager, project, b)
    assert resp.status_code == 400 and "already in this project" in resp.json()["detail"]


def test_the_upload_form_imports_or_shows_every_error(manager, project):
    client = Client()
    client.force_login(manager)
    target = reverse("agents:import", args=[project.pk])
    good = "\n".join(json.dumps(c) for c in chats(2))
    resp = client.post(target, {"file": SimpleUploadedFile("t.jsonl", good.encode())})
    assert resp.status_code == 302
    assert Item.objects.filter(project=project).count() == 2
    resp = client.post(target, {"text": '[{"messages": [{"role": "robot"}]}]'})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "Nothing was imported." in page
    assert "trace 1: messages[0].role: unknown role &#x27;robot&#x27;" in page
    assert Item.objects.filter(project=project).count() == 2
