"""The model registry: promote a version (automatically when not worse, or by hand), roll
back, and find what is live. Promotion swaps the live version in one transaction, and only
after the candidate's artifact has been loaded and checked: a missing or corrupt artifact
never goes live."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from jdreview.models import Project
from rewards.models import ModelVersion

# The candidate must be at least this good on held-out AUC to replace the live model
# without a person deciding ("not worse", with room for noise of a re-split-free retrain).
AUTO_PROMOTE_TOLERANCE = 0.005


class PromotionError(Exception):
    """The version cannot go live (its artifact is missing or corrupt, or it is retired)."""


def artifact_path(version: ModelVersion) -> Path:
    return Path(settings.ARTIFACT_ROOT) / version.artifact


def check_artifact(version: ModelVersion) -> None:
    """Load the artifact fully; raise PromotionError if it cannot serve."""
    from rewards.ml.model import ArtifactError, load

    try:
        load(artifact_path(version))
    except (ArtifactError, OSError, ValueError, RuntimeError) as exc:
        raise PromotionError(f"{version}: artifact cannot be loaded ({exc})") from None


def live_versions(project: Project) -> dict[str, ModelVersion]:
    return {
        v.aspect: v
        for v in ModelVersion.objects.filter(project=project, status=ModelVersion.Status.LIVE)
    }


def is_not_worse(candidate: ModelVersion, live: ModelVersion | None) -> bool:
    if live is None:
        return True
    cand, cur = candidate.metrics.get("auc"), live.metrics.get("auc")
    if cand is None or cur is None:
        return False
    return cand >= cur - AUTO_PROMOTE_TOLERANCE


def model_promote(
    *, version: ModelVersion, user: User | None = None, note: str = ""
) -> ModelVersion:
    """Make ``version`` the live model of its aspect; the previous live one is retired."""
    check_artifact(version)
    with transaction.atomic():
        locked = (
            ModelVersion.objects.select_for_update()
            .filter(project=version.project, aspect=version.aspect)
            .order_by("pk")
        )
        rows = {v.pk: v for v in locked}
        target = rows[version.pk]
        if target.status == ModelVersion.Status.LIVE:
            return target
        for v in rows.values():
            if v.status == ModelVersion.Status.LIVE:
                v.status = ModelVersion.Status.RETIRED
                v.save(update_fields=["status"])
        target.status = ModelVersion.Status.LIVE
        target.promoted_by = user if user is not None and user.is_authenticated else None
        target.promotion_note = note[:300]
        target.promoted_at = timezone.now()
        target.save(update_fields=["status", "promoted_by", "promotion_note", "promoted_at"])
    return target


def model_promote_if_not_worse(*, version: ModelVersion) -> bool:
    """Automatic promotion after training: only when the candidate is not worse than the
    live model on the held-out set. Otherwise it stays a candidate for a person to decide."""
    live = live_versions(version.project).get(version.aspect)
    if not is_not_worse(version, live):
        return False
    note = (
        "auto: first model of this aspect"
        if live is None
        else f"auto: held-out AUC {version.metrics.get('auc', 0):.3f} ≥ "
        f"v{live.version} {live.metrics.get('auc', 0):.3f}"
    )
    model_promote(version=version, note=note)
    return True


def model_rollback(*, project: Project, aspect: str, user: User | None = None) -> ModelVersion:
    """Put the most recent earlier version of the aspect back live."""
    live = live_versions(project).get(aspect)
    earlier = ModelVersion.objects.filter(
        project=project,
        aspect=aspect,
        status=ModelVersion.Status.RETIRED,
        promoted_at__isnull=False,
    )
    if live is not None:
        earlier = earlier.filter(version__lt=live.version)
    previous = earlier.order_by("-version").first()
    if previous is None:
        raise PromotionError(f"no earlier {aspect} version to roll back to")
    return model_promote(
        version=previous, user=user, note=f"rollback from v{live.version}" if live else "rollback"
    )
