"""Every page's title says which page and which project, once each; there is a favicon."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from jdreview.templatetags.pages import page_title
from tests.factories import ProjectFactory, add_member

pytestmark = pytest.mark.django_db


def title(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    found = re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)
    assert found, "no <title>"
    return found.group(1)


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_titles_name_the_page_then_the_project(project, manager, annotator):
    project.name = "Shoe ads"
    project.save(update_fields=["name"])
    pk = project.pk
    assert title(logged_in(annotator).get(reverse("labeling:label", args=[pk]))) == (
        "Label · Shoe ads · jdreview"
    )
    c = logged_in(manager)
    assert title(c.get(reverse("project_stats", args=[pk]))) == "Statistics · Shoe ads · jdreview"
    assert title(c.get(reverse("rewards:models", args=[pk]))) == (
        "Reward models · Shoe ads · jdreview"
    )
    assert title(c.get(reverse("project", args=[pk]))) == "Shoe ads · jdreview"
    assert title(c.get(reverse("home"))) == "Projects · jdreview"
    assert title(c.get(reverse("dashboard"))) == "Dashboard · jdreview"
    assert title(Client().get(reverse("login"))) == "Log in · jdreview"


def test_a_project_named_like_its_page_is_named_once(groups, manager):
    qe = ProjectFactory(name="Query expansion")
    add_member(manager, qe)
    page = logged_in(manager).get(reverse("qe:loop", args=[qe.pk]))
    assert title(page) == "Query expansion · jdreview"


def test_the_title_escapes_the_project_name(project, manager):
    project.name = "<b>Bold</b> & co"
    project.save(update_fields=["name"])
    shown = title(logged_in(manager).get(reverse("project_stats", args=[project.pk])))
    assert shown == "Statistics · &lt;b&gt;Bold&lt;/b&gt; &amp; co · jdreview"


def test_page_title_leaves_out_empty_and_repeated_parts():
    class P:
        name = "Ads"

    assert page_title("  Label\n ", P()) == "Label · Ads · jdreview"
    assert page_title("", P()) == "Ads · jdreview"
    assert page_title("ads", P()) == "ads · jdreview"
    assert page_title("", None) == "jdreview"


def test_pages_link_the_favicon_and_favicon_ico_leads_to_it(annotator):
    page = logged_in(annotator).get(reverse("home")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    # Browsers ask for /favicon.ico on their own, logged in or not: not a 404.
    response = Client().get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.svg"
    icon = Client().get("/static/favicon.svg")
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)
