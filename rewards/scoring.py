"""Scoring new images with the live ensemble, calibrating the gate, deciding launches."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from django.utils import timezone

from jdreview.models import Project
from labeling.models import AD_IMAGE, UNJUDGED, Item
from rewards.audits import decisions_record, gate_for
from rewards.located import known_boxes, store_boxes
from rewards.models import Decision
from rewards.registry import live_versions
from rewards.training import training_snapshot
from workers.models import ModelVersion
from workers.versions import artifact_path

SCORE_BATCH = 512


def live_ensemble(project: Project) -> tuple[Any, dict[str, ModelVersion]] | None:
    """The ensemble of live models, or None when some aspect has no live model (then
    nothing may launch: a gate calibrated on three aspects cannot judge on two)."""
    from rewards.ml.aspects import default_registry
    from rewards.ml.ensemble import Ensemble

    registry = default_registry()
    live = live_versions(project)
    wanted = [s.name for s in registry.models()]
    if any(a not in live for a in wanted):
        return None
    ensemble = Ensemble.load({a: artifact_path(live[a]) for a in wanted}, registry=registry)
    return ensemble, {a: live[a] for a in wanted}


def _needs_refs(ensemble: Any) -> bool:
    return any(ensemble.registry.get(a).uses_reference for a in ensemble.aspects)


def _has_ref(item: Item) -> bool:
    return bool(item.product and item.product.cutout)


def _score_items(ensemble: Any, items: list[Item]) -> dict[str, np.ndarray]:
    """Per-aspect scores; every item must have a reference cut-out if an aspect needs one
    (callers set the others aside: a person judges them). Where an aspect aligns the ad
    with its reference, the located boxes are reused and kept on the items."""
    needs_refs = _needs_refs(ensemble)
    refs = [i.product.cutout.path for i in items] if needs_refs else None  # type: ignore[union-attr]
    paths = [i.image.path for i in items]
    if not any(ensemble.registry.get(a).aligned for a in ensemble.aspects):
        return ensemble.score_files(paths, refs)
    scores = ensemble.score_files(paths, refs, boxes=known_boxes(items), return_boxes=True)
    store_boxes(items, scores.pop("_boxes"))
    return scores


def gate_calibrate(project: Project) -> dict[str, Any]:
    """Calibrate launch/reject thresholds on the project's held-out labeled images so that
    the usable rate among launched images meets the target with the gate's confidence."""
    from rewards.ml.gate import calibrate
    from rewards.ml.train import split_for

    gate = gate_for(project)
    loaded = live_ensemble(project)
    if loaded is None:
        gate.thresholds, gate.calibration, gate.model_versions = {}, {}, {}
        gate.save(update_fields=["thresholds", "calibration", "model_versions"])
        return {"calibrated": False, "reason": "no live model for every aspect"}
    ensemble, versions = loaded
    snapshot = training_snapshot(project)
    usable = snapshot.targets.get("usable", {})
    held = [
        i
        for i in snapshot.item_ids
        if i in usable and split_for(i, salt=str(project.pk)) == "heldout"
    ]
    items = list(Item.objects.filter(pk__in=held).select_related("product").order_by("pk"))
    if _needs_refs(ensemble):
        items = [i for i in items if _has_ref(i)]
    scores = _score_items(ensemble, items) if items else {a: np.zeros(0) for a in versions}
    y = np.array([usable[i.pk] >= 0.5 for i in items], dtype=int)
    calibration = calibrate(scores, y, target=gate.target, delta=1 - gate.confidence)
    th = calibration.thresholds
    gate.thresholds = th.to_dict()
    gate.calibration = {
        "n": calibration.n,
        "usable_share": float(y.mean()) if len(y) else None,
        "curve": [
            {
                "threshold": p.threshold,
                "launched": p.n_launched,
                "share": p.share_launched,
                "usable_rate": p.usable_rate,
                "lower_bound": p.lower_bound,
                "passed": p.passed,
            }
            for p in calibration.curve
        ],
    }
    gate.model_versions = {a: v.pk for a, v in versions.items()}
    gate.calibrated_at = timezone.now()
    gate.save(update_fields=["thresholds", "calibration", "model_versions", "calibrated_at"])
    return {
        "calibrated": th.launch is not None,
        "launch_threshold": th.launch,
        "reject_threshold": th.reject,
        "heldout": calibration.n,
    }


