"""Reviewing expansions: items made from the live model, the keyboard page, strict checks of
term ratings and preferences, agreement units, and what managers see of it."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then used as arguments)
from __future__ import annotations

import pytest
from django.db import transaction

from labeling import stats
from labeling.kinds import spec_for
from labeling.models import Annotation, Item
from labeling.schemas import AnnotationError
from labeling.services import annotation_submit, task_next
from tests.qe_fixtures import qe_catalog, register_model, tiny_qe_model  # noqa: F401
from workers.models import Job
from workers.qe.apps import KIND as QE_KIND
from workers.qe.selectors import acceptance, approved_pairs
from workers.services import job_create, job_run


def qe_item(project, terms=("running shoes", "socks"), pair=True, query="kicks"):  # type: ignore[no-untyped-def]
    payload = {
        "query": query,
        "terms": list(terms),
        "a": {"terms": list(terms[:1]), "results": [{"sku": "S1", "title": "Strideon shoe"}]},
        "results_without": [],
    }
    if pair:
        payload["b"] = {"terms": list(terms[1:]), "results": []}
    return Item.objects.create(project=project, kind=QE_KIND, payload=payload)


def test_the_review_job_queues_the_live_models_expansions_once(
    project, qe_catalog, tiny_qe_model
) -> None:  # type: ignore[no-untyped-def]
    register_model(project, tiny_qe_model, promote=True)
    for _ in range(2):
        with transaction.atomic():
            job = job_create(kind="qe_review_items", params={"count": 5}, project=project)
        job_run(job.pk)
    jobs = list(Job.objects.filter(kind="qe_review_items").order_by("pk"))
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert (jobs[0].metrics["created"], jobs[1].metrics["created"]) == (5, 5)
    items = Item.objects.filter(project=project, kind=QE_KIND)
    assert items.count() == 10
    assert len({i.payload["query"] for i in items}) == 10  # no query twice
    item = items.first()
    assert set(item.payload) == {"query", "terms", "a", "b", "results_without"}
    assert item.payload["terms"] == list(
        dict.fromkeys(item.payload["a"]["terms"] + item.payload["b"]["terms"])
    )
    # Reviewers do not see which model is which; the recipe knows.
    assert item.recipe["sides"]["a"]["label"] == "v1 sft"
    assert item.recipe["sides"]["b"]["label"] == "synonyms"
    assert "label" not in item.payload["a"]


def test_review_needs_a_live_model(project, qe_catalog) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        job = job_create(kind="qe_review_items", params={"count": 5}, project=project)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "no live query-expansion model" in job.error


def test_every_shown_term_must_be_rated_and_nothing_else(project) -> None:  # type: ignore[no-untyped-def]
    item = qe_item(project)
    spec = spec_for("query_expansion")
    good = {"terms": {"running shoes": "relevant", "socks": "drifting"}, "prefer": "a"}
    assert spec.validate(item, good, []) == (good, [])
    bad_cases = [
        ({"terms": {"running shoes": "relevant"}, "prefer": "a"}, "'socks' is not rated"),
        ({**good, "terms": {**good["terms"], "sandals": "relevant"}}, "not shown"),
        ({**good, "terms": {"running shoes": "yes", "socks": "drifting"}}, "relevant or drifting"),
        ({"terms": good["terms"]}, "choose the better expansion"),
        ({**good, "prefer": "c"}, "choose the better expansion"),
        ({**good, "extra": 1}, "unknown fields"),
        (["running shoes"], "values must be an object"),
    ]
    for values, message in bad_cases:
        with pytest.raises(AnnotationError, match=message):
            spec.validate(item, values, [])
    single = qe_item(project, pair=False, query="tee")
    with pytest.raises(AnnotationError, match="nothing to prefer"):
        spec.validate(single, good, [])
    assert spec.units(good) == {
        "terms": {"running shoes": "relevant", "socks": "drifting"},
        "prefer": {"": "a"},
    }


def test_a_reviewer_rates_terms_on_the_page(client, project, annotator) -> None:  # type: ignore[no-untyped-def]
    qe_item(project, terms=("<b>bold</b>", "socks"), query="<script>x</script> {{ q }}")
    client.force_login(annotator)
    page = client.get(f"/p/{project.pk}/label/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "js/qe.js" in html and "&lt;script&gt;x&lt;/script&gt; {{ q }}" in html
    assert "<script>x</script>" not in html and "<b>bold</b>" not in html
    assignment = task_next(project=project, user=annotator)
    url = f"/p/{project.pk}/label/{assignment.pk}/submit/"
    form = {"term_0": "<b>bold</b>", "term_1": "socks", "rate_0": "relevant"}
    missing = client.post(url, {**form, "prefer": "b"})
    assert missing.status_code == 400 and "not rated" in missing.content.decode()
    done = client.post(url, {**form, "rate_1": "drifting", "prefer": "b"})
    assert done.status_code == 302
    annotation = Annotation.objects.get(item__project=project)
    assert annotation.values == {
        "terms": {"<b>bold</b>": "relevant", "socks": "drifting"},
        "prefer": "b",
    }


def test_ratings_become_approved_pairs_and_acceptance(project, annotator, annotator2) -> None:  # type: ignore[no-untyped-def]
    project.overlap = 2
    project.save(update_fields=["overlap"])
    qe_item(project)
    for user, socks in ((annotator, "drifting"), (annotator2, "relevant")):
        assignment = task_next(project=project, user=user)
        annotation_submit(
            assignment_id=assignment.pk,
            user=user,
            values={"terms": {"running shoes": "relevant", "socks": socks}, "prefer": "a"},
        )
    # Half the raters said relevant: kept; both said so for running shoes.
    assert approved_pairs(project) == [("kicks", "running shoes | socks")]
    rate = acceptance(project)
    assert (rate["rated"], rate["accepted"]) == (4, 3)
    # Agreement is computed per term and for the preference, like any other kind.
    by_group = {a.field: a for a in stats.agreement(project)}
    assert set(by_group) == {"terms", "prefer"}
    assert by_group["prefer"].items == 1


def test_managers_see_the_loop_page_and_promote_only_servable_versions(
    client, project, manager, annotator, tiny_qe_model
) -> None:  # type: ignore[no-untyped-def]
    pre = register_model(project, tiny_qe_model, name="pretrain")
    sft = register_model(project, tiny_qe_model, name="sft", parent=pre)
    client.force_login(annotator)
    assert client.get(f"/p/{project.pk}/qe/").status_code == 403
    client.force_login(manager)
    page = client.get(f"/p/{project.pk}/qe/")
    assert page.status_code == 200 and "Phase 3: PPO" in page.content.decode()
    client.post(f"/p/{project.pk}/models/{pre.pk}/promote/")
    pre.refresh_from_db()
    assert pre.status == "candidate"
    client.post(f"/p/{project.pk}/models/{sft.pk}/promote/")
    sft.refresh_from_db()
    assert sft.status == "live"
    started = client.post(f"/p/{project.pk}/qe/start/", {"kind": "qe_sft"})
    assert started.status_code == 302
    assert Job.objects.filter(project=project, kind="qe_sft").exists()


def test_the_dashboard_shows_the_query_expansion_panel(
    client, project, manager, tiny_qe_model
) -> None:  # type: ignore[no-untyped-def]
    version = register_model(project, tiny_qe_model, name="sft", promote=True)
    version.metrics = {
        "recall10": 0.314,
        "precision10": 0.2,
        "recall10_none": 0.16,
        "precision10_none": 0.21,
        "reward_components": {"recall_gain": {"weight": 2.0, "first": 0.01, "last": 0.123}},
        "curve": [
            {"reward": 0.1, "reward/recall_gain": 0.01},
            {"reward": 0.5, "reward/recall_gain": 0.2},
        ],
    }
    version.save(update_fields=["metrics"])
    client.force_login(manager)
    html = client.get("/dashboard/").content.decode()
    assert "Query expansion" in html
    assert "0.314" in html and "recall_gain" in html and "0.123" in html
    assert 'aria-label="Reward components over RL training"' in html
