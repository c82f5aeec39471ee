"""Model pages that say what happened: a refused gate setting keeps what was typed, the
agents comparison explains the policies not trained yet (with their buttons for those who
may start jobs), the query-expansion loop shows reward components only once an RL run
exists, and the demo's seeding job is not offered to people."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from jdreview.models import Project
from rewards.audits import gate_for
from tests.factories import UserFactory, add_member
from workers.models import Job, ModelVersion
from workers.versions import artifact_dir, model_version_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_enqueue")]


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _version(
    project: Project, family: str, name: str, *, parent: ModelVersion | None = None, **metrics: Any
) -> ModelVersion:
    with artifact_dir() as tmp:
        (tmp / "config.json").write_text("{}")
        return model_version_create(
            project=project,
            family=family,
            name=name,
            saved_dir=tmp,
            metrics=metrics,
            parent=parent,
        )


# 1. The gate settings form.


def test_a_refused_gate_setting_shows_what_was_typed_and_saves_nothing(project, manager):
    before = gate_for(project).target
    typed = {
        "target": "120%",
        "confidence": "93%",
        "audit_launched_rate": "7%",
        "audit_other_rate": "",
        "retrain_after_labels": "250",
    }
    response = _login(manager).post(reverse("rewards:gate_settings", args=[project.pk]), typed)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Gate settings not saved: target usable rate must be between" in html
    assert 'name="target" inputmode="decimal" value="120%"' in html
    assert 'name="confidence" inputmode="decimal" value="93%"' in html
    assert 'name="audit_launched_rate" inputmode="decimal" value="7%"' in html
    assert 'name="retrain_after_labels" inputmode="numeric" value="250"' in html
    gate = gate_for(project)
    assert gate.target == before and gate.retrain_after_labels != 250  # nothing saved


def test_the_gate_settings_form_shows_the_stored_values_otherwise(project, manager):
    html = _login(manager).get(reverse("rewards:models", args=[project.pk])).content.decode()
    assert f'name="target" inputmode="decimal" value="{gate_for(project).target:.1%}"' in html


# 2. The agents comparison.


def _dashboards_only(project: Project) -> Any:
    """Someone who may see dashboards but not start jobs."""
    group, _ = Group.objects.get_or_create(name="dashboards only")
    group.permissions.set(Permission.objects.filter(codename="view_dashboards"))
    user: Any = UserFactory(username="vera")
    user.groups.add(group)
    add_member(user, project)
    return user


def test_compare_explains_the_missing_policies_with_buttons_to_train_them(project, manager):
    base = _version(project, "agent_policy", "base", eval={"e2e": 0.5})
    url = reverse("agents:compare", args=[project.pk])
    html = _login(manager).get(url).content.decode()
    assert 'id="missing-policies"' in html
    assert "DPO (implicit reward)" in html and "Explicit reward (reward model + GRPO)" in html
    assert 'name="kind" value="agent_train_dpo"' in html
    assert 'name="kind" value="agent_train_explicit"' in html

    _version(project, "agent_policy", "dpo", parent=base, eval={"e2e": 0.6})
    html = _login(manager).get(url).content.decode()
    assert "DPO (implicit reward)" not in html  # trained: in the table now
    assert 'name="kind" value="agent_train_explicit"' in html


def test_the_compare_button_starts_the_training_job(project, manager):
    _version(project, "agent_policy", "base", eval={"e2e": 0.5})
    response = _login(manager).post(
        reverse("agents:job_start", args=[project.pk]), {"kind": "agent_train_dpo", "steps": "5"}
    )
    job = Job.objects.get(kind="agent_train_dpo")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.params["steps"] == 5 and job.project == project


def test_compare_without_a_base_policy_offers_the_base_run_first(project, manager):
    html = _login(manager).get(reverse("agents:compare", args=[project.pk])).content.decode()
    assert 'id="no-base"' in html and 'name="kind" value="agent_train_base"' in html
    assert "once there is a base policy" in html
    assert 'name="kind" value="agent_train_dpo"' not in html  # nothing to tune yet


def test_compare_explains_but_offers_no_buttons_to_who_may_not_start_jobs(project):
    _version(project, "agent_policy", "base", eval={"e2e": 0.5})
    viewer = _dashboards_only(project)
    response = _login(viewer).get(reverse("agents:compare", args=[project.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "DPO (implicit reward)" in html
    assert "agent_train_dpo" in html  # named, so they can ask for it
    assert 'name="kind"' not in html
    assert "Someone who manages this project's models can start these jobs." in html


# 3. The query-expansion loop.


def test_the_loop_says_no_rl_run_exists_until_one_does(project, manager):
    url = reverse("qe:loop", args=[project.pk])
    _version(project, "query_expansion", "sft", recall10=0.4)
    html = _login(manager).get(url).content.decode()
    assert "No RL run exists yet" in html and "Phase 3: GRPO" in html
    assert "<th>Component</th>" not in html

    components = {"relevance": {"weight": 1.0, "first": 0.1, "last": 0.3}}
    _version(project, "query_expansion", "grpo", recall10=0.5, reward_components=components)
    html = _login(manager).get(url).content.decode()
    assert "No RL run exists yet" not in html
    assert "<th>Component</th>" in html and "<td>relevance</td>" in html


# 4. seed_demo is the app's, not a person's.


def test_seed_demo_is_not_in_the_jobs_form(project, manager):
    client = _login(manager)
    url = reverse("workers:project_jobs", args=[project.pk])
    html = client.get(url).content.decode()
    assert "simulate_labels" in html and "seed_demo" not in html
    response = client.post(url, {"kind": "seed_demo"})
    assert response.status_code == 400
    assert "unknown job kind &#x27;seed_demo&#x27;" in response.content.decode()
    assert not Job.objects.exists()


def test_seed_demo_is_not_an_api_choice(project, manager, api):
    url = f"/api/projects/{project.pk}/jobs/"
    response = api(manager).post(url, {"kind": "seed_demo"}, format="json")
    assert response.status_code == 400 and "seed_demo" in str(response.json())
    assert not Job.objects.exists()
    schema = api(manager).get("/api/schema/").content.decode()
    assert "seed_demo" not in schema and "simulate_labels" in schema
