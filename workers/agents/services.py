"""Writes of this loop outside the ML runs: recording a scoring run's per-agent results on
the policy versions that made the traces. (Its jobs start through
workers.services.job_start, like every job.)"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from workers.models import ModelVersion


def version_scores_store(agents: dict[str, dict[str, Any]]) -> None:
    """Keep each policy version's latest review-queue scores with the version."""
    now = timezone.now().isoformat()
    for summary in agents.values():
        pk = summary.get("agent_version")
        if not pk:
            continue
        with transaction.atomic():
            version = ModelVersion.objects.select_for_update().filter(pk=pk).first()
            if version is None:
                continue
            version.metrics = {**version.metrics, "review_scores": {**summary, "at": now}}
            version.save(update_fields=["metrics"])
