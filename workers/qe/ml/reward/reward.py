"""The full multi-granular reward for one generated expansion."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .combine import combine
from .format import format_reward
from .relevance import EmbeddingCache, TermRelevanceModel, cosine_relevance
from .results import result_rewards


class QEReward:
    """Scores (query, generated terms) against the offline search engine.

    ``__call__`` returns the total and each weighted component so trainers can log both.
    """

    def __init__(
        self,
        engine,
        cache: EmbeddingCache,
        relevance_model: TermRelevanceModel | None = None,
        weights: Mapping[str, float] | None = None,
        k: int = 10,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.relevance_model = relevance_model
        self.weights = weights
        self.k = k

    def components(
        self, query: str, terms: list[str], ended: bool, relevant: Collection[str]
    ) -> dict[str, float]:
        fmt = format_reward(terms, ended)
        # Malformed output gets only the format penalty: searching with junk would let
        # recall luck hide it.
        terms = list(dict.fromkeys(terms)) if fmt > -1.0 else []
        out = {"format": fmt, "relevance_cos": cosine_relevance(self.cache, query, terms)}
        if self.relevance_model is not None:
            out["relevance_model"] = self.relevance_model.score(query, terms) if terms else -1.0
        out.update(result_rewards(self.engine, query, terms, relevant, self.k))
        return out

    def __call__(
        self, query: str, terms: list[str], ended: bool, relevant: Collection[str]
    ) -> tuple[float, dict[str, float]]:
        return combine(self.components(query, terms, ended, relevant), self.weights)
