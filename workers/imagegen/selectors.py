"""Reads for the generator pages, the product pages and the dashboard panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from jdreview.models import Product, Project
from labeling.models import Item
from workers.imagegen.apps import FAMILY
from workers.models import ModelVersion


def generator_versions(project: Project) -> list[ModelVersion]:
    return list(
        ModelVersion.objects.filter(project=project, family=FAMILY)
        .select_related("parent", "job", "created_by")
        .order_by("-version")
    )


def generator_version(project: Project, version_id: int | str) -> ModelVersion:
    """A generator version of this project, else 404 (ids of other projects included)."""
    try:
        pk = int(version_id)
    except (TypeError, ValueError):
        raise Http404("no such generator version") from None
    version = (
        ModelVersion.objects.filter(project=project, family=FAMILY, pk=pk)
        .select_related("parent", "job")
        .first()
    )
    if version is None:
        raise Http404("no such generator version")
    return version


@dataclass
class PruningView:
    """A pruning version's analysis, rerun for the ε asked for (pure numpy, no training)."""

    eps: float
    stored_eps: float
    influence: list[float]
    smoothed: list[float]
    critical: list[int]
    keep: list[int]
    remove: list[int]
    applied_remove: list[int]
    spectrum: list[float]
    rerun: bool


def pruning_view(version: ModelVersion, eps: float | None) -> PruningView | None:
    from workers.imagegen.ml.curve import analyze

    stored = version.metrics.get("pruning")
    if not stored or not stored.get("influence"):
        return None
    applied = [int(i) for i in stored.get("remove", [])]
    if eps is None:
        eps = float(stored["eps"])
    plan = analyze(stored["influence"], eps=eps, keep_freqs=stored.get("keep_freqs"))
    return PruningView(
        eps=eps,
        stored_eps=float(stored["eps"]),
        influence=plan.influence,
        smoothed=plan.smoothed,
        critical=plan.critical,
        keep=plan.keep,
        remove=plan.remove,
        applied_remove=applied,
        spectrum=plan.spectrum,
        rerun=abs(eps - float(stored["eps"])) > 1e-12,
    )


def catalog_with_counts(project: Project) -> QuerySet[Product]:
    """Products a generator can place (with a cut-out), with this project's generated ads."""
    generated = Q(items__project=project, items__source=Item.Source.GENERATED)
    return (
        Product.objects.exclude(cutout="")
        .annotate(
            generated=Count("items", filter=generated),
            launched=Count("items", filter=generated & Q(items__decision__outcome="launch")),
        )
        .order_by("sku")
    )


def product_for(product_id: int | str) -> Product:
    try:
        pk = int(product_id)
    except (TypeError, ValueError):
        raise Http404("no such product") from None
    product = Product.objects.filter(pk=pk).first()
    if product is None:
        raise Http404("no such product")
    return product


def product_ads(project: Project, product: Product, limit: int = 60) -> list[Item]:
    """This project's generated ads of the product, newest first, with their gate outcome."""
    return list(
        Item.objects.filter(project=project, product=product, source=Item.Source.GENERATED)
        .select_related("decision")
        .order_by("-pk")[:limit]
    )


def product_ad_counts(project: Project, product: Product) -> dict[str, int]:
    rows = (
        Item.objects.filter(project=project, product=product, source=Item.Source.GENERATED)
        .values("decision__outcome")
        .annotate(n=Count("pk"))
    )
    counts = {"launch": 0, "review": 0, "reject": 0, "unscored": 0}
    for row in rows:
        counts[row["decision__outcome"] or "unscored"] += row["n"]
    counts["total"] = sum(counts.values())
    return counts


def panel_rows(project: Project) -> list[dict[str, Any]]:
    """Per generator version: oracle usable rate and reward on the held-out set, the RL
    run's numbers and flag, pruning depth and throughput."""
    rows = []
    for v in generator_versions(project):
        m = v.metrics
        rl = m.get("rl") or {}
        pr = m.get("pruning") or {}
        rows.append(
            {
                "version": v,
                "blocks": v.config.get("num_layers"),
                "usable": m.get("heldout_usable"),
                "reward": m.get("heldout_reward"),
                "rl": rl or None,
                "flagged": bool(m.get("reward_hacking")),
                "throughput_ratio": pr.get("throughput_ratio"),
                "quality_ratio": pr.get("quality_ratio"),
            }
        )
    return rows
