"""A job's page reads as a person would write it: rounded numbers and percentages, each
parameter by its label, links to what the job made; an export's bar moves while it writes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from labeling import jobs as labeling_jobs
from labeling.models import Annotation
from tests.factories import GOOD
from workers.models import Job, ModelVersion
from workers.reporter import JobReporter

pytestmark = pytest.mark.django_db


def _page(user, job: Job) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    response = client.get(reverse("workers:job", args=[job.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_metrics_are_rounded_and_parameters_go_by_their_labels(project, manager):
    job = Job.objects.create(
        kind="agent_train_explicit",
        project=project,
        status=Job.Status.SUCCEEDED,
        progress=1.0,
        params={"grpo_steps": 80, "eval_tasks": 12000},
        metrics={
            "gold_error_rate": 0.041666666666666664,
            "loss": 0.041666666666666664,
            "pairs": 12345,
            "per_aspect": {"shape": 0.5, "color": None},
        },
    )
    page = _page(manager, job)
    assert "0.041666666666666664" not in page
    assert "4.2%" in page  # a share, by its name
    assert "0.0417" in page  # any other float: 3 significant digits
    assert "12,345" in page and "12,000" in page
    assert "shape: 0.5" in page and "color: —" in page
    assert "{&#x27;shape&#x27;" not in page and "{'shape'" not in page  # no raw dict
    assert "GRPO steps" in page and "grpo_steps" not in page
    assert "reward-model steps</th><td>60 (default)" in page  # not given: the default, said so


def test_a_training_job_links_to_the_version_it_made(project, manager, other_project):
    job = Job.objects.create(
        kind="train_rewards", project=project, status=Job.Status.SUCCEEDED, progress=1.0
    )
    version = ModelVersion.objects.create(
        project=project,
        family="aspect_reward",
        slot="shape",
        version=3,
        name="train",
        artifact="x/3",
        job=job,
    )
    page = _page(manager, job)
    assert f'href="{reverse("rewards:models", args=[project.pk])}"' in page
    assert str(version) in page
    running = Job.objects.create(kind="train_rewards", project=project, status=Job.Status.RUNNING)
    assert "Made:" not in _page(manager, running)  # nothing to show before it finishes


def test_an_export_job_links_to_its_file_and_its_bar_moves_while_writing(
    project, manager, annotator, items, monkeypatch
):
    for item in items:
        Annotation.objects.create(item=item, project=project, user=annotator, values=GOOD)
    job = Job.objects.create(kind="export", project=project, status=Job.Status.RUNNING)
    seen: list[float] = []

    class Recording(JobReporter):
        def progress(self, fraction: float, **kw: Any) -> None:
            seen.append(fraction)
            super().progress(fraction, **kw)

    monkeypatch.setattr(labeling_jobs, "EXPORT_PROGRESS_EVERY", 2)
    result = labeling_jobs.run_export(
        job, Recording(job, min_interval_s=0), labeling_jobs.ExportParams()
    )
    assert result == {"annotations": 5}
    assert seen == pytest.approx([0.8 * 2 / 5, 0.8 * 4 / 5, 0.8])  # per 2 rows of 5, then done
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED, progress=1.0, artifacts=job.artifacts
    )
    page = _page(manager, Job.objects.get(pk=job.pk))
    assert f'href="{reverse("media", args=[job.artifacts["file"]])}"' in page
