"""The model registry: automatic promotion only when not worse, manual promotion, rollback,
and a corrupt artifact that never goes live. Artifacts are real (tiny, untrained) models."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from rewards import registry
from workers.models import ModelVersion
from workers.versions import VersionError, model_version_promote

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_enqueue")]


def make_version(project, aspect: str, number: int, auc: float) -> ModelVersion:  # type: ignore[no-untyped-def]
    from django.conf import settings

    from rewards.ml.aspects import default_registry
    from rewards.ml.model import AspectNet, save

    spec = default_registry().get(aspect)
    relative = f"{project.slug}/{aspect}/v{number}"
    save(AspectNet(spec.model_config()), Path(settings.ARTIFACT_ROOT) / relative)
    return ModelVersion.objects.create(
        project=project,
        family=registry.FAMILY,
        slot=aspect,
        version=number,
        name="train",
        artifact=relative,
        metrics={"auc": auc},
    )


def live(project, aspect="shape"):  # type: ignore[no-untyped-def]
    return registry.live_versions(project).get(aspect)


def test_first_model_goes_live_and_a_worse_one_does_not(project):
    v1 = make_version(project, "shape", 1, auc=0.90)
    assert registry.model_promote_if_not_worse(version=v1) is True
    v2 = make_version(project, "shape", 2, auc=0.80)
    assert registry.model_promote_if_not_worse(version=v2) is False
    assert live(project).pk == v1.pk
    v2.refresh_from_db()
    assert v2.status == ModelVersion.Status.CANDIDATE
    v3 = make_version(project, "shape", 3, auc=0.91)
    assert registry.model_promote_if_not_worse(version=v3) is True
    assert live(project).pk == v3.pk
    assert ModelVersion.objects.get(pk=v1.pk).status == ModelVersion.Status.RETIRED


def test_manual_promotion_and_one_click_rollback(project, manager):
    v1 = make_version(project, "shape", 1, auc=0.90)
    model_version_promote(version=v1)
    v2 = make_version(project, "shape", 2, auc=0.85)
    client = Client()
    client.force_login(manager)
    client.post(reverse("workers:version_promote", args=[project.pk, v2.pk]))
    assert live(project).pk == v2.pk
    assert live(project).promoted_by == manager
    client.post(reverse("workers:version_rollback", args=[project.pk, v2.pk]))
    assert live(project).pk == v1.pk


def test_corrupt_or_missing_artifact_never_goes_live(project, settings):
    v1 = make_version(project, "shape", 1, auc=0.90)
    model_version_promote(version=v1)
    v2 = make_version(project, "shape", 2, auc=0.99)
    weights = Path(settings.ARTIFACT_ROOT) / v2.artifact / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(VersionError, match="cannot be loaded"):
        registry.model_promote_if_not_worse(version=v2)
    v3 = make_version(project, "shape", 3, auc=0.99)
    (Path(settings.ARTIFACT_ROOT) / v3.artifact / "config.json").unlink()
    with pytest.raises(VersionError):
        model_version_promote(version=v3)
    assert live(project).pk == v1.pk


def test_only_one_live_version_per_aspect(project):
    for n in range(1, 4):
        model_version_promote(version=make_version(project, "color", n, auc=0.5 + n / 10))
    statuses = list(
        ModelVersion.objects.filter(project=project, slot="color")
        .order_by("version")
        .values_list("status", flat=True)
    )
    assert statuses == ["retired", "retired", "live"]


def test_annotator_cannot_promote_or_audit(project, annotator, ops):
    v1 = make_version(project, "shape", 1, auc=0.90)
    client = Client()
    client.force_login(annotator)
    response = client.post(reverse("workers:version_promote", args=[project.pk, v1.pk]))
    assert response.status_code == 403
    assert live(project) is None
    assert client.get(reverse("rewards:audit", args=[project.pk])).status_code == 403
    assert client.get(reverse("rewards:models", args=[project.pk])).status_code == 403
    client.force_login(ops)
    assert client.get(reverse("rewards:audit", args=[project.pk])).status_code == 200
