"""The one registry of trained models: writing a version, promoting it, rolling back, and
finding what is live, for every family (aspect reward models, image generators,
query-expansion language models, agent policies).

A trainer saves into a temporary folder handed out by :func:`artifact_dir`; the version
row is created only after the folder is complete (:func:`model_version_create` allocates
the number and renames the folder into a place unique to that version), so a killed job
never leaves a registered half-written model and no writer ever replaces another's files.
Promotion first runs the family's artifact check (a reward model must load fully), then
swaps the live version of its (family, slot) in one transaction.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from jdreview.activity import activity_record
from jdreview.models import Project
from workers.models import Job, ModelVersion

# Two jobs finishing at once race for the next number; the loser retries with the next one.
ALLOCATION_ATTEMPTS = 5

ArtifactCheck = Callable[[ModelVersion], None]
_ARTIFACT_CHECKS: dict[str, ArtifactCheck] = {}
_FAMILIES: set[str] = set()
_PAGES: dict[str, tuple[str, bool]] = {}


class VersionError(Exception):
    """The version cannot be registered or made live (missing or corrupt artifact, wrong
    project, nothing to roll back to)."""


def artifact_root() -> Path:
    return Path(settings.ARTIFACT_ROOT)


def artifact_path(version: ModelVersion) -> Path:
    return artifact_root() / version.artifact


def family_register(
    name: str, *, check: ArtifactCheck | None = None, page: tuple[str, bool] | None = None
) -> None:
    """The app that trains a family of models registers it (in its AppConfig.ready()), and
    may say what a servable artifact is (the rewards app: the model loads fully; the check
    raises :class:`VersionError`) and where its versions are shown: ``page`` is a URL name
    and whether it takes the version's id after the project's (links from a job's page)."""
    _FAMILIES.add(name)
    if check is not None:
        _ARTIFACT_CHECKS[name] = check
    if page is not None:
        _PAGES[name] = page


def family_page(name: str) -> tuple[str, bool] | None:
    """The page a family's versions are shown on, as registered (None: no page)."""
    return _PAGES.get(name)


def families() -> frozenset[str]:
    """The core's registered families and every loop's (a Loop declares its own)."""
    from jdreview.loops import all_loops

    return frozenset(_FAMILIES.union(*(loop.families for loop in all_loops())))


def artifact_check(version: ModelVersion) -> None:
    """Raise VersionError unless ``version``'s artifact can serve."""
    path = artifact_path(version)
    if not path.is_dir() or not any(path.iterdir()):
        raise VersionError(f"{version}: its artifact folder is missing")
    check = _ARTIFACT_CHECKS.get(version.family)
    if check is not None:
        check(version)


@contextmanager
def artifact_dir() -> Iterator[Path]:
    """A fresh temporary folder under the artifact root for a trainer to save into.

    Removed on exit unless :func:`model_version_create` has moved it into place."""
    tmp = artifact_root() / "tmp" / uuid.uuid4().hex
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _next_number(*, project: Project, family: str, slot: str) -> int:
    last = ModelVersion.objects.filter(project=project, family=family, slot=slot).aggregate(
        m=Max("version")
    )["m"]
    return (last or 0) + 1


def _user_or_none(user: User | AnonymousUser | None) -> User | None:
    return user if isinstance(user, User) and user.is_authenticated else None


def model_version_create(
    *,
    project: Project,
    family: str,
    name: str,
    saved_dir: Path,
    slot: str = "",
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    label_snapshot: dict[str, Any] | None = None,
    loss_curve: list[float] | None = None,
    parent: ModelVersion | None = None,
    job: Job | None = None,
    user: User | None = None,
    promote: bool = False,
) -> ModelVersion:
    """Register the model saved in ``saved_dir`` as the next version of (family, slot).

    The folder is renamed to ``project-<id>/<family>/[<slot>/]v<N>-<random>`` (same file
    system, one rename) before the row commits; if the row cannot be written the folder is
    moved back (to retry under the next number) or removed."""
    if family not in families():
        raise VersionError(f"unknown model family {family!r}")
    if not saved_dir.is_dir() or not any(saved_dir.iterdir()):
        raise VersionError(f"nothing was saved in {saved_dir}")
    if parent is not None and parent.project_id != project.pk:
        raise VersionError("the parent version belongs to another project")
    for _ in range(ALLOCATION_ATTEMPTS):
        final: Path | None = None
        try:
            with transaction.atomic():
                number = _next_number(project=project, family=family, slot=slot)
                # The random part keeps the folder unique even where a number was taken
                # by a row that then rolled back: nothing is ever written over.
                folder = Path(
                    f"project-{project.pk}", family, slot, f"v{number}-{uuid.uuid4().hex}"
                )
                version = ModelVersion.objects.create(
                    project=project,
                    family=family,
                    slot=slot,
                    version=number,
                    name=name[:100],
                    config=config or {},
                    metrics=metrics or {},
                    label_snapshot=label_snapshot or {},
                    loss_curve=loss_curve or [],
                    artifact=folder.as_posix(),
                    parent=parent,
                    job=job,
                    created_by=_user_or_none(user),
                )
                activity_record(
                    project=project,
                    action="model.create",
                    actor=user,
                    obj=version,
                    after={"status": version.status, "version": number},
                    detail={"family": family, "slot": slot, "name": version.name},
                    job_id=job.pk if job is not None else None,
                )
                final = artifact_root() / folder
                final.parent.mkdir(parents=True, exist_ok=True)
                # A rename is not rolled back with the transaction: the handlers below
                # undo it if the commit fails (the folder moved when saved_dir is gone).
                os.rename(saved_dir, final)
        except IntegrityError:
            # Another writer committed this number first (PostgreSQL makes the insert wait
            # for it, then fail): take the files back and try the next number.
            if final is not None and final.exists() and not saved_dir.exists():
                os.rename(final, saved_dir)
            continue
        except BaseException:
            if final is not None and final.exists() and not saved_dir.exists():
                shutil.rmtree(final, ignore_errors=True)
            raise
        if promote:
            version = model_version_promote(version=version, user=user)
        return version
    raise VersionError("could not allocate a version number; try again")


def model_version_promote(
    *, version: ModelVersion, user: User | AnonymousUser | None = None, note: str = ""
) -> ModelVersion:
    """Make ``version`` the live one of its (family, slot); the previous live one is
    retired. The artifact is checked first: a missing or corrupt one never goes live."""
    return _promote(version=version, user=user, note=note, action="model.promote")


def _promote(
    *, version: ModelVersion, user: User | AnonymousUser | None, note: str, action: str
) -> ModelVersion:
    artifact_check(version)
    with transaction.atomic():
        # Locking every row of the slot serialises promotions of it: the partial unique
        # constraint would otherwise fail the second of two concurrent swaps.
        rows = {
            v.pk: v
            for v in ModelVersion.objects.select_for_update()
            .filter(project_id=version.project_id, family=version.family, slot=version.slot)
            .order_by("pk")
        }
        target = rows[version.pk]
        if target.status == ModelVersion.Status.LIVE:
            return target
        retired = None
        for v in rows.values():
            if v.status == ModelVersion.Status.LIVE:
                v.status = ModelVersion.Status.RETIRED
                v.save(update_fields=["status"])
                retired = v
        target.status = ModelVersion.Status.LIVE
        target.promoted_at = timezone.now()
        target.promoted_by = _user_or_none(user)
        target.promotion_note = note[:300]
        target.save(update_fields=["status", "promoted_at", "promoted_by", "promotion_note"])
        activity_record(
            project=target.project_id,
            action=action,
            actor=user,
            obj=target,
            before={"live": retired.version if retired else None},
            after={"live": target.version},
            detail={
                "family": target.family,
                "slot": target.slot,
                "retired_id": retired.pk if retired else None,
                "note": target.promotion_note,
            },
        )
    return target


def model_version_reject(*, version: ModelVersion) -> ModelVersion:
    """Mark a version whose artifact failed its check when read back: it stays listed (its
    metrics are evidence) but can never be made live by the automatic path."""
    before = version.status
    with transaction.atomic():
        version.status = ModelVersion.Status.REJECTED
        version.save(update_fields=["status"])
        activity_record(
            project=version.project_id,
            action="model.reject",
            obj=version,
            before={"status": before},
            after={"status": version.status},
            detail={"family": version.family, "slot": version.slot, "version": version.version},
        )
    return version


def model_version_rollback(
    *, project: Project, family: str, slot: str = "", user: User | AnonymousUser | None = None
) -> ModelVersion:
    """Put the most recent earlier live version of (family, slot) back live."""
    live = live_version(project, family, slot)
    earlier = ModelVersion.objects.filter(
        project=project,
        family=family,
        slot=slot,
        status=ModelVersion.Status.RETIRED,
        promoted_at__isnull=False,
    )
    if live is not None:
        earlier = earlier.filter(version__lt=live.version)
    previous = earlier.order_by("-version").first()
    if previous is None:
        raise VersionError(f"no earlier {slot or family} version to roll back to")
    note = f"rollback from v{live.version}" if live else "rollback"
    return _promote(version=previous, user=user, note=note, action="model.rollback")


def live_version(project: Project, family: str, slot: str = "") -> ModelVersion | None:
    return ModelVersion.objects.filter(
        project=project, family=family, slot=slot, status=ModelVersion.Status.LIVE
    ).first()


def live_versions(project: Project, family: str) -> dict[str, ModelVersion]:
    """slot → live version, for a family with one live model per slot."""
    return {
        v.slot: v
        for v in ModelVersion.objects.filter(
            project=project, family=family, status=ModelVersion.Status.LIVE
        )
    }


def versions_of(project: Project, family: str, slot: str | None = None) -> list[ModelVersion]:
    """Newest first; every slot of the family unless ``slot`` is given."""
    qs = ModelVersion.objects.filter(project=project, family=family).select_related("promoted_by")
    if slot is not None:
        qs = qs.filter(slot=slot)
    return list(qs.order_by("slot", "-version"))
