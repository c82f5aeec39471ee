"""Query-expansion review items: the live model's expansion (side A) against a second
model's (side B) for search-log queries, with the results each brings back.

Side B is the newest other servable version (the live one's parent first), or the
dictionary baseline when the project has only one model. Held-out queries are never used:
reviewers' approved terms feed fine-tuning, and the evaluation set must stay unseen.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from django.db import transaction

from jdreview.models import Project
from labeling.models import Item
from workers.models import ModelVersion
from workers.qe.apps import FAMILY, KIND
from workers.qe.catalog import query_world
from workers.qe.search import bm25_engine, products_by_sku
from workers.qe.serving import NoLiveModel, expand_terms
from workers.versions import live_version, versions_of

SERVABLE = ("sft", "ppo", "grpo")
SHOWN_RESULTS = 5
MAX_TERMS = 8


def _second_model(live: ModelVersion) -> ModelVersion | None:
    others = [
        v for v in versions_of(live.project, FAMILY) if v.pk != live.pk and v.name in SERVABLE
    ]
    parent = next((v for v in others if v.pk == live.parent_id), None)
    return parent or (others[0] if others else None)


def _label(v: ModelVersion) -> str:
    return f"v{v.version} {v.name}"


def review_items_create(*, project: Project, count: int, seed: int = 7) -> int:
    """Add up to ``count`` review items for queries not yet reviewed with the live model.

    Items are keyed by live version and query, so running it again adds only new ones.
    Returns how many were created.
    """
    from workers.qe.ml.queries import sft_pairs
    from workers.qe.ml.synonyms import SynonymExpander

    live = live_version(project, FAMILY)
    if live is None:
        raise NoLiveModel("no live query-expansion model in this project yet")
    _, qs = query_world()
    heldout = {q.text for q in qs.heldout}
    pool = [q for q in qs.log + qs.train if q.text not in heldout]
    random.Random(seed).shuffle(pool)

    def ext_id(text: str) -> str:
        return f"qe-v{live.pk}-{hashlib.sha1(text.encode()).hexdigest()[:16]}"

    have = set(
        Item.objects.filter(project=project, kind=KIND).values_list("external_id", flat=True)
    )
    picked = [q for q in pool if ext_id(q.text) not in have][:count]
    if not picked:
        return 0
    texts = [q.text for q in picked]
    a_terms = expand_terms(live, texts)
    other = _second_model(live)
    if other is not None:
        b_terms = expand_terms(other, texts)
        b_label = _label(other)
    else:
        baseline = SynonymExpander.from_pairs(sft_pairs(qs.train))
        b_terms = [baseline.expand(t) for t in texts]
        b_label = "synonyms"
    engine = bm25_engine()
    rows = []
    for q, a, b in zip(picked, a_terms, b_terms):
        a, b = a[:MAX_TERMS], b[:MAX_TERMS]

        def results(terms: list[str], text: str = q.text) -> list[dict[str, Any]]:
            return products_by_sku(engine.search(" ".join([text, *terms]), SHOWN_RESULTS))

        rows.append(
            Item(
                project=project,
                kind=KIND,
                source=Item.Source.GENERATED,
                external_id=ext_id(q.text),
                payload={
                    "query": q.text,
                    "terms": list(dict.fromkeys(a + b)),
                    "a": {"terms": a, "results": results(a)},
                    "b": {"terms": b, "results": results(b)},
                    "results_without": results([]),
                },
                recipe={
                    "sides": {
                        "a": {"label": _label(live), "version": live.pk, "terms": a},
                        "b": {
                            "label": b_label,
                            "version": other.pk if other else None,
                            "terms": b,
                        },
                    },
                    "query_kind": q.kind,
                },
                truth={"expansion": list(q.expansion), "relevant": len(q.relevant)},
            )
        )
    with transaction.atomic():
        Item.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
