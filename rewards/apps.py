from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from jdreview.models import Project


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Reward models"

    def ready(self) -> None:
        import rewards.jobs  # noqa: F401  (registers the job kinds)
        from rewards.registry import FAMILY, check_artifact
        from workers.version_views import on_live_change
        from workers.versions import family_register

        # Every promotion path of the one registry (pages, jobs, admin) must load an aspect
        # model fully before it goes live.
        family_register(FAMILY, check=check_artifact, page=("rewards:models", False))
        # A person who changes a live aspect model changes what the gate's thresholds were
        # measured with: recalibrate.
        on_live_change(FAMILY, _recalibrate)


def _recalibrate(project: Project, user: User) -> None:
    from django.db import transaction

    from workers.services import job_create

    with transaction.atomic():
        job_create(kind="calibrate_gate", params={}, project=project, user=user)
