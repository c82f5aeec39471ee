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


def _curve(calibration: Any) -> list[dict[str, Any]]:
    return [
        {
            "threshold": p.threshold,
            "launched": p.n_launched,
            "share": p.share_launched,
            "usable_rate": p.usable_rate,
            "lower_bound": p.lower_bound,
            "passed": p.passed,
        }
        for p in calibration.curve
    ]


def gate_calibrate(project: Project) -> dict[str, Any]:
    """Calibrate launch/reject thresholds on the project's held-out labeled images, per
    population (the item's source), so that the usable rate among launched images of each
    population meets the target with the gate's confidence on that population's own labels.

    Stored keyed by population: ``gate.thresholds = {"populations": {source: thresholds}}``
    (only populations with enough labels of their own) and ``gate.calibration`` with a
    summary per population; its top-level ``curve`` is the largest calibrated population's,
    for the charts."""
    from rewards.ml.gate import calibrate_populations
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
    sources = [i.source for i in items]
    by_pop = calibrate_populations(
        scores, y, sources, target=gate.target, delta=1 - gate.confidence
    )
    summaries: dict[str, dict[str, Any]] = {}
    thresholds: dict[str, dict[str, Any]] = {}
    for name, pc in by_pop.items():
        ys = y[[s == name for s in sources]]
        summary: dict[str, Any] = {
            "n": pc.n,
            "needed": pc.needed,
            "usable_share": float(ys.mean()) if len(ys) else None,
            "calibrated": pc.calibration is not None,
            "launch": None,
            "reject": None,
            "proved": False,
            "curve": [],
        }
        if pc.calibration is not None:
            th = pc.calibration.thresholds
            thresholds[name] = th.to_dict()
            summary.update(
                launch=th.launch,
                reject=th.reject,
                proved=th.launch is not None,
                curve=_curve(pc.calibration),
            )
        summaries[name] = summary
    calibrated = [name for name in summaries if summaries[name]["calibrated"]]
    primary = max(calibrated, key=lambda name: summaries[name]["n"], default=None)
    gate.thresholds = {"populations": thresholds}
    gate.calibration = {
        "n": len(y),
        "usable_share": float(y.mean()) if len(y) else None,
        "primary": primary,
        "curve": summaries[primary]["curve"] if primary else [],
        "populations": summaries,
    }
    gate.model_versions = {a: v.pk for a, v in versions.items()}
    gate.calibrated_at = timezone.now()
    gate.save(update_fields=["thresholds", "calibration", "model_versions", "calibrated_at"])
    main = summaries[primary] if primary else {}
    return {
        "calibrated": any(s["proved"] for s in summaries.values()),
        "launch_threshold": main.get("launch"),
        "reject_threshold": main.get("reject"),
        "heldout": len(y),
        "populations": {
            name: {k: s[k] for k in ("n", "needed", "launch", "reject", "proved")}
            for name, s in summaries.items()
        },
    }


def gate_populations(project: Project, gate: Any) -> dict[str, Any]:
    """What the models page shows of the gate per population: each population that has ad
    images or held-out labels, with its calibration (n, thresholds, whether it proved the
    target) or why it is held. One query, whatever the number of items."""
    from django.db.models import Count

    counts = dict(
        Item.objects.filter(project=project, kind=AD_IMAGE)
        .values_list("source")
        .annotate(n=Count("pk"))
        .values_list("source", "n")
    )
    summaries = gate.calibration.get("populations") or {}
    legacy = bool(gate.calibrated_at) and "populations" not in (gate.thresholds or {})
    labels = dict(Item.Source.choices)
    rows = []
    for name in sorted(set(counts) | set(summaries)):
        s = summaries.get(name) or {}
        rows.append(
            {
                "name": name,
                "label": labels.get(name, name),
                "items": counts.get(name, 0),
                "n": s.get("n", 0),
                "needed": s.get("needed"),
                "calibrated": bool(s.get("calibrated")),
                "launch": s.get("launch"),
                "reject": s.get("reject"),
                "proved": bool(s.get("proved")),
            }
        )
    return {
        "rows": rows,
        "held": [r for r in rows if not r["calibrated"] and r["items"]],
        "legacy": legacy,
    }


def images_score(
    project: Project, *, rescore: bool = False, progress: Any = None, seed: int | None = None
) -> dict[str, int]:
    """Score and decide the project's images that no person has judged yet and that have
    no decision (or all of those, with ``rescore``).

    An image people have labeled (or a gold image, whose answer is known) is theirs to
    decide: the gate never launches an ad a reviewer called defective, and the ops audit
    sample holds only the gate's own decisions, so its estimates are about the gate.

    Each image is decided with its own population's thresholds; one whose population has
    no calibration of its own is held for review, never launched or rejected."""
    from rewards.ml.gate import GateThresholds, decide, decide_population, population_thresholds

    loaded = live_ensemble(project)
    if loaded is None:
        return {"scored": 0, "launch": 0, "review": 0, "reject": 0}
    ensemble, versions = loaded
    gate = gate_for(project)
    current = {a: v.pk for a, v in versions.items()}
    stale: GateThresholds | None = None
    by_population = population_thresholds(gate.thresholds)
    if gate.model_versions != current:
        # Not calibrated for these models: every image goes to a person.
        stale = GateThresholds(aspects=list(versions), launch=None, reject=None)
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
            d = (
                decide(per, stale)
                if stale is not None
                else decide_population(per, item.source, by_population)
            )
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


__all__ = ["Decision", "gate_calibrate", "gate_populations", "images_score", "live_ensemble"]
