"""The search catalog in the database, and the query world built on it.

The benchmark world's synthetic catalog (``labeling.world.catalog``) is stored as
``jdreview.Product`` rows with a description; search, training and serving read it back from
there, so a shop's real catalog can replace it by import. Queries with known relevant
products are derived from the stored rows (relevance follows from category, colour and
audience), deterministically for a seed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import transaction
from django.db.models import Count, Max

from jdreview.models import Product
from labeling.world.catalog import CatalogProduct, build_catalog
from workers.qe.ml.queries import QuerySet, build_queries

DEFAULT_SIZE = 6000
BATCH = 1000


def catalog_sync(
    *, seed: int = 7, size: int = DEFAULT_SIZE, progress: Callable[[float], None] | None = None
) -> int:
    """Store the world catalog's first ``size`` products; returns how many were new.

    Idempotent: products are keyed by sku and existing rows are left alone, so running it
    twice (or a larger size after a smaller one) adds only what is missing.
    """
    products = build_catalog(seed=seed, n=size)
    have = set(
        Product.objects.filter(sku__in=[p.sku for p in products]).values_list("sku", flat=True)
    )
    missing = [p for p in products if p.sku not in have]
    for start in range(0, len(missing), BATCH):
        chunk = missing[start : start + BATCH]
        with transaction.atomic():
            Product.objects.bulk_create(
                [
                    Product(
                        sku=p.sku,
                        title=p.title,
                        description=p.description,
                        category=p.category,
                        brand=p.brand,
                        color=p.color,
                        price=p.price,
                        attributes={**p.attributes, "material": p.material},
                    )
                    for p in chunk
                ],
                ignore_conflicts=True,  # a concurrent sync of the same skus is harmless
            )
        if progress is not None:
            progress(min(1.0, (start + len(chunk)) / len(missing)))
    return len(missing)


def catalog_fingerprint() -> tuple[int, int]:
    """(rows, highest id): changes whenever products are added or removed."""
    agg = Product.objects.aggregate(n=Count("id"), last=Max("id"))
    return int(agg["n"] or 0), int(agg["last"] or 0)


def catalog_products() -> list[CatalogProduct]:
    """Every stored product, in sku order, in the form the ML code takes."""
    rows = Product.objects.order_by("sku").values_list(
        "sku", "title", "description", "category", "brand", "color", "price", "attributes"
    )
    out = []
    for sku, title, description, category, brand, color, price, attributes in rows:
        attrs = attributes if isinstance(attributes, dict) else {}
        out.append(
            CatalogProduct(
                sku=sku,
                title=title,
                description=description,
                category=category,
                brand=brand,
                color=color,
                material=str(attrs.get("material", "")),
                price=float(price or 0.0),
                attributes=attrs,
            )
        )
    return out


class CatalogEmpty(RuntimeError):
    pass


_lock = threading.Lock()
_worlds: dict[tuple, tuple[list[CatalogProduct], QuerySet]] = {}


def query_world(
    *, seed: int = 7, n_train: int = 1600, n_heldout: int = 300, n_log: int = 2400
) -> tuple[list[CatalogProduct], QuerySet]:
    """The stored catalog and its query splits; cached per process while the catalog holds."""
    key = (catalog_fingerprint(), seed, n_train, n_heldout, n_log)
    with _lock:
        if key not in _worlds:
            catalog = catalog_products()
            if not catalog:
                raise CatalogEmpty("the search catalog is empty: run the qe_catalog job first")
            _worlds.clear()  # one world at a time: a new catalog makes the old one stale
            _worlds[key] = (catalog, build_queries(catalog, seed, n_train, n_heldout, n_log))
        return _worlds[key]
