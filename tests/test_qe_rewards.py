"""Query-expansion reward components on hand-made cases."""

import pytest

from labeling.world.catalog import build_catalog
from workers.qe.ml.reward import (
    EmbeddingCache,
    QEReward,
    TermRelevanceModel,
    combine,
    cosine_relevance,
    format_reward,
    result_rewards,
)
from workers.qe.ml.search import BM25Engine


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(seed=7, n=1200)


@pytest.fixture(scope="module")
def engine(catalog):
    return BM25Engine(catalog)


@pytest.fixture(scope="module")
def cache():
    return EmbeddingCache("cpu")


def test_a_clean_term_list_gets_the_full_format_reward():
    assert format_reward(["running shoes", "men's"], ended=True) == 1.0


def test_malformed_output_gets_the_format_penalty():
    assert format_reward([], ended=True) == -1.0
    assert format_reward(["running shoes"], ended=False) == -1.0  # ran into the token limit
    assert format_reward(["query: kicks\nexpansion"], ended=True) == -1.0


def test_repeated_and_excess_terms_cost_format_reward():
    clean = format_reward(["running shoes", "black"], ended=True)
    assert format_reward(["running shoes", "running shoes"], ended=True) < clean
    assert format_reward([f"term{i}" for i in range(8)], ended=True) < clean


def test_a_drifting_term_lowers_query_relevance(cache):
    on_topic = cosine_relevance(cache, "kicks for jogging", ["running shoes", "sneakers"])
    drifting = cosine_relevance(cache, "kicks for jogging", ["running shoes", "frying pan"])
    assert on_topic > drifting


def test_relevance_model_learns_from_reviewer_ratings(cache):
    ratings = []
    for q, good, bad in [
        ("kicks for guys", "running shoes", "frying pan"),
        ("skillet", "frying pan", "headphones"),
        ("shades", "sunglasses", "socks"),
        ("comfy sweatshirt", "hoodie", "tent"),
        ("rucksack", "backpack", "shampoo"),
        ("cans", "headphones", "chef knife"),
    ]:
        ratings += [(q, good, True), (q, bad, False)]
    model = TermRelevanceModel(cache)
    assert model.fit(ratings) == 1.0
    p_good, p_bad = model.prob("sneakers for dad", ["running shoes", "throw blanket"])
    assert p_good > p_bad
    assert model.score("sneakers for dad", ["running shoes"]) > model.score(
        "sneakers for dad", ["running shoes", "throw blanket"]
    )


def test_recall_gain_is_rewarded_and_precision_loss_penalised(engine, catalog):
    relevant = {p.sku for p in catalog if p.category == "running shoes"}
    good = result_rewards(engine, "kicks", ["running shoes"], relevant)
    assert good["recall_gain"] == 1.0 and good["precision_kept"] == 0.0
    start = "black running shoes"
    black = {p.sku for p in catalog if p.category == "running shoes" and p.color == "black"}
    bad = result_rewards(engine, start, ["frying pan", "skillet", "cast iron"], black)
    assert bad["recall_gain"] < 0 and bad["precision_kept"] < 0


def test_combine_weights_each_component_and_sums_them():
    total, parts = combine(
        {"format": 1.0, "recall_gain": 0.5, "unknown": 3.0}, {"format": 0.5, "recall_gain": 2.0}
    )
    assert parts == {"format": 0.5, "recall_gain": 1.0, "unknown": 0.0}
    assert total == 1.5


def test_full_reward_prefers_the_right_expansion_and_skips_search_for_junk(engine, catalog, cache):
    relevant = {p.sku for p in catalog if p.category == "running shoes"}
    reward = QEReward(engine, cache)
    right, _ = reward("kicks", ["running shoes", "sneakers"], True, relevant)
    wrong, _ = reward("kicks", ["frying pan"], True, relevant)
    junk_total, junk = reward("kicks", ["running shoes"], False, relevant)
    assert right > wrong > junk_total
    assert junk["format"] < 0 and junk["recall_gain"] == 0.0
