"""Query-expansion rewards at three granularities: format/token, query relevance, results.

Plain Python + numpy/torch; no Django. The search engine is passed in (duck-typed
``search(query, k) -> list[sku]``), so the offline BM25 simulation and a PostgreSQL engine
are interchangeable.
"""

from .combine import DEFAULT_WEIGHTS, combine
from .format import format_reward
from .relevance import EmbeddingCache, TermRelevanceModel, cosine_relevance
from .results import result_rewards
from .reward import QEReward

__all__ = [
    "DEFAULT_WEIGHTS",
    "EmbeddingCache",
    "QEReward",
    "TermRelevanceModel",
    "combine",
    "cosine_relevance",
    "format_reward",
    "result_rewards",
]
