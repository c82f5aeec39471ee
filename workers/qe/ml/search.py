"""Offline search over the catalog: the engine query expansion is trained and judged against.

The interface is one method so a PostgreSQL full-text engine (Django side) can stand in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import bm25s
import numpy as np

from labeling.world.catalog import CatalogProduct


class SearchEngine(Protocol):
    def search(self, query: str, k: int = 10) -> list[str]:
        """Skus of the top ``k`` products for ``query``, best first."""
        ...


class BM25Engine:
    """BM25 (bm25s) over title + description; no stemming, English stopwords removed.

    No stemmer on purpose: "runs" does not match "running", as in many shop search boxes,
    which is part of what expansion has to fix.
    """

    def __init__(self, catalog: Sequence[CatalogProduct]) -> None:
        self.skus = [p.sku for p in catalog]
        docs = [f"{p.title} {p.description}" for p in catalog]
        self._retriever = bm25s.BM25()
        self._retriever.index(
            bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False
        )
        self._cache: dict[tuple[str, int], list[str]] = {}

    def search(self, query: str, k: int = 10) -> list[str]:
        key = (query, k)
        if key not in self._cache:
            self._cache[key] = self._search(query, k)
        return self._cache[key]

    def _search(self, query: str, k: int) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        # bm25s' tokenizer lowercases; map words through the index vocabulary ourselves
        # because its id-based path rebuilds a vocabulary per call.
        vocab = self._retriever.vocab_dict
        ids = [vocab[t] for t in tokens[0] if t in vocab]
        if not ids:
            return []
        scores = self._retriever.get_scores(ids)
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.skus[i] for i in top if scores[i] > 0]


def recall_at_k(results: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Hits in the top ``k`` over ``min(k, |relevant|)``.

    Capped at ``k`` so a query with 600 relevant products can still reach 1.0: the shopper
    sees ten results, and ten good ones is a perfect page.
    """
    if not relevant:
        return 0.0
    hits = sum(1 for s in results[:k] if s in relevant)
    return hits / min(k, len(relevant))


def precision_at_k(results: Sequence[str], relevant: Collection[str], k: int = 10) -> float:
    """Hits in the top ``k`` over ``k`` (empty slots count as misses)."""
    return sum(1 for s in results[:k] if s in relevant) / k
