"""Loading and saving generator versions, and judging each one on the fixed held-out set.

Every saved version is judged the same way before it is registered: its ads for the
held-out (product, seed) pairs are generated once, judged by the world's oracle (ground
truth, not the reward) and, when the project has a live reward ensemble, scored by it. The
ads are kept as files next to the weights (``samples/``), so the comparison page shows two
versions side by side without generating anything in the request.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User

from jdreview.models import Project
from rewards.ml.aspects import AD_ASPECTS
from workers.imagegen.apps import FAMILY
from workers.imagegen.data import heldout_set
from workers.models import Job, ModelVersion
from workers.versions import (
    VersionError,
    artifact_dir,
    artifact_path,
    live_version,
    model_version_create,
)

if TYPE_CHECKING:
    from workers.imagegen.ml.ensemble_reward import EnsembleReward
    from workers.imagegen.ml.model import AdImageGenerator

SAMPLES = "samples"
ASPECTS = AD_ASPECTS


def generator_for(project: Project, version_id: int | None) -> ModelVersion:
    """The named generator version of this project, or the live one (else the newest)."""
    qs = ModelVersion.objects.filter(project=project, family=FAMILY)
    if version_id is not None:
        version = qs.filter(pk=version_id).first()
        if version is None:
            raise VersionError(f"this project has no generator version with id {version_id}")
        return version
    version = live_version(project, FAMILY) or qs.order_by("-version").first()
    if version is None:
        raise VersionError("this project has no generator yet: train one first")
    return version


def model_load(version: ModelVersion) -> AdImageGenerator:
    from workers.imagegen.ml.model import AdImageGenerator
    from workers.ml.runtime import device

    try:
        return AdImageGenerator.from_pretrained(artifact_path(version), device=device())
    except (OSError, ValueError) as exc:
        raise VersionError(f"generator v{version.version} cannot be loaded: {exc}") from exc


def live_reward(project: Project) -> tuple[EnsembleReward, dict[str, int]] | None:
    """The live reward ensemble as a differentiable reward, with its model versions; None
    when some aspect has no live model (the gate cannot launch then either)."""
    from rewards.ml.aspects import default_registry
    from rewards.registry import live_versions
    from workers.imagegen.ml.ensemble_reward import EnsembleReward
    from workers.ml.runtime import device

    live = live_versions(project)
    wanted = [s.name for s in default_registry().models()]
    if any(a not in live for a in wanted):
        return None
    folders = {a: artifact_path(live[a]) for a in wanted}
    return EnsembleReward.load(folders, device=device()), {a: live[a].pk for a in wanted}


def evaluate_heldout(
    model: AdImageGenerator, reward: EnsembleReward | None
) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]]]:
    """(metrics, generated ads, one record per ad) on the fixed held-out set."""
    import numpy as np
    import torch

    from workers.imagegen.ml.rl import reward_of, to_tensor
    from workers.imagegen.ml.sampling import generate_ads
    from workers.imagegen.ml.world_data import oracle_verdicts

    held = heldout_set()
    ads: list[Any] = []
    rewards: list[float] = []
    for s in range(0, len(held.titles), 12):
        sl = slice(s, s + 12)
        batch = generate_ads(model, held.titles[sl], held.cutouts[sl], held.seeds[sl])
        ads += batch
        if reward is not None:
            with torch.no_grad():
                images = to_tensor([a.image for a in batch])
                rewards += reward_of(reward, images, held.cutouts[sl]).cpu().tolist()
    verdicts = oracle_verdicts(ads, held.cutouts)
    records = []
    for i, verdict in enumerate(verdicts):
        records.append(
            {
                "sku": held.products[i].sku,
                "title": held.titles[i],
                "seed": held.seeds[i],
                "usable": verdict["usable"] == "yes",
                "defects": [a for a in ASPECTS if verdict[a] == "defect"],
                "reward": round(rewards[i], 4) if rewards else None,
            }
        )
    metrics: dict[str, Any] = {
        "heldout_n": len(ads),
        "heldout_usable": float(np.mean([r["usable"] for r in records])),
        "heldout_defects": {a: sum(a in r["defects"] for r in records) for a in ASPECTS},
        "heldout_reward": float(np.mean(rewards)) if rewards else None,
    }
    return metrics, ads, records


def _write_samples(folder: Path, ads: list[Any], records: list[dict[str, Any]]) -> None:
    out = folder / SAMPLES
    out.mkdir()
    for i, ad in enumerate(ads):
        ad.image.save(out / f"{i}.png", format="PNG", compress_level=1)
    (out / "index.json").write_text(json.dumps(records, indent=1))


def samples_of(version: ModelVersion) -> list[dict[str, Any]]:
    """The held-out ads saved with a version (index, title, seed, oracle verdict, reward)."""
    path = artifact_path(version) / SAMPLES / "index.json"
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [{**r, "index": i} for i, r in enumerate(records)]


def sample_file(version: ModelVersion, index: int) -> Path | None:
    path = artifact_path(version) / SAMPLES / f"{int(index)}.png"
    return path if path.is_file() else None


def count_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def version_save(
    model: AdImageGenerator,
    *,
    project: Project,
    name: str,
    metrics: dict[str, Any],
    reward: EnsembleReward | None,
    parent: ModelVersion | None = None,
    job: Job | None = None,
    user: User | None = None,
    promote: bool = False,
) -> ModelVersion:
    """Judge the model on the held-out set, then register it with its samples."""
    from workers.reporter import json_safe

    evaluation, ads, records = evaluate_heldout(model, reward)
    config = {
        **asdict(model.cfg),
        "num_layers": model.num_blocks,
        "parameters": count_parameters(model),
    }
    with artifact_dir() as tmp:
        model.save_pretrained(tmp)
        _write_samples(tmp, ads, records)
        return model_version_create(
            project=project,
            family=FAMILY,
            name=name,
            saved_dir=tmp,
            config=json_safe(config),
            metrics=json_safe({**metrics, **evaluation}),
            parent=parent,
            job=job,
            user=user,
            promote=promote,
        )
