"""The projects list on the home page: search by name and an order, kept in the URL."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import ItemFactory, ProjectFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(groups, manager, project):  # type: ignore[no-untyped-def]
    """Made oldest first: Cobalt (4 items left), Amber shop (3 left), Birch (2 left)."""
    project.name = "Cobalt"
    project.save(update_fields=["name"])
    ItemFactory.create_batch(4, project=project)
    amber, birch = ProjectFactory(name="Amber shop"), ProjectFactory(name="Birch")
    ItemFactory.create_batch(3, project=amber)
    ItemFactory.create_batch(2, project=birch)
    ItemFactory(project=birch, done_count=1)  # labeled: not left
    for p in (amber, birch):
        add_member(manager, p)
    return manager


def listed(client: Client, **params: str) -> list[str]:
    response = client.get(reverse("home"), params)
    assert response.status_code == 200
    return re.findall(r'<td><a href="/p/\d+/">([^<]+)</a></td>', response.content.decode())


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_projects_are_listed_by_name_by_default(three):
    assert listed(logged_in(three)) == ["Amber shop", "Birch", "Cobalt"]


def test_orderings_newest_and_most_left_to_label(three):
    client = logged_in(three)
    assert listed(client, order="newest") == ["Birch", "Amber shop", "Cobalt"]
    assert listed(client, order="left") == ["Cobalt", "Amber shop", "Birch"]


def test_a_bad_ordering_falls_back_to_names(three):
    client = logged_in(three)
    assert listed(client, order="-n_items; drop table") == ["Amber shop", "Birch", "Cobalt"]
    page = client.get(reverse("home"), {"order": "nope"}).content.decode()
    assert '<option value="name" selected>' in page


def test_search_by_name_keeps_the_query_and_order_in_the_form(three):
    client = logged_in(three)
    assert listed(client, q="SHOP") == ["Amber shop"]
    assert listed(client, q="r", order="left") == ["Amber shop", "Birch"]  # not Cobalt
    assert listed(client, q="o", order="left") == ["Cobalt", "Amber shop"]
    page = client.get(reverse("home"), {"q": "bi", "order": "left"}).content.decode()
    assert 'name="q" value="bi"' in page and '<option value="left" selected>' in page


def test_search_with_no_match_says_so(three):
    page = logged_in(three).get(reverse("home"), {"q": "zzz"}).content.decode()
    assert "No project's name contains “zzz”." in page
    assert "not a member of any project" not in page


def test_search_finds_only_my_projects(three, outsider, other_project):
    other_project.name = "Amber secret"
    other_project.save(update_fields=["name"])
    assert listed(logged_in(three), q="amber") == ["Amber shop"]
    assert listed(logged_in(outsider), q="amber") == ["Amber secret"]