def images_score(
    project: Project, *, rescore: bool = False, progress: Any = None, seed: int | None = None
) -> dict[str, int]:
    """Score and decide the project's images that no person has judged yet and that have
    no decision (or all of those, with ``rescore``).

    An image people have labeled (or a gold image, whose answer is known) is theirs to
    decide: the gate never launches an ad a reviewer called defective, and the ops audit
    sample holds only the gate's own decisions, so its estimates are about the gate."""
    from rewards.ml.gate import GateThresholds, decide

    loaded = live_ensemble(project)
    if loaded is None:
        return {"scored": 0, "launch": 0, "review": 0, "reject": 0}
    ensemble, versions = loaded
    gate = gate_for(project)
    current = {a: v.pk for a, v in versions.items()}
    if gate.thresholds and gate.model_versions == current:
        thresholds = GateThresholds.from_dict(gate.thresholds)
    else:
        # Not calibrated for these models: every image goes to a person.
        thresholds = GateThresholds(aspects=list(versions), launch=None, reject=None)
    todo = Item.objects.filter(UNJUDGED, project=project, kind=AD_IMAGE).exclude(image="")
    if not rescore:
        todo = todo.filter(decision__isnull=True)
    ids = list(todo.order_by("pk").values_list("pk", flat=True))
    rng = random.Random(seed)
    counts = {"scored": 0, "launch": 0, "review": 0, "reject": 0}
    uncertainty_first = project.queue_order == Project.QueueOrder.UNCERTAINTY
    for start in range(0, len(ids), SCORE_BATCH):
        items = list(
            Item.objects.filter(pk__in=ids[start : start + SCORE_BATCH])
            .select_related("product")
            .order_by("pk")
        )
        rows = []
        if _needs_refs(ensemble):
            for item in [i for i in items if not _has_ref(i)]:
                rows.append(
                    {
                        "item_id": item.pk,
                        "scores": {},
                        "model_versions": current,
                        "outcome": Decision.Outcome.REVIEW,
                        "driver": "",
                        "reason": "no product reference cut-out: a person must judge it",
                    }
                )
                counts["review"] += 1
            items = [i for i in items if _has_ref(i)]
        scores = _score_items(ensemble, items) if items else {}
        for j, item in enumerate(items):
            per = {a: round(float(scores[a][j]), 5) for a in scores}
            d = decide(per, thresholds)
            rows.append(
                {
                    "item_id": item.pk,
                    "scores": per,
                    "model_versions": current,
                    "outcome": d.action,
                    "driver": d.aspect or "",
                    "reason": d.reason,
                }
            )
            counts[d.action] += 1
        decisions_record(project=project, rows=rows, rng=rng)
        if uncertainty_first and items:
            _prioritise_uncertain(items, scores)
        counts["scored"] += len(rows)
        if progress:
            progress(counts["scored"] / len(ids), f"{counts['scored']}/{len(ids)} scored")
    return counts


def _prioritise_uncertain(items: list[Item], scores: dict[str, np.ndarray]) -> None:
    """Active learning: the queue serves the lowest priority first, so an unlabeled item's
    priority becomes how sure the least sure aspect model is (|P(ok) − 0.5|, 0 = a coin
    toss). Images the gate held for review stay in front of the rest (shifted by −1), in
    the same uncertainty order among themselves."""
    stack = np.vstack([scores[a] for a in scores])
    certainty = dict(
        zip((i.pk for i in items), np.abs(stack - 0.5).min(axis=0).tolist(), strict=True)
    )
    todo = list(
        Item.objects.filter(pk__in=certainty, done_count=0, queued=True)
        .select_related("decision")
        .only("pk", "decision__outcome")
    )
    for item in todo:
        held = getattr(item, "decision", None) is not None and (
            item.decision.outcome == Decision.Outcome.REVIEW
        )
        item.priority = certainty[item.pk] - (1.0 if held else 0.0)
    Item.objects.bulk_update(todo, ["priority"], batch_size=500)


__all__ = ["Decision", "gate_calibrate", "images_score", "live_ensemble"]
