"""Training data selection and the retraining job: labels → per-aspect models → registry.

Reads the project's live annotations (queue labels, imports and ops audit verdicts alike),
combines overlapping labels per item and aspect (Dawid–Skene, anchored on gold answers),
trains each aspect's model on the project's fixed train split, measures it on the fixed
held-out split, saves it, registers it as a candidate and promotes it when it is not worse
than the live model. Then the gate is recalibrated and new images are scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction

from jdreview.models import Project
from labeling.models import AD_IMAGE, Annotation, Item
from labeling.schemas import AD_ASPECTS
from rewards.registry import FAMILY, PromotionError, check_artifact, model_promote_if_not_worse
from workers.models import ModelVersion
from workers.reporter import Reporter, json_safe
from workers.versions import artifact_dir, model_version_create, model_version_reject

LABEL_FIELDS = (*AD_ASPECTS, "usable")
MIN_LABELED_ITEMS = 20


class NotEnoughLabels(Exception):
    pass


@dataclass
class Snapshot:
    """Combined labels of one project at one moment."""

    item_ids: list[int]
    targets: dict[str, dict[Any, float]]  # field → item id → P(ok / usable)
    weights: dict[str, dict[Any, float]]
    info: dict[str, Any] = field(default_factory=dict)


def training_snapshot(project: Project, *, method: str = "dawid_skene") -> Snapshot:
    from rewards.ml.labels import Annotation as Label
    from rewards.ml.labels import combine_labels

    rows = list(
        Annotation.objects.filter(project=project, undone=False, item__kind=AD_IMAGE).values_list(
            "pk", "item_id", "user_id", "values", "source"
        )
    )
    labels = []
    for _, item_id, user_id, values, _ in rows:
        for f in LABEL_FIELDS:
            v = values.get(f)
            if v in ("ok", "yes"):
                labels.append(Label(item_id, user_id, f, 1))
            elif v in ("defect", "no"):
                labels.append(Label(item_id, user_id, f, 0))
    gold: dict[tuple[Hashable, str], int] = {}
    for item_id, answer in Item.objects.filter(project=project, is_gold=True).values_list(
        "pk", "gold_answer"
    ):
        for f in LABEL_FIELDS:
            if f in answer:
                gold[(item_id, f)] = 1 if answer[f] in ("ok", "yes") else 0
    combined = combine_labels(labels, method=method, gold=gold or None) if labels else {}
    targets = {f: dict(zip(t.items, t.p_ok.tolist())) for f, t in combined.items()}
    weights = {f: dict(zip(t.items, t.weight.tolist())) for f, t in combined.items()}
    item_ids = sorted({item for _, item, *_ in rows})
    return Snapshot(
        item_ids=item_ids,
        targets=targets,
        weights=weights,
        info={
            "annotations": len(rows),
            "max_annotation_id": max((r[0] for r in rows), default=0),
            "items": len(item_ids),
            "sources": dict(Counter(r[4] for r in rows)),
            "method": method,
        },
    )


def labels_since_last_training(project: Project) -> int:
    snapshots = ModelVersion.objects.filter(project=project, family=FAMILY).values_list(
        "label_snapshot", flat=True
    )
    last = max((s.get("max_annotation_id", 0) for s in snapshots), default=0)
    return Annotation.objects.filter(project=project, undone=False, pk__gt=last).count()


def _image_arrays(items: list[Item], size: int) -> np.ndarray:
    from rewards.ml.images import load_image_file

    return np.stack([load_image_file(item.image.path, size) for item in items])


def _aligned_arrays(
    items: list[Item], size: int, whole_sizes: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """(crops, aligned references, {side: whole ads}) for the items, each file decoded
    once; boxes found here are kept on the items."""
    from rewards.located import known_boxes, store_boxes
    from rewards.ml.align import training_inputs

    missing = [i.pk for i in items if i.product is None or not i.product.cutout]
    if missing:
        raise NotEnoughLabels(f"item {missing[0]} has no product reference cut-out")
    got = training_inputs(
        [item.image.path for item in items],
        [item.product.cutout.path for item in items],  # type: ignore[union-attr]
        size,
        whole_sizes=whole_sizes,
        boxes=known_boxes(items),  # scored images were located then: only crop them
    )
    store_boxes(items, got.boxes)
    return got.crops, got.refs, got.whole


def _reference_bank(items: list[Item], size: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    from rewards.ml.images import load_reference_file

    rows: dict[int | None, int] = {}
    bank: list[np.ndarray] = []
    index = []
    for item in items:
        key = item.product_id
        if key not in rows:
            if item.product is None or not item.product.cutout:
                raise NotEnoughLabels(f"item {item.pk} has no product reference cut-out")
            rows[key] = len(bank)
            bank.append(load_reference_file(item.product.cutout.path, size, kind))  # type: ignore[arg-type]
        index.append(rows[key])
    return np.stack(bank), np.asarray(index, dtype=np.int64)


def train_aspects(
    *,
    project: Project,
    aspects: list[str] | None = None,
    epochs: int | None = None,
    job: Any = None,
    reporter: Reporter | None = None,
    seed: int = 0,
) -> list[ModelVersion]:
    """Train (and register, and maybe promote) one new version per aspect."""
    import torch

    from rewards.ml.aspects import default_registry
    from rewards.ml.model import save
    from rewards.ml.train import TrainConfig, train_aspect

    registry = default_registry()
    names = aspects or [s.name for s in registry.models()]
    snapshot = training_snapshot(project)
    if len(snapshot.item_ids) < MIN_LABELED_ITEMS:
        raise NotEnoughLabels(
            f"only {len(snapshot.item_ids)} labeled items; at least {MIN_LABELED_ITEMS} needed"
        )
    items = list(
        Item.objects.filter(pk__in=snapshot.item_ids).select_related("product").order_by("pk")
    )
    # Decoded inputs per (input kind and size, the items they are for): aspects labeled on
    # the same items share them, and the aligned aspect's pass decodes the whole ads for
    # the others too, so each file is read once.
    arrays: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
    aligned_refs: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
    versions = []
    for n, aspect in enumerate(names):
        spec = registry.get(aspect)
        targets = snapshot.targets.get(aspect, {})
        usable_items = [i for i in items if i.pk in targets]
        if len(usable_items) < MIN_LABELED_ITEMS:
            raise NotEnoughLabels(f"{aspect}: only {len(usable_items)} labeled items")
        pks = tuple(i.pk for i in usable_items)
        key = (-spec.input_size if spec.aligned else spec.input_size, pks)
        if key not in arrays:
            if reporter:
                what = "aligning" if spec.aligned else "loading"
                reporter.log(f"{what} {len(usable_items)} images at {spec.input_size}px")
            if spec.aligned:
                others = [registry.get(a) for a in names]
                sides = {o.input_size for o in others if o.kind == "model" and not o.aligned}
                wanted = tuple(side for side in sorted(sides) if (side, pks) not in arrays)
                crops, aligned, whole = _aligned_arrays(usable_items, spec.input_size, wanted)
                arrays[key] = torch.from_numpy(crops)
                aligned_refs[key] = torch.from_numpy(aligned)
                for side, ads in whole.items():
                    arrays[(side, pks)] = torch.from_numpy(ads)
            else:
                arrays[key] = torch.from_numpy(_image_arrays(usable_items, spec.input_size))
        refs = None
        if spec.aligned:
            refs = (aligned_refs[key], torch.arange(len(usable_items)))
        elif spec.uses_reference:
            bank, index = _reference_bank(usable_items, spec.ref_input_size, spec.reference)
            refs = (torch.from_numpy(bank), torch.from_numpy(index))
        config = TrainConfig(epochs=epochs or spec.epochs or TrainConfig.epochs)

        def epoch_loss(fraction: float, loss: float, aspect: str = aspect) -> dict[str, Any]:
            return {f"{aspect}_loss": round(loss, 4)}

        def epoch_line(fraction: float, loss: float, aspect: str = aspect) -> str:
            return f"{aspect}: epoch loss {loss:.4f}"

        progress = None
        if reporter is not None:
            share = 0.9 / len(names)  # the bar's last tenth is the gate's calibration
            progress = reporter.stage(
                n * share, (n + 1) * share, metrics=epoch_loss, log=epoch_line
            )

        result = train_aspect(
            spec,
            arrays[key],
            refs,
            np.array([targets[i.pk] for i in usable_items], dtype=np.float32),
            np.array([snapshot.weights[aspect][i.pk] for i in usable_items], dtype=np.float32),
            config,
            keys=[i.pk for i in usable_items],
            split_salt=str(project.pk),
            progress=progress,
            seed=seed,
        )
        metrics = json_safe(
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.metrics.items()}
        )
        with artifact_dir() as saved:
            save(result.model, saved, metadata={"aspect": aspect, "metrics": metrics})
            version = model_version_create(
                project=project,
                family=FAMILY,
                slot=aspect,
                name="train",
                saved_dir=saved,
                config=spec.model_config().to_dict(),
                metrics=metrics,
                label_snapshot=snapshot.info,
                loss_curve=[round(x, 5) for x in result.loss_curve],
                job=job,
            )
        try:
            # Read back what was written before anything else trusts it.
            check_artifact(version)
            promoted = model_promote_if_not_worse(version=version)
        except PromotionError:
            model_version_reject(version=version)
            raise
        if reporter:
            auc = metrics.get("auc")
            reporter.log(
                f"{aspect} v{version.version}: held-out AUC "
                f"{'n/a (one class)' if auc is None else f'{auc:.3f}'}"
                f" → {'live' if promoted else 'candidate (worse than live)'}"
            )
        version.refresh_from_db()
        versions.append(version)
    return versions


def retrain_if_due(project: Project) -> bool:
    """Queue a retraining when enough new labels have arrived and none is queued or running."""
    from rewards.audits import gate_for
    from workers.models import Job
    from workers.services import job_create

    if labels_since_last_training(project) < gate_for(project).retrain_after_labels:
        return False
    with transaction.atomic():
        busy = (
            Job.objects.select_for_update()
            .filter(
                project=project,
                # The demo's seed job (jdreview.demo_jobs) is still adding labels and
                # trains the models itself when it is done: retraining now doubles it.
                kind__in=["train_rewards", "seed_demo"],
                status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
            )
            .exists()
        )
        if busy:
            return False
        job_create(kind="train_rewards", params={}, project=project)
    return True
