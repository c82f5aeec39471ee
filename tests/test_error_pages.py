"""Errors on pages are styled pages with the way back; the API keeps its JSON errors.

With DEBUG off, as in production (DEBUG on shows Django's technical pages instead).
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = False


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_a_missing_page_in_my_project_leads_back_to_it(project, annotator):
    project.name = "Shoe ads"
    project.save(update_fields=["name"])
    response = logged_in(annotator).get(f"/p/{project.pk}/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<title>Page not found · Shoe ads · jdreview</title>" in page
    assert "<h1>Page not found</h1>" in page
    assert f'href="/p/{project.pk}/">Back to Shoe ads</a>' in page
    assert 'href="/">All projects</a>' in page
    assert 'class="top"' in page and 'href="/static/css/app.css"' in page  # the site's look


def test_another_projects_page_names_no_project(project, other_project, outsider):
    other_project.name = "Secret launch"
    other_project.save(update_fields=["name"])
    # olga is a member of other_project only; project's pages answer 404, naming nothing.
    response = logged_in(outsider).get(reverse("labeling:label", args=[project.pk]))
    assert response.status_code == 404
    page = response.content.decode()
    assert project.name not in page and "Back to" not in page
    assert 'href="/">All projects</a>' in page


def test_a_role_that_may_not_is_told_why(annotator):
    response = logged_in(annotator).get(reverse("dashboard"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Not allowed</h1>" in page
    assert "Your role cannot see dashboards." in page
    assert 'href="/">All projects</a>' in page


def test_a_stranger_gets_a_log_in_link():
    response = Client().get("/nothing-here/")
    assert response.status_code == 404
    assert 'href="/accounts/login/">Log in</a>' in response.content.decode()


def test_the_api_keeps_json_errors(project, annotator):
    client = logged_in(annotator)
    missing = client.get("/api/no-such-endpoint/")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert "no such API endpoint" in missing.json()["detail"]
    forbidden = client.get(reverse("api-activity", args=[project.pk]))
    assert forbidden.status_code in (403, 404) and forbidden["Content-Type"] == "application/json"


def test_a_bad_request_is_a_styled_400(settings):
    response = Client(HTTP_HOST="evil.example").get("/")
    assert response.status_code == 400
    page = response.content.decode()
    assert "<h1>Bad request</h1>" in page and 'href="/">All projects</a>' in page


def test_the_500_page_renders_with_nothing_but_the_template():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page and 'href="/">All projects</a>' in page
    assert 'href="/static/css/app.css"' in page
