"""Serving the live query-expansion model: POST /api/expand and the try-it page."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then used as arguments)
from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.db import connection

from tests.qe_fixtures import qe_catalog, register_model, tiny_qe_model  # noqa: F401
from workers.qe.search import engine_for
from workers.qe.serving import expand_terms, loaded_model, model_is_loaded, models_warm

URL = "/api/expand"


@pytest.fixture(autouse=True)
def _artifacts(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.ARTIFACT_ROOT = str(tmp_path / "artifacts")
    cache.clear()


@pytest.fixture
def cold(project, qe_catalog, tiny_qe_model):  # type: ignore[no-untyped-def]
    """A live version this process has not loaded yet."""
    return register_model(project, tiny_qe_model, promote=True)


@pytest.fixture
def live(cold):  # type: ignore[no-untyped-def]
    """A live version already loaded, as web workers have it once warm."""
    loaded_model(cold)
    return cold


def test_a_cold_model_answers_503_with_retry_after_and_loads_in_the_background(
    api, annotator, cold
) -> None:  # type: ignore[no-untyped-def]
    client = api(annotator)
    body = {"project": cold.project_id, "query": "kicks for guys"}
    first = client.post(URL, body, format="json")
    assert first.status_code == 503
    assert first["Retry-After"] == "5"
    assert "loading" in first.json()["detail"]
    deadline = time.monotonic() + 60
    while not model_is_loaded(cold):
        assert time.monotonic() < deadline, "the background load never finished"
        time.sleep(0.05)
    assert client.post(URL, body, format="json").status_code == 200


def test_web_workers_start_loading_every_live_model(cold) -> None:  # type: ignore[no-untyped-def]
    assert models_warm() == 1
    deadline = time.monotonic() + 60
    while not model_is_loaded(cold):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_it_expands_with_the_live_version_and_caches_the_answer(api, annotator, live) -> None:  # type: ignore[no-untyped-def]
    client = api(annotator)
    first = client.post(
        URL, {"project": live.project_id, "query": "Kicks  for Guys"}, format="json"
    )
    assert first.status_code == 200, first.content
    body = first.json()
    terms = expand_terms(live, ["kicks for guys"])[0]
    assert body["terms"] == terms
    assert body["version"] == {"id": live.pk, "number": live.version, "name": "sft"}
    assert body["expanded_query"] == " ".join(["kicks for guys", *terms])
    engine = engine_for("bm25")
    assert [r["sku"] for r in body["results"]] == engine.search(body["expanded_query"], 10)
    assert [r["sku"] for r in body["results_without"]] == engine.search("kicks for guys", 10)
    assert body["cached"] is False
    # The same query, spelled differently, comes from the cache.
    again = client.post(URL, {"project": live.project_id, "query": "kicks for guys"}, format="json")
    assert again.json()["cached"] is True
    assert again.json()["terms"] == terms


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query is empty"),
        ("   ", "query is empty"),
        ("x" * 201, "longer than 200"),
        ("kicks\x00for guys", "control characters"),
        ("\x1b[31mred\x1b[0m", "control characters"),
        ("caf\ufffd", "binary"),
        (123, "must be text"),
        (None, "may not be null"),
    ],
)
def test_it_refuses_bad_queries_with_a_clear_400(api, annotator, live, query, message) -> None:  # type: ignore[no-untyped-def]
    response = api(annotator).post(URL, {"project": live.project_id, "query": query}, format="json")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_it_refuses_a_binary_body(api, annotator, live) -> None:  # type: ignore[no-untyped-def]
    response = api(annotator).post(
        URL, data=b"\xff\xfe\x00\x01binary", content_type="application/json"
    )
    assert response.status_code == 400


def test_it_answers_409_without_a_live_model(api, annotator, project, qe_catalog) -> None:  # type: ignore[no-untyped-def]
    response = api(annotator).post(URL, {"project": project.pk, "query": "kicks"}, format="json")
    assert response.status_code == 409
    assert "no live query-expansion model" in response.json()["detail"]


def test_it_hides_other_teams_projects_and_needs_a_login(api, outsider, live, client) -> None:  # type: ignore[no-untyped-def]
    response = api(outsider).post(URL, {"project": live.project_id, "query": "x"}, format="json")
    assert response.status_code == 404
    anonymous = client.post(URL, {"project": live.project_id, "query": "x"})
    assert anonymous.status_code in (401, 403)


def test_postgres_backend_is_refused_on_sqlite_and_served_on_postgres(api, annotator, live) -> None:  # type: ignore[no-untyped-def]
    response = api(annotator).post(
        URL,
        {"project": live.project_id, "query": "black running shoes", "backend": "postgres"},
        format="json",
    )
    if connection.vendor == "postgresql":
        assert response.status_code == 200
        assert response.json()["backend"] == "postgres"
        assert response.json()["results_without"]
    else:
        assert response.status_code == 400
        assert "PostgreSQL" in response.json()["detail"]


def test_the_page_shows_query_text_escaped(client, annotator, live) -> None:  # type: ignore[no-untyped-def]
    client.force_login(annotator)
    nasty = "<script>alert(1)</script> {{ 7|add:1 }} {% now 'Y' %}"
    page = client.get(f"/p/{live.project_id}/qe/expand/", {"q": nasty})
    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7|add:1 }}" in html and "{% now &#x27;Y&#x27; %}" in html


def test_the_page_says_what_is_wrong_with_a_query(client, annotator, live) -> None:  # type: ignore[no-untyped-def]
    client.force_login(annotator)
    page = client.get(f"/p/{live.project_id}/qe/expand/", {"q": "a\x07b"})
    assert page.status_code == 400
    assert "control characters" in page.content.decode()
    htmx = client.get(f"/p/{live.project_id}/qe/expand/", {"q": ""}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "query is empty" in htmx.content.decode()
    assert "<html" not in htmx.content.decode()
