"""Queries with known relevance, click-log pairs and the synonym baseline."""

import re

import pytest

from labeling.world.catalog import build_catalog
from workers.qe.ml.queries import build_queries, sft_pairs
from workers.qe.ml.synonyms import SynonymExpander
from workers.qe.ml.vocab import unseen_words


@pytest.fixture(scope="module")
def world():
    catalog = build_catalog(seed=7, n=1200)
    return catalog, build_queries(catalog, seed=7, n_train=400, n_heldout=80, n_log=300)


def test_relevant_products_satisfy_the_query_constraint(world):
    catalog, qs = world
    by_sku = {p.sku: p for p in catalog}
    for q in qs.train + qs.heldout:
        assert q.relevant
        assert all(q.constraint.matches(by_sku[s]) for s in q.relevant)
        # and nothing that matches is missing
        assert sum(q.constraint.matches(p) for p in catalog) == len(q.relevant)


def _has(text: str, word: str) -> bool:
    return re.search(rf"(^|\s){re.escape(word)}($|\s)", text) is not None


def test_heldout_long_tail_uses_words_never_in_fine_tuning_pairs(world):
    _, qs = world
    unseen = unseen_words()
    pairs_text = " || ".join(q for q, _ in sft_pairs(qs.train))
    for word in unseen:
        assert not _has(pairs_text, word), word
    non_misspelled = [q for q in qs.heldout if q.kind != "misspelling"]
    assert non_misspelled
    assert all(any(_has(q.text, w) for w in unseen) for q in non_misspelled)
    assert not {q.text for q in qs.heldout} & {q.text for q in qs.train + qs.log}


def test_reviewer_approved_pairs_join_the_fine_tuning_set(world):
    _, qs = world
    approved = [("shoes for my marathon", "running shoes | marathon")]
    pairs = sft_pairs(qs.train[:5], approved=approved)
    assert ("shoes for my marathon", "running shoes | marathon") in pairs
    assert len(pairs) == 6


def test_queries_are_deterministic_for_a_seed(world):
    catalog, qs = world
    again = build_queries(catalog, seed=7, n_train=400, n_heldout=80, n_log=300)
    assert [q.text for q in again.heldout] == [q.text for q in qs.heldout]


def test_synonym_dictionary_expands_words_it_has_seen_only():
    pairs = [
        ("sneakers", "running shoes"),
        ("black sneakers", "running shoes | black"),
        ("skillet", "frying pan"),
        ("big skillet", "frying pan"),
    ]
    expander = SynonymExpander.from_pairs(pairs)
    assert expander.expand("red sneakers") == ["running shoes"]
    assert expander.expand("kicks") == []
