"""The search catalog in the database and the search engine over it, on both backends."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from jdreview.models import Product
from workers.models import Job
from workers.qe.catalog import catalog_sync, query_world
from workers.qe.search import BackendUnavailable, engine_for
from workers.services import job_create, job_run

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL full-text search"
)

# The catalog and its search run on both the embedded default and PostgreSQL.
pytestmark = pytest.mark.backend


@pytest.fixture
def catalog(db):  # type: ignore[no-untyped-def]
    catalog_sync(size=600)


def categories(skus: list[str]) -> set[str]:
    return set(Product.objects.filter(sku__in=skus).values_list("category", flat=True))


def test_the_catalog_job_stores_the_world_catalog_once(project) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        with transaction.atomic():
            job = job_create(kind="qe_catalog", params={"size": 300}, project=project)
        job_run(job.pk)
    first, second = Job.objects.filter(kind="qe_catalog").order_by("pk")
    assert (first.metrics["created"], second.metrics["created"]) == (300, 0)
    assert Product.objects.count() == 300
    shoe = Product.objects.get(sku="SKU00000")
    assert shoe.category == "running shoes" and "running shoes" in shoe.description


def test_queries_come_with_their_relevant_stored_products(catalog) -> None:  # type: ignore[no-untyped-def]
    _, qs = query_world()
    q = next(q for q in qs.train if q.kind == "head" and q.constraint.color is None)
    assert q.relevant
    stored = Product.objects.filter(sku__in=q.relevant)
    assert stored.count() == len(q.relevant)
    assert set(stored.values_list("category", flat=True)) == set(q.constraint.categories)
    assert not {h.text for h in qs.heldout} & {t.text for t in qs.train}


def test_bm25_finds_the_products_a_plain_query_names(catalog) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for("bm25")
    assert categories(engine.search("running shoes", 10)) == {"running shoes"}
    assert categories(engine.search("yoga mat", 5)) == {"yoga mat"}
    # Colloquial words are not in the catalog: that is what expansion is for.
    assert engine.search("kicks", 10) == []
    assert categories(engine.search("kicks running shoes", 10)) == {"running shoes"}


@needs_postgres
def test_postgres_full_text_search_finds_the_same_kind_of_products(catalog) -> None:  # type: ignore[no-untyped-def]
    engine = engine_for("postgres")
    top = engine.search("running shoes", 10)
    assert len(top) == 10 and categories(top) == {"running shoes"}
    assert categories(engine.search("yoga mat", 5)) == {"yoga mat"}
    assert engine.search("kicks", 10) == []
    # Any word may match, so an expansion adds results instead of filtering them away.
    assert categories(engine.search("kicks running shoes", 10)) == {"running shoes"}
    # tsquery syntax in the text is just punctuation.
    assert engine.search("shoes & | ! ( ) :* '", 3)


def test_postgres_search_is_refused_where_the_database_is_not_postgres(catalog) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor == "postgresql":
        assert engine_for("postgres").search("tent", 1)
    else:
        with pytest.raises(BackendUnavailable, match="PostgreSQL"):
            engine_for("postgres")
    with pytest.raises(BackendUnavailable, match="unknown search backend"):
        engine_for("solr")
