"""Query-expansion rewards at three granularities: format/token, query relevance, results.

Plain Python + numpy/torch; no Django. The search engine is passed in (duck-typed
``search(query, k) -> list[sku]``), so the offline BM25 simulation and a PostgreSQL engine
are interchangeable.

Only the plain-Python parts are imported with the package; the others (torch, MiniLM, the
search engine) on first use (PEP 562), so a page that reads ``DEFAULT_WEIGHTS`` imports no
torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.ml.lazy import lazy_exports

# Eager, and first: `combine` is both a submodule and a function, and the package attribute
# must be the function.
from .combine import DEFAULT_WEIGHTS, combine
from .format import format_reward

_EXPORTS = {
    "EmbeddingCache": "relevance",
    "TermRelevanceModel": "relevance",
    "cosine_relevance": "relevance",
    "result_rewards": "results",
    "QEReward": "reward",
}

if TYPE_CHECKING:
    from .relevance import EmbeddingCache, TermRelevanceModel, cosine_relevance
    from .results import result_rewards
    from .reward import QEReward


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
