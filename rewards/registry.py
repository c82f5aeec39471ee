"""The reward models' side of the one model registry (``workers/versions.py``): what makes
an aspect model's artifact servable, when a retrained one goes live by itself, and the
which aspect models are live; promotion, rollback and the artifact writer are the
registry's own, for every family. Versions are rows of
``workers.ModelVersion`` with family ``aspect_reward`` and the aspect as their slot."""

from __future__ import annotations

from jdreview.models import Project
from workers.models import ModelVersion
from workers.versions import (
    VersionError,
    artifact_path,
    model_version_promote,
)
from workers.versions import live_versions as family_live_versions

FAMILY = "aspect_reward"  # registered in rewards/apps.py

# The candidate must be at least this good on held-out AUC to replace the live model
# without a person deciding ("not worse", with room for noise of a re-split-free retrain).
AUTO_PROMOTE_TOLERANCE = 0.005

# One error for every registry refusal; the reward code has long called it this.
PromotionError = VersionError


def check_artifact(version: ModelVersion) -> None:
    """Load the artifact fully; raise PromotionError if it cannot serve. Registered as the
    family's artifact check, so every promotion path runs it."""
    from rewards.ml.model import ArtifactError, load

    try:
        load(artifact_path(version))
    except (ArtifactError, OSError, ValueError, RuntimeError) as exc:
        raise PromotionError(f"{version}: artifact cannot be loaded ({exc})") from None


def live_versions(project: Project) -> dict[str, ModelVersion]:
    """aspect → its live reward model."""
    return family_live_versions(project, FAMILY)


def is_not_worse(candidate: ModelVersion, live: ModelVersion | None) -> bool:
    if live is None:
        return True
    cand, cur = candidate.metrics.get("auc"), live.metrics.get("auc")
    if cand is None or cur is None:
        return False
    return cand >= cur - AUTO_PROMOTE_TOLERANCE


def model_promote_if_not_worse(*, version: ModelVersion) -> bool:
    """Automatic promotion after training: only when the candidate is not worse than the
    live model on the held-out set. Otherwise it stays a candidate for a person to decide."""
    live = live_versions(version.project).get(version.slot)
    if not is_not_worse(version, live):
        return False
    note = (
        "auto: first model of this aspect"
        if live is None
        else f"auto: held-out AUC {version.metrics.get('auc', 0):.3f} ≥ "
        f"v{live.version} {live.metrics.get('auc', 0):.3f}"
    )
    model_version_promote(version=version, note=note)
    return True
