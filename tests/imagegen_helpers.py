"""Helpers shared by the image-generator tests (this module holds no tests)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from jdreview.models import Product, Project
from rewards.registry import FAMILY as REWARD_FAMILY
from workers.models import ModelVersion


def world_catalog() -> list[Product]:
    """The world's products with their cut-outs in the catalog."""
    from labeling.world_seed import world_products_sync

    return list(world_products_sync().values())


def saved_generator(project: Project, *, layers: int = 2, seed: int = 0) -> ModelVersion:
    """An untrained tiny generator registered (and judged) like a trained one: enough for
    the app's plumbing, in a second."""
    import torch

    from workers.imagegen.evaluation import live_reward, version_save
    from workers.imagegen.ml import AdImageGenerator, tiny_config

    torch.manual_seed(seed)
    model = AdImageGenerator(tiny_config(num_layers=layers, sample_steps=4))
    loaded = live_reward(project)
    return version_save(
        model,
        project=project,
        name="tiny",
        metrics={"kind": "train"},
        reward=loaded[0] if loaded else None,
        promote=True,
    )


def live_reward_models(project: Project) -> dict[str, ModelVersion]:
    """Untrained but loadable live models for every aspect (a real ensemble to score with)."""
    import torch

    from rewards.ml.aspects import default_registry
    from rewards.ml.model import AspectNet, save

    torch.manual_seed(0)
    live = {}
    for spec in default_registry().models():
        relative = f"{project.slug}/{spec.name}/v1"
        save(AspectNet(spec.model_config()).eval(), Path(settings.ARTIFACT_ROOT) / relative)
        live[spec.name] = ModelVersion.objects.create(
            project=project,
            family=REWARD_FAMILY,
            slot=spec.name,
            version=1,
            name="train",
            status=ModelVersion.Status.LIVE,
            artifact=relative,
            metrics={"auc": 0.5},
        )
    return live


def gate_thresholds(
    project: Project, *, launch: float | None, populations: tuple[str, ...] = ("generated",)
) -> None:
    """Calibrate the gate by hand for the live models (launch above ``launch``) on the
    given populations (item sources); images of any other population are held."""
    from rewards.audits import gate_for
    from rewards.ml.gate import GateThresholds
    from rewards.registry import live_versions

    live = live_versions(project)
    gate = gate_for(project)
    th = GateThresholds(aspects=sorted(live), launch=launch, reject=None).to_dict()
    gate.thresholds = {"populations": {p: th for p in populations}}
    gate.model_versions = {a: v.pk for a, v in live.items()}
    gate.save(update_fields=["thresholds", "model_versions"])
