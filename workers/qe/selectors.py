"""Reads of this loop: reviewers' term ratings as training data and as dashboard figures."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from jdreview.models import Project
from labeling.models import Annotation
from workers.qe.apps import KIND
from workers.qe.ml.queries import SEP


def _rated_items(project: Project) -> list[tuple[str, list[str], list[dict[str, str]]]]:
    """(query, shown terms, [terms rating of each live annotation]) per rated item."""
    by_item: dict[int, tuple[str, list[str], list[dict[str, str]]]] = {}
    rows = Annotation.objects.filter(project=project, item__kind=KIND, undone=False).values_list(
        "item_id", "item__payload", "values"
    )
    for item_id, payload, values in rows.iterator():
        terms = values.get("terms") if isinstance(values, dict) else None
        query = payload.get("query") if isinstance(payload, dict) else None
        if not isinstance(terms, dict) or not isinstance(query, str):
            continue
        shown = payload.get("terms")
        shown = [t for t in shown if isinstance(t, str)] if isinstance(shown, list) else []
        by_item.setdefault(item_id, (query, shown, []))[2].append(terms)
    return list(by_item.values())


def approved_pairs(project: Project) -> list[tuple[str, str]]:
    """(query, expansion) pairs built from the terms reviewers rated relevant.

    A term is approved when at least half of the people who rated it called it relevant
    (one reviewer is enough at overlap 1). Terms keep the order they were shown in (JSON
    objects in PostgreSQL do not keep key order).
    """
    pairs = []
    for query, shown, ratings in _rated_items(project):
        votes: dict[str, list[bool]] = defaultdict(list)
        for terms in ratings:
            for term, verdict in terms.items():
                votes[term].append(verdict == "relevant")
        order = {t: i for i, t in enumerate(shown)}
        kept = sorted(
            (t for t, v in votes.items() if sum(v) * 2 >= len(v) and any(v)),
            key=lambda t: order.get(t, len(order)),
        )
        if kept:
            pairs.append((query, SEP.join(kept)))
    return pairs


def reviewer_term_ratings(project: Project) -> list[tuple[str, str, bool]]:
    """Every (query, term, relevant) rating, for the term-relevance reward model."""
    return [
        (query, term, verdict == "relevant")
        for query, _, ratings in _rated_items(project)
        for terms in ratings
        for term, verdict in terms.items()
    ]


def acceptance(project: Project) -> dict[str, Any]:
    """How many proposed terms reviewers accepted, overall and per model that proposed them.

    Which model proposed a term is in the item's recipe (side "a" or "b" and the version),
    so the rate can be split per version without showing reviewers which model is which.
    """
    rows = Annotation.objects.filter(project=project, item__kind=KIND, undone=False).values_list(
        "values", "item__recipe"
    )
    total = accepted = 0
    per_model: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    prefs: dict[str, int] = defaultdict(int)
    for values, recipe in rows.iterator():
        terms = values.get("terms", {}) if isinstance(values, dict) else {}
        sides = recipe.get("sides", {}) if isinstance(recipe, dict) else {}
        for term, verdict in terms.items():
            ok = verdict == "relevant"
            total += 1
            accepted += ok
            for side in sides.values():
                if term in side.get("terms", []):
                    counts = per_model[side.get("label", "?")]
                    counts[0] += 1
                    counts[1] += ok
        prefer = values.get("prefer") if isinstance(values, dict) else None
        if prefer in ("a", "b"):
            prefs[sides.get(prefer, {}).get("label", prefer)] += 1
        elif prefer == "same":
            prefs["same"] += 1
    return {
        "rated": total,
        "accepted": accepted,
        "rate": accepted / total if total else None,
        "per_model": {
            label: {"rated": n, "accepted": ok, "rate": ok / n if n else None}
            for label, (n, ok) in sorted(per_model.items())
        },
        "preferred": dict(prefs),
    }
