"""Offline search over the synthetic catalog: the engine query expansion is judged against."""

import pytest

from labeling.world.catalog import build_catalog
from workers.qe.ml.search import BM25Engine, precision_at_k, recall_at_k


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(seed=7, n=1200)


@pytest.fixture(scope="module")
def engine(catalog):
    return BM25Engine(catalog)


def test_catalog_is_deterministic_for_a_seed():
    assert build_catalog(seed=3, n=50) == build_catalog(seed=3, n=50)
    assert build_catalog(seed=3, n=50) != build_catalog(seed=4, n=50)


def test_catalog_titles_name_their_facets(catalog):
    for p in catalog[:100]:
        title = p.title.lower()
        assert p.color in title and p.brand.lower() in title and p.material in title
        assert p.category.replace("-", " ") in title.replace("-", " ")


def test_bm25_ranks_products_matching_every_query_word_first(engine, catalog):
    exact = {p.sku for p in catalog if p.category == "running shoes" and p.color == "black"}
    assert exact
    results = engine.search("black running shoes", k=10)
    assert len(results) == 10
    assert set(results[: len(exact)]) == exact


def test_bm25_finds_nothing_for_words_the_catalog_never_uses(engine):
    assert engine.search("kicks", k=10) == []


def test_adding_catalog_words_recovers_a_colloquial_query(engine, catalog):
    relevant = {p.sku for p in catalog if p.category == "running shoes"}
    plain = engine.search("kicks", k=10)
    expanded = engine.search("kicks running shoes", k=10)
    assert recall_at_k(plain, relevant) == 0.0
    assert recall_at_k(expanded, relevant) == 1.0


def test_recall_is_capped_at_k_and_precision_counts_empty_slots():
    relevant = {f"s{i}" for i in range(50)}
    assert recall_at_k([f"s{i}" for i in range(10)], relevant, k=10) == 1.0
    assert recall_at_k(["s1", "x"], {"s1", "s2"}, k=10) == 0.5
    assert precision_at_k(["s1", "x"], {"s1", "s2"}, k=10) == pytest.approx(0.1)
    assert recall_at_k(["s1"], set(), k=10) == 0.0
