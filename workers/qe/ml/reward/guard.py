"""The serving guard: drop added terms the term-relevance model rates as drifting.

The same model the RL reward uses (``relevance_model``), asked once per query for all its
terms (one batched embedding call for the texts not cached yet).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from .relevance import EmbeddingCache

DEFAULT_THRESHOLD = 0.5


class RatesTerms(Protocol):
    def prob(self, query: str, terms: Sequence[str]) -> np.ndarray: ...


def guard_terms(
    model: RatesTerms, query: str, terms: Sequence[str], threshold: float
) -> tuple[list[str], list[tuple[str, float]], list[tuple[str, float]]]:
    """(kept terms, [(kept term, P(relevant))], [(dropped term, P(relevant))]).

    A term is dropped when P(relevant | query, term) is below ``threshold``; 0 keeps every
    term, 1 drops all but certain ones. Order is kept.
    """
    if not terms:
        return [], [], []
    probs = [float(p) for p in model.prob(query, list(terms))]
    scored = list(zip(terms, probs))
    kept = [(t, p) for t, p in scored if p >= threshold]
    dropped = [(t, p) for t, p in scored if p < threshold]
    return [t for t, _ in kept], kept, dropped


class BoundedEmbeddingCache(EmbeddingCache):
    """An EmbeddingCache for serving: shoppers type without end, so the oldest texts are
    forgotten past ``max_items``; one lock, as web threads share it."""

    def __init__(self, device: str | None = None, max_items: int = 10_000) -> None:
        super().__init__(device)
        self.max_items = max_items
        self._guard_lock = threading.Lock()

    def embed(self, texts: Iterable[str]) -> np.ndarray:
        with self._guard_lock:
            out = super().embed(texts)
            excess = len(self._cache) - self.max_items
            for key in list(itertools.islice(self._cache, max(0, excess))):
                del self._cache[key]
            return out
