"""The registry of pipeline models (generators, query-expansion LMs, agent policies).

A pipeline saves into a temporary folder handed out by :func:`artifact_dir`; the version
row is created only after the folder is complete (:func:`pipeline_version_create` renames
it into place), so a killed job never leaves a registered half-written model. Promotion
swaps the live version of a family in one transaction.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from jdreview.models import Project
from workers.models import Job, PipelineVersion


class VersionError(Exception):
    """The version cannot be registered or made live (missing artifact, wrong project)."""


def artifact_root() -> Path:
    return Path(settings.ARTIFACT_ROOT)


def artifact_path(version: PipelineVersion) -> Path:
    return artifact_root() / version.artifact


@contextmanager
def artifact_dir() -> Iterator[Path]:
    """A fresh temporary folder under the artifact root for a pipeline to save into.

    Removed on exit unless :func:`pipeline_version_create` has moved it into place."""
    tmp = artifact_root() / "tmp" / uuid.uuid4().hex
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pipeline_version_create(
    *,
    project: Project,
    family: str,
    name: str,
    saved_dir: Path,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    parent: PipelineVersion | None = None,
    job: Job | None = None,
    user: User | None = None,
    promote: bool = False,
) -> PipelineVersion:
    """Register the model saved in ``saved_dir`` as the next version of ``family``.

    The folder is moved under ``<project>/<family>/v<N>`` (same file system, one rename)
    before the row commits; if the row cannot be written the folder is removed again."""
    if family not in PipelineVersion.Family.values:
        raise VersionError(f"unknown model family {family!r}")
    if not saved_dir.is_dir() or not any(saved_dir.iterdir()):
        raise VersionError(f"nothing was saved in {saved_dir}")
    if parent is not None and parent.project_id != project.pk:
        raise VersionError("the parent version belongs to another project")
    final: Path | None = None
    for _ in range(5):  # two jobs finishing at once race for the next number
        try:
            with transaction.atomic():
                last = PipelineVersion.objects.filter(project=project, family=family).aggregate(
                    m=Max("version")
                )["m"]
                number = (last or 0) + 1
                relative = f"project-{project.pk}/{family}/v{number}-{uuid.uuid4().hex[:8]}"
                final = artifact_root() / relative
                final.parent.mkdir(parents=True, exist_ok=True)
                version = PipelineVersion.objects.create(
                    project=project,
                    family=family,
                    version=number,
                    name=name[:100],
                    config=config or {},
                    metrics=metrics or {},
                    artifact=relative,
                    parent=parent,
                    job=job,
                    created_by=user if user is not None and user.is_authenticated else None,
                )
                # A rename is not rolled back with the transaction: the handler below
                # removes the folder again if the commit fails.
                os.replace(saved_dir, final)
        except IntegrityError:
            continue
        except BaseException:
            if final is not None and final.exists() and not saved_dir.exists():
                shutil.rmtree(final, ignore_errors=True)
            raise
        if promote:
            version = pipeline_version_promote(version=version, user=user)
        return version
    raise VersionError("could not allocate a version number; try again")


def pipeline_version_promote(
    *, version: PipelineVersion, user: User | None = None
) -> PipelineVersion:
    """Make ``version`` the live one of its family; the previous live one is retired."""
    if not artifact_path(version).is_dir():
        raise VersionError(f"{version}: its artifact folder is missing")
    with transaction.atomic():
        rows = {
            v.pk: v
            for v in PipelineVersion.objects.select_for_update()
            .filter(project_id=version.project_id, family=version.family)
            .order_by("pk")
        }
        target = rows[version.pk]
        if target.status == PipelineVersion.Status.LIVE:
            return target
        for v in rows.values():
            if v.status == PipelineVersion.Status.LIVE:
                v.status = PipelineVersion.Status.RETIRED
                v.save(update_fields=["status"])
        target.status = PipelineVersion.Status.LIVE
        target.promoted_at = timezone.now()
        target.save(update_fields=["status", "promoted_at"])
    return target


def live_version(project: Project, family: str) -> PipelineVersion | None:
    return PipelineVersion.objects.filter(
        project=project, family=family, status=PipelineVersion.Status.LIVE
    ).first()


def versions_of(project: Project, family: str) -> list[PipelineVersion]:
    return list(PipelineVersion.objects.filter(project=project, family=family).order_by("-version"))
