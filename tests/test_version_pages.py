"""Every family's versions table is the one partial: from each family's own page a manager
makes a version live and rolls it back (workers.version_views), and comes back to that
page; a member whose role may not manage models, and a version of another project, change
nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jdreview.models import Project
from workers.models import Job, ModelVersion
from workers.versions import artifact_dir, live_version, model_version_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_enqueue")]

# family -> (slot, the URL name of the page that lists its versions)
PAGES = {
    "aspect_reward": ("shape", "rewards:models"),
    "generator": ("", "imagegen:generators"),
    "query_expansion": ("", "qe:loop"),
    "agent_policy": ("", "agents:compare"),
}


def _saved(into: Path, family: str) -> None:
    if family == "aspect_reward":
        # Its family check loads the model fully: save a real (untrained) one.
        from rewards.ml.aspects import default_registry
        from rewards.ml.model import AspectNet, save

        save(AspectNet(default_registry().get("shape").model_config()), into)
    else:
        (into / "config.json").write_text("{}")


def _version(project: Project, family: str, *, promote: bool = False) -> ModelVersion:
    slot = PAGES[family][0]
    with artifact_dir() as tmp:
        _saved(tmp, family)
        return model_version_create(
            project=project,
            family=family,
            slot=slot,
            name="sft",  # a name every family takes (the query-expansion one serves it)
            saved_dir=tmp,
            promote=promote,
        )


def _live(project: Project, family: str) -> ModelVersion | None:
    return live_version(project, family, PAGES[family][0])


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("family", list(PAGES))
def test_a_manager_promotes_and_rolls_back_from_the_familys_page(project, manager, family):
    first = _version(project, family, promote=True)
    second = _version(project, family)
    client = _login(manager)
    page = reverse(PAGES[family][1], args=[project.pk])
    promote = reverse("workers:version_promote", args=[project.pk, second.pk])

    html = client.get(page).content.decode()
    assert f'action="{promote}"' in html
    done = client.post(promote, {"next": page})
    assert done.status_code == 302 and done["Location"] == page
    assert _live(project, family) == second
    assert _live(project, family).promoted_by == manager  # type: ignore[union-attr]

    html = client.get(page).content.decode()
    assert re.search(rf"v{second.version}\b[^<]* is live\.", html)  # the message
    rollback = reverse("workers:version_rollback", args=[project.pk, second.pk])
    assert f'action="{rollback}"' in html and f"Roll back to v{first.version}" in html
    done = client.post(rollback, {"next": page})
    assert done.status_code == 302 and done["Location"] == page
    assert _live(project, family) == first
    assert "is live again" in client.get(page).content.decode()


def test_changing_a_live_aspect_model_recalibrates_the_gate(project, manager):
    _version(project, "aspect_reward", promote=True)
    second = _version(project, "aspect_reward")
    client = _login(manager)
    client.post(reverse("workers:version_promote", args=[project.pk, second.pk]))
    client.post(reverse("workers:version_rollback", args=[project.pk, second.pk]))
    assert Job.objects.filter(project=project, kind="calibrate_gate").count() == 2


@pytest.mark.parametrize("family", list(PAGES))
def test_a_member_who_may_not_manage_models_changes_nothing(project, annotator, family):
    first = _version(project, family, promote=True)
    second = _version(project, family)
    client = _login(annotator)
    promote = client.post(reverse("workers:version_promote", args=[project.pk, second.pk]))
    rollback = client.post(reverse("workers:version_rollback", args=[project.pk, first.pk]))
    assert promote.status_code == 403 and rollback.status_code == 403
    assert _live(project, family) == first
    assert not Job.objects.exists()


@pytest.mark.parametrize("family", list(PAGES))
def test_another_projects_version_is_not_found(project, other_project, manager, family):
    theirs = _version(other_project, family, promote=True)
    their_next = _version(other_project, family)
    client = _login(manager)
    for url in (
        # their version under my project, and their project (I am not a member of it)
        reverse("workers:version_promote", args=[project.pk, their_next.pk]),
        reverse("workers:version_rollback", args=[project.pk, theirs.pk]),
        reverse("workers:version_promote", args=[other_project.pk, their_next.pk]),
    ):
        assert client.post(url).status_code == 404
    assert _live(other_project, family) == theirs


def test_a_pretrained_language_model_cannot_go_live_and_the_page_says_why(project, manager):
    with artifact_dir() as tmp:
        (tmp / "config.json").write_text("{}")
        pre = model_version_create(
            project=project, family="query_expansion", name="pretrain", saved_dir=tmp
        )
    client = _login(manager)
    page = reverse("qe:loop", args=[project.pk])
    promote = reverse("workers:version_promote", args=[project.pk, pre.pk])
    assert f'action="{promote}"' not in client.get(page).content.decode()
    answer = client.post(promote, {"next": page}, follow=True)
    assert "does not write expansions" in answer.content.decode()
    pre.refresh_from_db()
    assert pre.status == ModelVersion.Status.CANDIDATE


def test_rolling_back_a_version_that_is_no_longer_live_changes_nothing(project, manager):
    first = _version(project, "generator", promote=True)
    second = _version(project, "generator", promote=True)
    page = reverse("imagegen:generators", args=[project.pk])
    client = _login(manager)
    stale = reverse("workers:version_rollback", args=[project.pk, first.pk])
    answer = client.post(stale, {"next": page}, follow=True)
    assert "is not live any more" in answer.content.decode()
    assert _live(project, "generator") == second


def test_a_first_live_version_has_nothing_to_roll_back_to(project, manager):
    only = _version(project, "agent_policy", promote=True)
    page = reverse("agents:compare", args=[project.pk])
    client = _login(manager)
    rollback = reverse("workers:version_rollback", args=[project.pk, only.pk])
    assert f'action="{rollback}"' not in client.get(page).content.decode()
    answer = client.post(rollback, {"next": page}, follow=True)
    assert "Not rolled back" in answer.content.decode()
    assert _live(project, "agent_policy") == only


def test_the_way_back_stays_on_this_site(project, manager):
    _version(project, "generator", promote=True)
    second = _version(project, "generator")
    answer = _login(manager).post(
        reverse("workers:version_promote", args=[project.pk, second.pk]),
        {"next": "https://elsewhere.example/"},
    )
    assert answer["Location"] == reverse("project", args=[project.pk])
