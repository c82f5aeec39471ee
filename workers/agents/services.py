"""Writes of this loop outside the ML runs: starting its jobs, and recording a scoring
run's per-agent results on the policy versions that made the traces."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from jdreview.models import Project
from workers import services as job_services
from workers.models import Job, PipelineVersion
from workers.params import clean_params

STARTABLE = (
    "agent_generate_traces",
    "agent_score",
    "agent_train_base",
    "agent_train_dpo",
    "agent_train_explicit",
)


def agent_job_start(*, project: Project, kind: str, params: dict[str, Any], user: User) -> Job:
    """Check the parameters (ParamError) and queue the job after commit."""
    if kind not in STARTABLE:
        raise ValueError(f"unknown job kind {kind!r}")
    clean = clean_params(kind, params)
    with transaction.atomic():
        return job_services.job_create(kind=kind, params=clean, project=project, user=user)


def version_scores_store(agents: dict[str, dict[str, Any]]) -> None:
    """Keep each policy version's latest review-queue scores with the version."""
    now = timezone.now().isoformat()
    for summary in agents.values():
        pk = summary.get("agent_version")
        if not pk:
            continue
        with transaction.atomic():
            version = PipelineVersion.objects.select_for_update().filter(pk=pk).first()
            if version is None:
                continue
            version.metrics = {**version.metrics, "review_scores": {**summary, "at": now}}
            version.save(update_fields=["metrics"])
