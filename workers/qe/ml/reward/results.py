"""Result-level reward: run the offline search with and without the expansion."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from workers.qe.ml.search import SearchEngine, precision_at_k, recall_at_k


def result_rewards(
    engine: SearchEngine,
    query: str,
    terms: Sequence[str],
    relevant: Collection[str],
    k: int = 10,
) -> dict[str, float]:
    """recall_gain = recall@k(expanded) - recall@k(query), in [-1, 1];
    precision_kept = min(0, precision@k(expanded) - precision@k(query)): only a loss counts,
    so the policy is not paid twice for the same hits but is stopped from buying recall
    with junk results."""
    base = engine.search(query, k)
    expanded = engine.search(" ".join([query, *terms]), k)
    return {
        "recall_gain": recall_at_k(expanded, relevant, k) - recall_at_k(base, relevant, k),
        "precision_kept": min(
            0.0, precision_at_k(expanded, relevant, k) - precision_at_k(base, relevant, k)
        ),
    }
