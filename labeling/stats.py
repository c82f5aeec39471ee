"""Agreement and annotator statistics (reads only)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import krippendorff
import numpy as np

from jdreview.models import Project
from labeling.kinds import spec_for
from labeling.models import Annotation

# A single lead time above this is a break, not work; it is capped when summing hours.
MAX_LEAD_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class AspectAgreement:
    field: str
    alpha: float | None  # None when there are too few overlapping items
    items: int


@dataclass(frozen=True)
class AnnotatorStats:
    username: str
    annotations: int
    items_per_hour: float | None
    gold_checked: int
    gold_accuracy: float | None
    majority_agreement: float | None


Labels = list[tuple[str, dict[str, dict[str, str]]]]


def _labels_by_item(project: Project) -> dict[int, Labels]:
    """item -> [(username, {group: {unit: category}})], the values split into the
    agreement units of the item's kind."""
    by_item: dict[int, Labels] = defaultdict(list)
    rows = Annotation.objects.filter(project=project, undone=False).values_list(
        "item_id", "item__kind", "user__username", "values"
    )
    for item_id, kind, username, values in rows.iterator(chunk_size=5000):
        by_item[item_id].append((username, spec_for(kind).units(values or {})))
    return by_item


def _groups(by_item: dict[int, Labels]) -> list[str]:
    """The groups present, in the order their kind declares them."""
    seen: dict[str, None] = {}
    for labels in by_item.values():
        for _, units in labels:
            for group in units:
                seen.setdefault(group, None)
    return list(seen)


def krippendorff_alpha(units: list[list[str | None]]) -> float | None:
    """Nominal alpha over units (items) × coders; None where it is undefined."""
    values = sorted({v for unit in units for v in unit if v is not None})
    if len(units) < 2 or not values:
        return None
    index = {v: i for i, v in enumerate(values)}
    width = max(len(u) for u in units)
    matrix = np.full((width, len(units)), np.nan)
    for j, unit in enumerate(units):
        for i, v in enumerate(unit):
            if v is not None:
                matrix[i, j] = index[v]
    if len(values) == 1:
        return 1.0  # everyone always agreed on the one value used
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def agreement(project: Project) -> list[AspectAgreement]:
    by_item = _labels_by_item(project)
    overlapped = [labels for labels in by_item.values() if len(labels) >= 2]
    result = []
    for group in _groups(by_item):
        # One unit per (item, unit key) that at least two people labeled.
        units: list[list[str | None]] = []
        n_items = 0
        for labels in overlapped:
            keys: dict[str, None] = {}
            for _, values in labels:
                keys.update(dict.fromkeys(values.get(group, {})))
            item_units = [[values.get(group, {}).get(k) for _, values in labels] for k in keys]
            item_units = [u for u in item_units if sum(v is not None for v in u) >= 2]
            units.extend(item_units)
            n_items += bool(item_units)
        result.append(AspectAgreement(group, krippendorff_alpha(units), n_items))
    return result


def annotator_stats(project: Project) -> list[AnnotatorStats]:
    by_item = _labels_by_item(project)
    agree: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    for labels in by_item.values():
        if len(labels) < 3:
            continue  # with two labels there is no majority of the others
        for username, values in labels:
            others = [v for u, v in labels if u != username]
            for group, mine in values.items():
                for key, value in mine.items():
                    top = Counter(
                        o[group][key] for o in others if key in o.get(group, {})
                    ).most_common(2)
                    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
                        continue  # no majority of the others to agree with
                    compared[username] += 1
                    agree[username] += value == top[0][0]
    rows = Annotation.objects.filter(project=project, undone=False).values_list(
        "user__username", "lead_time_ms", "is_gold", "gold_correct"
    )
    count: Counter[str] = Counter()
    lead_ms: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    gold_ok: Counter[str] = Counter()
    for username, lead, is_gold, correct in rows.iterator(chunk_size=5000):
        count[username] += 1
        lead_ms[username] += min(lead or 0, MAX_LEAD_MS)
        if is_gold and correct is not None:
            gold[username] += 1
            gold_ok[username] += bool(correct)
    stats = []
    for username in sorted(count):
        hours = lead_ms[username] / 3_600_000
        stats.append(
            AnnotatorStats(
                username=username,
                annotations=count[username],
                items_per_hour=round(count[username] / hours, 1) if hours > 0 else None,
                gold_checked=gold[username],
                gold_accuracy=gold_ok[username] / gold[username] if gold[username] else None,
                majority_agreement=agree[username] / compared[username]
                if compared[username]
                else None,
            )
        )
    return stats
