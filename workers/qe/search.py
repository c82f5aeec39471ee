"""The search engine over the stored catalog, behind one small interface.

``engine_for(backend)`` returns something with ``search(query, k) -> list[sku]`` (the
``workers.qe.ml.search.SearchEngine`` protocol the rewards and metrics take):

* ``bm25`` (default): bm25s over title + description, the same engine the RL reward
  simulates, indexed in memory and rebuilt when the catalog changes;
* ``postgres``: PostgreSQL full-text search (``django.contrib.postgres.search``), for when
  the catalog lives in PostgreSQL and should be searched where it is.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from django.conf import settings
from django.db import connection

from jdreview.models import Product
from workers.qe.ml.search import BM25Engine

BACKENDS = ("bm25", "postgres")
_WORD = re.compile(r"[a-z0-9]+")


class BackendUnavailable(ValueError):
    """The asked-for backend cannot run on this database."""


class PostgresEngine:
    """Full-text search in PostgreSQL: any query word may match (OR), ranked by ts_rank.

    OR rather than the AND of ``plainto_tsquery``: an expansion adds alternatives
    ("kicks" + "running shoes"), and requiring every word would return nothing.
    Words are reduced to ``[a-z0-9]+`` before they reach ``to_tsquery``, so no query text
    can inject tsquery syntax.
    """

    config = "english"

    def search(self, query: str, k: int = 10) -> list[str]:
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        words = list(dict.fromkeys(_WORD.findall(query.lower())))
        if not words:
            return []
        tsquery = SearchQuery(" | ".join(words), search_type="raw", config=self.config)
        vector = SearchVector("title", weight="A", config=self.config) + SearchVector(
            "description", weight="B", config=self.config
        )
        rows = (
            Product.objects.annotate(rank=SearchRank(vector, tsquery))
            .filter(rank__gt=0)
            .order_by("-rank", "sku")
            .values_list("sku", flat=True)[:k]
        )
        return list(rows)


_lock = threading.Lock()
_bm25: dict[tuple[int, int], BM25Engine] = {}


def bm25_engine() -> BM25Engine:
    """The in-memory BM25 index of the stored catalog (built once per catalog state)."""
    from workers.qe.catalog import CatalogEmpty, catalog_fingerprint, catalog_products

    key = catalog_fingerprint()
    if key[0] == 0:
        raise CatalogEmpty("the search catalog is empty: run the qe_catalog job first")
    with _lock:
        if key not in _bm25:
            _bm25.clear()
            _bm25[key] = BM25Engine(catalog_products())
        return _bm25[key]


def default_backend() -> str:
    return getattr(settings, "QE_SEARCH_BACKEND", "bm25")


def engine_for(backend: str | None = None) -> BM25Engine | PostgresEngine:
    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise BackendUnavailable(f"unknown search backend {backend!r}; use bm25 or postgres")
    if backend == "postgres":
        if connection.vendor != "postgresql":
            raise BackendUnavailable("the postgres search backend needs a PostgreSQL database")
        return PostgresEngine()
    return bm25_engine()


def products_by_sku(skus: list[str]) -> list[dict[str, Any]]:
    """Result rows to show, in the order of ``skus``."""
    fields = ("sku", "title", "category", "color")
    rows: dict[str, dict[str, Any]] = {
        r[0]: dict(zip(fields, r))
        for r in Product.objects.filter(sku__in=skus).values_list(*fields)
    }
    return [rows[s] for s in skus if s in rows]
