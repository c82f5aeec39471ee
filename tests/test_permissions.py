"""Every page and endpoint against every persona.

Expected outcomes per persona: ``ok`` (2xx), ``deny`` (403: role lacks the permission),
``hide`` (404: not a member, the project is not revealed), ``login`` (redirect to log in).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from labeling import services
from tests.factories import GOOD, ItemFactory
from workers.models import Job

pytestmark = pytest.mark.django_db

PERSONAS = ["annotator", "ops", "manager", "admin", "outsider"]

# page name → expected outcome for each persona (in PERSONAS order)
PAGES = {
    "project": ["ok", "ok", "ok", "ok", "hide"],
    "labeling:label": ["ok", "ok", "deny", "ok", "hide"],
    "project_stats": ["deny", "deny", "ok", "ok", "deny"],
    "workers:project_jobs": ["deny", "deny", "ok", "ok", "deny"],
}
GLOBAL_PAGES = {
    "home": ["ok", "ok", "ok", "ok", "ok"],
    "dashboard": ["deny", "deny", "ok", "ok", "deny"],
}
JOB_BODY = {"kind": "export", "params": {"format": "jsonl"}}
# (method, url name) → expected outcome per persona
ENDPOINTS = {
    ("get", "api-project"): ["ok", "ok", "ok", "ok", "hide"],
    ("get", "api-items"): ["deny", "deny", "ok", "ok", "deny"],
    ("get", "api-next"): ["ok", "ok", "deny", "ok", "hide"],
    ("post", "api-undo"): ["hide", "hide", "deny", "hide", "hide"],  # 404: nothing to undo
    ("get", "api-export"): ["deny", "deny", "ok", "ok", "deny"],
    ("get", "api-jobs"): ["deny", "deny", "ok", "ok", "deny"],
    ("post", "api-jobs"): ["deny", "deny", "ok", "ok", "deny"],
}
STATUS = {"ok": {200, 201, 204}, "deny": {403}, "hide": {404}}


@pytest.fixture
def personas(annotator, ops, manager, admin, outsider):  # type: ignore[no-untyped-def]
    return dict(zip(PERSONAS, [annotator, ops, manager, admin, outsider]))


@pytest.fixture(autouse=True)
def _some_items(project):  # type: ignore[no-untyped-def]
    ItemFactory.create_batch(3, project=project)


@pytest.fixture(autouse=True)
def _no_enqueue(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("workers.services._enqueue", lambda job_id, queue: None)


@pytest.mark.parametrize("name", list(PAGES))
def test_project_pages(name, project, personas):
    for persona, expected in zip(PERSONAS, PAGES[name]):
        client = Client()
        client.force_login(personas[persona])
        response = client.get(reverse(name, args=[project.pk]))
        assert response.status_code in STATUS[expected], (persona, name, response.status_code)


@pytest.mark.parametrize("name", list(GLOBAL_PAGES))
def test_global_pages(name, personas):
    for persona, expected in zip(PERSONAS, GLOBAL_PAGES[name]):
        client = Client()
        client.force_login(personas[persona])
        assert client.get(reverse(name)).status_code in STATUS[expected], persona


@pytest.mark.parametrize("endpoint", list(ENDPOINTS), ids=lambda e: f"{e[0]}-{e[1]}")
def test_api_endpoints(endpoint, project, personas, api):
    method, name = endpoint
    body = JOB_BODY if name == "api-jobs" and method == "post" else None
    for persona, expected in zip(PERSONAS, ENDPOINTS[endpoint]):
        client = api(personas[persona])
        response = getattr(client, method)(reverse(name, args=[project.pk]), body, format="json")
        assert response.status_code in STATUS[expected], (
            persona,
            name,
            response.status_code,
            getattr(response, "data", None),
        )


def test_anonymous_is_sent_to_log_in_and_api_needs_a_token(project):
    page = Client().get(reverse("labeling:label", args=[project.pk]))
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
    assert Client().get(reverse("api-next", args=[project.pk])).status_code in (401, 403)


def test_annotator_cannot_submit_or_skip_another_persons_task(project, annotator, ops, api):
    task = services.task_next(project=project, user=ops)
    for url in ("api-submit", "api-skip"):
        response = api(annotator).post(
            reverse(url, args=[task.pk]), {"values": GOOD}, format="json"
        )
        assert response.status_code == 409
    assert task.item.annotations.count() == 0


def test_manager_cannot_label_even_with_a_task_id(project, annotator, manager, api):
    task = services.task_next(project=project, user=annotator)
    response = api(manager).post(
        reverse("api-submit", args=[task.pk]), {"values": GOOD}, format="json"
    )
    assert response.status_code == 403


def test_annotations_are_scoped_by_person_and_project(
    project, annotator, ops, manager, outsider, other_project, api
):
    for user in (annotator, ops):
        task = services.task_next(project=project, user=user)
        services.annotation_submit(assignment_id=task.pk, user=user, values=GOOD)
    url = reverse("api-annotations")
    mine = api(annotator).get(url).data["results"]
    assert {a["annotator"] for a in mine} == {annotator.username}
    everyone = api(manager).get(url, {"project": project.pk}).data["results"]
    assert {a["annotator"] for a in everyone} == {annotator.username, ops.username}
    assert api(outsider).get(url, {"project": project.pk}).data["results"] == []


def test_outsider_cannot_see_another_projects_job(project, manager, outsider, api):
    job = Job.objects.create(kind="export", project=project)
    assert api(manager).get(reverse("api-job", args=[job.pk])).status_code == 200
    assert api(outsider).get(reverse("api-job", args=[job.pk])).status_code == 403


def test_only_admin_creates_projects(manager, admin, api):
    body = {"name": "New", "slug": "new-one"}
    assert api(manager).post(reverse("api-projects"), body, format="json").status_code == 403
    assert api(admin).post(reverse("api-projects"), body, format="json").status_code == 201
