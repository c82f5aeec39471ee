"""The agent-evaluation loop as jobs and pages: generating traces, scoring them (step
judge from reviewers or from the world), the overview, the dashboard panel, and the base /
DPO / explicit training runs with their comparison page."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from jdreview.panels import extra_panels
from labeling.models import Item
from tests.factories import ItemFactory
from workers import services
from workers.agents import scoring
from workers.agents.panels import panel
from workers.agents.scoring import agent_summary
from workers.agents.simulate import trace_reviews_simulate
from workers.models import Job, ModelVersion

pytestmark = pytest.mark.django_db


def run(kind: str, params: dict, project, user=None) -> Job:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        job = services.job_create(kind=kind, params=params, project=project, user=user)
    services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job


def login(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_generated_traces_carry_ground_truth_and_automatic_hints(project, manager):
    job = run("agent_generate_traces", {"tasks": 12, "runs": 2, "seed": 3}, project, manager)
    assert job.metrics["created"] == 24 and job.metrics["scripted"] == 24
    items = list(Item.objects.filter(project=project, kind="agent_trace"))
    assert len(items) == 24 and all(i.source == "generated" for i in items)
    planted = [i for i in items if i.truth.get("flaw") in ("timeout", "tool_error_not_retried")]
    for item in planted:  # every planted tool failure is flagged for the reviewer
        step = item.payload["steps"][item.truth["planted_step"]]
        assert step["auto"] and step["auto"].startswith("tool error")
    # Two runs of each task, for pass^k.
    assert len({i.payload["task_id"] for i in items}) == 12


def test_scoring_without_reviews_trains_the_judge_on_world_truth(project, manager):
    run("agent_generate_traces", {"tasks": 30, "runs": 2, "seed": 1}, project, manager)
    job = run("agent_score", {}, project, manager)
    m = job.metrics
    assert m["judge_source"] == "world_truth" and m["n_traces"] == 60
    assert m["judge_auc_held_out"] > 0.7
    scripted = m["agents"]["scripted"]
    assert scripted["traces"] == 60 and scripted["k"] == 2
    assert scripted["failed"] == scripted["fail_reasoning"] + scripted["fail_execution"]
    scores = job.artifacts["scores"]
    for item in Item.objects.filter(project=project):
        s = scores[str(item.pk)]
        # End-to-end is the goal check against the task: it matches the world's outcome.
        assert s["e2e"] == (1.0 if item.truth["outcome"] == "success" else 0.0)
        assert len(s["labels"]) == len(item.payload["steps"])
        assert (s["attribution"] is None) == (s["e2e"] == 1.0)


def test_with_enough_reviews_the_judge_learns_from_reviewers(project, manager, monkeypatch):
    monkeypatch.setattr(scoring, "MIN_REVIEWED_TRACES", 10)
    project.overlap = 2
    project.save()
    run("agent_generate_traces", {"tasks": 20, "runs": 2, "seed": 2}, project, manager)
    assert trace_reviews_simulate(project=project, reviewers=3, labels=50, seed=1) == 50
    job = run("agent_score", {}, project, manager)
    assert job.metrics["judge_source"] == "reviewers"
    assert job.metrics["n_reviewed"] >= 25


def test_pass_k_and_failure_split_of_a_hand_made_agent() -> None:
    def row(task: str, ok: bool, blame: str | None = None) -> dict:
        return {
            "task_id": task,
            "e2e": 1.0 if ok else 0.0,
            "local": 1.0 if ok else 0.5,
            "attribution": blame,
            "agent_version": None,
        }

    rows = [
        row("a", True),
        row("a", True),
        row("a", False, "execution"),
        row("b", True),
        row("b", True),
        row("b", True),
    ]
    s = agent_summary(rows)
    assert s["pass^1"] == pytest.approx((2 / 3 + 1) / 2)
    assert s["pass^3"] == pytest.approx((0 + 1) / 2) and s["k"] == 3
    assert s["e2e"] == pytest.approx(5 / 6) and s["local"] == pytest.approx(5.5 / 6)
    assert (s["failed"], s["fail_reasoning"], s["fail_execution"]) == (1, 0, 1)


def test_overview_page_shows_scores_to_managers_only(project, manager, annotator):
    run("agent_generate_traces", {"tasks": 15, "runs": 2, "seed": 1}, project, manager)
    run("agent_score", {}, project, manager)
    page = login(manager).get(reverse("agents:overview", args=[project.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "the benchmark world's ground truth" in html and "scripted" in html
    assert "goal reached" in html or "failed" in html
    partial = login(manager).get(
        reverse("agents:overview", args=[project.pk]) + "?page=2", HTTP_HX_REQUEST="true"
    )
    assert partial.content.decode().startswith('<div id="trace-scores">')
    assert login(annotator).get(reverse("agents:overview", args=[project.pk])).status_code == 403


def test_job_forms_start_jobs_and_refuse_bad_parameters(project, manager, annotator):
    target = reverse("agents:job_start", args=[project.pk])
    resp = login(manager).post(target, {"kind": "agent_generate_traces", "tasks": "999"})
    assert resp.status_code == 400 and "tasks must be between 1 and 360" in resp.content.decode()
    resp = login(manager).post(target, {"kind": "agent_generate_traces", "tasks": "3"})
    job = Job.objects.get(kind="agent_generate_traces")
    assert resp.status_code == 302 and job.params == {"tasks": 3}
    assert login(annotator).post(target, {"kind": "agent_score"}).status_code == 403


def test_the_dashboard_panel_shows_agents_of_trace_projects_only(project, other_project, manager):
    ItemFactory(project=other_project)
    assert panel(other_project) is None
    run("agent_generate_traces", {"tasks": 15, "runs": 2, "seed": 1}, project, manager)
    run("agent_score", {}, project, manager)
    (made,) = [p for p in extra_panels(project) if p.title == "Agent evaluation"]
    assert made.context["agents"][0]["agent"] == "scripted"
    html = login(manager).get(reverse("dashboard")).content.decode()
    assert "Agent evaluation" in html and "pass^k" in html


@pytest.mark.slow
def test_base_dpo_and_explicit_runs_are_versions_on_the_comparison_page(project, manager):
    eval_params = {"eval_tasks": 4, "eval_runs": 2, "seed": 0}
    base = run("agent_train_base", {"sft_steps": 40, **eval_params}, project, manager)
    assert base.metrics["sft_loss"][1] < base.metrics["sft_loss"][0]
    v1 = ModelVersion.objects.get(project=project, family="agent_policy")
    assert v1.status == "live" and v1.name == "base"
    assert set(v1.metrics["eval"]) >= {"e2e", "local", "pass^1", "pass^2", "fail_reasoning"}

    dpo = run("agent_train_dpo", {"steps": 4, **eval_params}, project, manager)
    assert dpo.metrics["pairs_source"] == "scores" and dpo.metrics["pairs"] >= 4
    explicit = run(
        "agent_train_explicit", {"steps": 4, "grpo_steps": 2, **eval_params}, project, manager
    )
    assert len(explicit.metrics["rm_loss"]) == 2
    versions = {v.name: v for v in ModelVersion.objects.filter(project=project)}
    assert set(versions) == {"base", "dpo", "explicit"}
    assert versions["dpo"].parent_id == versions["explicit"].parent_id == v1.pk
    assert versions["dpo"].status == versions["explicit"].status == "candidate"

    html = login(manager).get(reverse("agents:compare", args=[project.pk])).content.decode()
    table = html.split('id="comparison"')[1].split("</table>")[0]
    assert all(f"<td>{name}</td>" in table for name in ("base", "dpo", "explicit"))

    # The policy's own traces go to the review queue, labelled with its version.
    gen = run("agent_generate_traces", {"tasks": 3, "runs": 1, "policy": True}, project, manager)
    assert gen.metrics["policy"] == 3
    labels = set(Item.objects.values_list("payload__agent", flat=True))
    assert labels == {"scripted", "policy v1 (base)"}


def test_preference_pairs_come_from_reviewers_when_they_ranked_enough_runs(project, manager):
    from workers.agents.training import preference_data

    run("agent_generate_traces", {"tasks": 40, "runs": 3, "seed": 5}, project, manager)
    assert trace_reviews_simulate(project=project, reviewers=2, labels=120, seed=3) == 120
    pairs, source = preference_data(project)
    assert source == "reviewers" and len(pairs) >= 16
    assert all(p["chosen"] != p["rejected"] and p["prompt"].endswith("act :") for p in pairs)
