"""The query-expansion phases as jobs: each saves a version with its curves, samples and
held-out recall/precision; fine-tuning takes reviewer-approved terms; RL logs its rewards."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from labeling.models import Annotation, Item
from workers.models import Job, ModelVersion
from workers.qe.apps import KIND as QE_KIND
from workers.qe.catalog import catalog_sync
from workers.services import job_create, job_run
from workers.versions import artifact_path, live_version

TINY = {"steps": 12, "batch_size": 8, "eval_queries": 12}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def catalog(db):  # type: ignore[no-untyped-def]
    catalog_sync(size=600)


def run(kind: str, project, **params) -> Job:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        job = job_create(kind=kind, params=params, project=project)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job


def pretrained_and_finetuned(project) -> tuple[Job, Job]:  # type: ignore[no-untyped-def]
    pre = run("qe_pretrain", project, layers=2, **TINY)
    sft = run("qe_sft", project, **{**TINY, "steps": 20})
    return pre, sft


def test_pretraining_and_fine_tuning_save_versions_with_curves_and_held_out_scores(
    project, catalog
) -> None:  # type: ignore[no-untyped-def]
    pre, sft = pretrained_and_finetuned(project)
    v1, v2 = ModelVersion.objects.filter(project=project).order_by("version")
    assert (v1.name, v2.name, v2.parent) == ("pretrain", "sft", v1)
    for job, version in ((pre, v1), (sft, v2)):
        assert job.metrics["loss_last"] < job.metrics["loss_first"]
        assert len(job.metrics["curve"]) >= 2 and "loss" in job.metrics["curve"][-1]
        assert 0.0 <= version.metrics["recall10"] <= 1.0
        assert "precision10" in version.metrics and "recall10_none" in version.metrics
        assert version.job == job
        assert (artifact_path(version) / "config.json").is_file()
    assert sft.metrics["samples"] and "terms" in sft.metrics["samples"][0]
    # A pre-trained model only continues text: it never goes live; the first SFT does.
    assert live_version(project, "query_expansion") == v2
    assert sft.metrics["live"] is True and pre.metrics["live"] is False


def test_a_phase_without_its_parent_fails_with_a_clear_message(project, catalog) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        job = job_create(kind="qe_sft", params=TINY, project=project)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "run the pretrain phase first" in job.error


def test_terms_reviewers_approved_reach_the_next_fine_tuning_set(
    project, catalog, annotator
) -> None:  # type: ignore[no-untyped-def]
    item = Item.objects.create(
        project=project,
        kind=QE_KIND,
        payload={"query": "zorbly kicks", "terms": ["running shoes", "socks"], "a": {}},
    )
    Annotation.objects.create(
        item=item,
        project=project,
        user=annotator,
        values={"terms": {"running shoes": "relevant", "socks": "drifting"}},
    )
    run("qe_pretrain", project, layers=2, **TINY)
    sft = run("qe_sft", project, **TINY)
    assert sft.metrics["approved_pairs"] == 1
    version = ModelVersion.objects.get(project=project, name="sft")
    lines = (artifact_path(version) / "sft_pairs.jsonl").read_text().splitlines()
    pairs = [json.loads(line) for line in lines]
    assert {"query": "zorbly kicks", "expansion": "running shoes"} in pairs
    assert not any("socks" in p["expansion"] for p in pairs if p["query"] == "zorbly kicks")


def test_ppo_and_grpo_log_each_reward_component_with_its_weight(project, catalog) -> None:  # type: ignore[no-untyped-def]
    pretrained_and_finetuned(project)
    ppo = run("qe_ppo", project, steps=3, batch_size=8, eval_queries=12)
    grpo = run("qe_grpo", project, steps=2, prompts=2, generations=4, eval_queries=12)
    for job, name in ((ppo, "ppo"), (grpo, "grpo")):
        version = ModelVersion.objects.get(project=project, name=name)
        assert version.parent.name == "sft"
        components = version.metrics["reward_components"]
        assert {"format", "relevance_cos", "relevance_model", "recall_gain"} <= set(components)
        assert components["recall_gain"]["weight"] == 2.0
        assert "reward" in job.metrics["curve"][-1]
        assert version.metrics["relevance_source"] == "simulated"
        assert "recall10" in version.metrics


def test_the_relevance_reward_learns_from_reviewers_once_there_are_enough(
    project, catalog, annotator
) -> None:  # type: ignore[no-untyped-def]
    from workers.qe.training import MIN_REVIEWER_RATINGS, relevance_ratings

    job = Job.objects.create(kind="qe_ppo", project=project, params={})
    assert relevance_ratings(job, [], seed=7)[1] == "simulated"
    for i in range(MIN_REVIEWER_RATINGS // 2):
        item = Item.objects.create(
            project=project,
            kind=QE_KIND,
            payload={"query": f"kicks {i}", "terms": ["running shoes", "frying pan"]},
        )
        Annotation.objects.create(
            item=item,
            project=project,
            user=annotator,
            values={"terms": {"running shoes": "relevant", "frying pan": "drifting"}},
        )
    ratings, source = relevance_ratings(job, [], seed=7)
    assert source == "reviewers" and len(ratings) == MIN_REVIEWER_RATINGS
    assert ("kicks 0", "frying pan", False) in ratings


def test_phase_parameters_are_checked_before_a_job_is_queued(api, manager, project) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/projects/{project.pk}/jobs/"
    bad = api(manager).post(url, {"kind": "qe_sft", "params": {"steps": 0}}, format="json")
    assert bad.status_code == 400 and "steps must be between" in bad.content.decode()
    unknown = api(manager).post(url, {"kind": "qe_ppo", "params": {"lr": 1}}, format="json")
    assert unknown.status_code == 400 and "unknown parameters" in unknown.content.decode()
