"""Every URL pattern, walked from the resolver (pages, API and media), as people who must
not reach a project: an anonymous visitor, and a member of another project in each role.

A URL that names the project, or one of its rows, must not answer 2xx (nor 5xx) to them,
on GET or POST, and nothing may change. A URL that names nothing (home, lists, the schema)
may answer, but must not mention the project. A new URL is walked without editing this
file; one whose arguments cannot be filled fails the test until it is taught here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from jdreview.models import Product
from jdreview.roles import Role
from labeling import services
from labeling.models import Annotation, Assignment, Item
from rewards.models import Audit
from tests.conftest import _persona
from tests.factories import ItemFactory, ProjectFactory, add_member, png_bytes
from workers.agents.apps import KIND as TRACE_KIND
from workers.models import Job, ModelVersion

pytestmark = pytest.mark.django_db

SECRET = "Victim-Project-4f1c"
# Django's admin checks is_staff on every one of its own URLs; it is probed at its root.
SKIP_NAMESPACES = {"admin"}


def _patterns(
    patterns: list[Any], namespace: str = ""
) -> Iterator[tuple[str, URLPattern, set[str]]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace in SKIP_NAMESPACES:
                continue
            ns = f"{namespace}:{p.namespace}".strip(":") if p.namespace else namespace
            yield from _patterns(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            pattern = p.pattern
            keys = set(getattr(pattern, "converters", {}) or {}) or set(pattern.regex.groupindex)
            yield (f"{namespace}:{p.name}" if namespace else p.name), p, keys


@pytest.fixture
def victim(groups):  # type: ignore[no-untyped-def]
    return make_rows(groups)


def make_rows(groups: Any) -> dict[str, Any]:
    """A project with one of every row a URL can name (and the pages show): URL arguments
    by name."""
    project = ProjectFactory(name=SECRET, slug="victim-4f1c")
    owner = _persona(groups, "victim-annotator", Role.ANNOTATOR)
    add_member(owner, project)
    item = ItemFactory(project=project)
    assignment = services.task_next(project=project, user=owner)
    assert assignment is not None
    ItemFactory(project=project)
    audit = Audit.objects.create(item=item, project=project, outcome="launch", sample_rate=1.0)
    export = default_storage.save(
        "exports/victim-4f1c-jsonl-x-abcdefghijklmnop.jsonl", ContentFile(b"{}\n")
    )
    job = Job.objects.create(kind="export", project=project, artifacts={"file": export})
    version = ModelVersion.objects.create(
        project=project, family="generator", version=1, name="base", artifact="nowhere"
    )
    product = Product(sku="victim-sku", title="Mug", category="kitchen")
    product.cutout.save("victim-sku.png", ContentFile(png_bytes()), save=True)
    trace = Item.objects.create(project=project, kind=TRACE_KIND, payload={})
    # A query-expansion RL version: its dashboard panel draws the reward curve.
    ModelVersion.objects.create(
        project=project,
        family="query_expansion",
        version=1,
        name="ppo",
        artifact="nowhere",
        metrics={"reward_components": {"format": 1.0}, "curve": [{"step": 1, "reward": 0.5}]},
    )
    return {
        "project_id": project.pk,
        "assignment_id": assignment.pk,
        "audit_id": audit.pk,
        "job_id": job.pk,
        "version_id": version.pk,
        "index": 0,
        "product_id": product.pk,
        "item_id": trace.pk,
        # media: the project's item image and its export (cut-outs are shared on purpose)
        "path": [item.image.name, export],
    }


def _state() -> tuple[Any, ...]:
    return (
        Annotation.objects.count(),
        tuple(Assignment.objects.order_by("pk").values_list("status", flat=True)),
        tuple(Audit.objects.order_by("pk").values_list("status", flat=True)),
        Job.objects.count(),
        tuple(ModelVersion.objects.order_by("pk").values_list("status", flat=True)),
        Item.objects.count(),
    )


# A POST body that the forms accept (a verdict, a full label, a model action), so a
# request gets past input checks to the lookup that must refuse it.
PLAUSIBLE = {
    "verdict": "usable",
    "shape": "ok",
    "placement": "ok",
    "color": "ok",
    "usable": "yes",
    "outcome": "success",
    "action": "promote",
    "kind": "export",
    "format": "jsonl",
}

# Rows shared by every project on purpose (the catalog), and plain numbers.
SHARED_KEYS = {"product_id", "index"}


def _urls(victim: dict[str, Any], own_project: int) -> Iterator[tuple[str, str, bool]]:
    """(name, url, names_the_project) for every pattern: the victim's project with its rows,
    and the intruder's own project in the URL with the victim's rows (the id swap)."""
    for name, _, keys in _patterns(get_resolver().url_patterns):
        unknown = keys - set(victim)
        assert not unknown, f"{name}: teach this test what {unknown} is"
        if "path" in keys:
            for path in victim["path"]:
                yield name, reverse(name, kwargs={"path": path}), True
            continue
        kwargs = {k: victim[k] for k in keys}
        yield name, reverse(name, kwargs=kwargs), bool(keys)
        if "project_id" in keys and keys - SHARED_KEYS - {"project_id"}:
            yield name, reverse(name, kwargs={**kwargs, "project_id": own_project}), True
    yield "admin", "/admin/", False


@pytest.fixture
def intruders(groups, other_project):  # type: ignore[no-untyped-def]
    people: list[Any] = [None]
    for role in (Role.ANNOTATOR, Role.OPS, Role.MANAGER):
        user = _persona(groups, f"intruder-{role.value}", role)
        add_member(user, other_project)
        people.append(user)
    return people


def _leaks(victim: dict[str, Any], intruders: list[Any], own_project: int) -> list[str]:
    urls = list(_urls(victim, own_project))
    assert len(urls) > 40  # the walk found the app's URLs, not an empty resolver
    leaks: list[str] = []
    state = _state()
    for person in intruders:
        who = person.username if person else "anonymous"
        for name, url, names_project in urls:
            for method, data in (("get", None), ("post", None), ("post", PLAUSIBLE)):
                client = Client()
                if person is not None:
                    client.force_login(person)
                response = getattr(client, method)(url, data)
                code = response.status_code
                body = b"" if response.streaming else response.content
                where = f"{who} {method.upper()} {url} ({name})"
                if code >= 500 or (names_project and 200 <= code < 300):
                    leaks.append(f"{where}: {code}")
                elif SECRET.encode() in body:
                    leaks.append(f"{where}: shows the project")
                if method == "post" and _state() != state:
                    leaks.append(f"{where}: changed stored data")
                    state = _state()
    return leaks


def test_no_url_lets_outsiders_into_a_project(victim, intruders, other_project) -> None:  # type: ignore[no-untyped-def]
    before = _state()
    assert _leaks(victim, intruders, other_project.pk) == []
    assert _state() == before


def test_the_walk_catches_an_open_door(victim, intruders, other_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The check has teeth: a media view without its access check is reported."""
    monkeypatch.setattr("labeling.media._may_read", lambda user, name: True)
    leaks = _leaks(victim, intruders[:1], other_project.pk)
    assert any("/media/items/" in leak for leak in leaks)
    assert any("/media/exports/" in leak for leak in leaks)
