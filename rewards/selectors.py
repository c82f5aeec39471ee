"""Reads for the reward-model pages and the dashboard: decision rates, audit-based usable
rate and recall with confidence intervals, model versions and their metrics over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from django.db.models import Count
from django.db.models.functions import TruncDate
from scipy.stats import beta

from jdreview.models import Project
from labeling.schemas import AD_ASPECTS
from rewards.models import Audit, Decision
from rewards.registry import FAMILY
from workers.models import ModelVersion
from workers.versions import versions_of

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def known(self) -> bool:
        return self.value is not None


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> Estimate:
    if n == 0:
        return Estimate(None, None, None, 0)
    a = 1 - confidence
    low = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return Estimate(k / n, low, high, n)


def recall_estimate(
    n_launched: int,
    n_other: int,
    k_l: int,
    n_l: int,
    k_o: int,
    n_o: int,
    confidence: float = CONFIDENCE,
    draws: int = 4000,
) -> Estimate:
    """Share of usable images that were launched, from the audited samples.

    Usable counts are scaled up from each stratum's sample (launched / not launched, each
    sampled at its own rate); the interval comes from Beta posteriors of the two usable
    rates (Jeffreys prior), drawn jointly.
    """
    if n_l == 0 or (n_other > 0 and n_o == 0):
        return Estimate(None, None, None, n_l + n_o)
    rng = np.random.default_rng(0)
    p_l = rng.beta(k_l + 0.5, n_l - k_l + 0.5, draws)
    p_o = rng.beta(k_o + 0.5, n_o - k_o + 0.5, draws) if n_o else np.zeros(draws)
    usable_l, usable_o = n_launched * p_l, n_other * p_o
    recalls = usable_l / np.maximum(usable_l + usable_o, 1e-9)
    point_l = n_launched * k_l / n_l
    point_o = n_other * k_o / n_o if n_o else 0.0
    point = point_l / (point_l + point_o) if point_l + point_o > 0 else None
    a = (1 - confidence) / 2
    return Estimate(
        point, float(np.quantile(recalls, a)), float(np.quantile(recalls, 1 - a)), n_l + n_o
    )


@dataclass(frozen=True)
class GateMetrics:
    decided: int
    rates: dict[str, float]
    counts: dict[str, int]
    usable_launched: Estimate
    recall: Estimate
    audits_pending: int
    overrides: int


def gate_metrics(project: Project, *, day: date | None = None) -> GateMetrics:
    decisions = Decision.objects.filter(project=project)
    audits = Audit.objects.filter(project=project)
    if day is not None:
        decisions = decisions.filter(decided_at__date=day)
        audits = audits.filter(item__decision__decided_at__date=day)
    counts = {o: 0 for o in Decision.Outcome.values}
    for row in decisions.values("outcome").annotate(n=Count("id")):
        counts[row["outcome"]] = row["n"]
    decided = sum(counts.values())
    rates = {o: (n / decided if decided else 0.0) for o, n in counts.items()}
    done = audits.exclude(status=Audit.Status.PENDING)
    launched = done.filter(outcome=Decision.Outcome.LAUNCH)
    other = done.exclude(outcome=Decision.Outcome.LAUNCH)
    n_l, k_l = launched.count(), launched.filter(usable=True).count()
    n_o, k_o = other.count(), other.filter(usable=True).count()
    n_launched = counts[Decision.Outcome.LAUNCH]
    return GateMetrics(
        decided=decided,
        rates=rates,
        counts=counts,
        usable_launched=clopper_pearson(k_l, n_l),
        recall=recall_estimate(n_launched, decided - n_launched, k_l, n_l, k_o, n_o),
        audits_pending=audits.filter(status=Audit.Status.PENDING).count(),
        overrides=done.filter(status=Audit.Status.OVERRIDDEN).count(),
    )


def gate_metrics_by_day(project: Project, limit: int = 30) -> list[tuple[date, GateMetrics]]:
    days = (
        Decision.objects.filter(project=project)
        .annotate(day=TruncDate("decided_at"))
        .values_list("day", flat=True)
        .distinct()
        .order_by("-day")[:limit]
    )
    return [(d, gate_metrics(project, day=d)) for d in sorted(days)]


def versions_by_aspect(project: Project) -> dict[str, list[ModelVersion]]:
    out: dict[str, list[ModelVersion]] = {}
    for v in versions_of(project, FAMILY):
        out.setdefault(v.slot, []).append(v)
    order = {a: i for i, a in enumerate(AD_ASPECTS)}
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))
