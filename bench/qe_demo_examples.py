"""The query-expansion demo's model on colloquial queries: what it adds, what the guard drops,
and whether the results are the right product type.

Trains what the demo trains (pre-training, then fine-tuning, at the settings given on the
command line; the defaults are ``workers/qe/demo.py``'s), fits the term-relevance model the
guard uses on the same simulated ratings the demo gives it, and reports, per query of
VALIDATION (colloquial queries written for this check, none of them the README's), the
added terms, the dropped ones and the share of the top 10 results in the expected category,
with and without the guard. The README's examples are printed after, for a look, and are
not part of the score: settings are chosen on VALIDATION only. Last line: one JSON object.

    .venv/bin/python bench/qe_demo_examples.py [--pretrain-steps N] [--sft-steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from labeling.world.catalog import build_catalog
from workers.qe.ml.model import ModelConfig, build_model, generate, parse_expansion
from workers.qe.ml.queries import (
    build_queries,
    pretraining_corpus,
    sft_pairs,
    simulated_term_ratings,
)
from workers.qe.ml.reward import EmbeddingCache, TermRelevanceModel
from workers.qe.ml.reward.guard import guard_terms
from workers.qe.ml.search import BM25Engine
from workers.qe.ml.train import PretrainConfig, SFTConfig, finetune, pretrain

# (query, the catalog category its results should be). Colloquial, like the README's
# example, mostly with words fine-tuning never sees; none is a README example.
VALIDATION = [
    ("shades for the beach", "sunglasses"),
    ("rucksack for hiking", "backpack"),
    ("skillet for cooking", "frying pan"),
    ("cans for music", "headphones"),
    ("puffy jacket", "winter coat"),
    ("sox for guys", "socks"),
    ("juice pack for my phone", "power bank"),
    ("canteen for camping", "water bottle"),
    ("gym pants for ladies", "leggings"),
    ("santoku", "chef knife"),
    ("hoody for kids", "hoodie"),
    ("trail sneakers", "trail shoes"),
    ("mummy bag", "sleeping bag"),
    ("skid lid", "bike helmet"),
    ("trainers for running", "running shoes"),
    ("flip flops for the pool", "sandals"),
]
# The README's examples (README.md: POST /api/expand, and the demo's guidelines).
README_EXAMPLES = [("kicks for jogging", "running shoes"), ("kicks", "running shoes")]


def type_share(engine: BM25Engine, by_sku: dict, query: str, category: str) -> float:
    hits = engine.search(query, 10)
    return sum(by_sku[s].category == category for s in hits) / 10 if hits else 0.0


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jdreview.settings")
    django.setup()
    from workers.qe.demo import PRETRAIN, SFT  # the demo's settings (no database is touched)

    ap = argparse.ArgumentParser()
    ap.add_argument("--pretrain-steps", type=int, default=PRETRAIN["steps"])
    ap.add_argument("--sft-steps", type=int, default=SFT["steps"])
    ap.add_argument("--sft-lr", type=float, default=SFT["lr"])
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    catalog = build_catalog(seed=7, n=6000)
    by_sku = {p.sku: p for p in catalog}
    qs = build_queries(catalog, seed=7)
    engine = BM25Engine(catalog)

    t0 = time.perf_counter()
    pairs = sft_pairs(qs.train)
    corpus = pretraining_corpus(catalog, qs)
    model, tok = build_model(
        ModelConfig(n_layer=int(PRETRAIN["layers"]), seed=args.seed),
        corpus + [f"{q}\n{e}" for q, e in pairs],
    )
    pre = pretrain(
        model,
        tok,
        corpus,
        PretrainConfig(
            steps=args.pretrain_steps, batch_size=PRETRAIN["batch_size"], seed=args.seed
        ),
    )
    t_pre = time.perf_counter() - t0
    sft = finetune(
        model,
        tok,
        pairs,
        SFTConfig(
            steps=args.sft_steps, batch_size=int(SFT["batch_size"]), lr=args.sft_lr, seed=args.seed
        ),
    )
    t_train = time.perf_counter() - t0
    t1 = time.perf_counter()
    cache = EmbeddingCache("cpu")
    relevance = TermRelevanceModel(cache)
    accuracy = relevance.fit(simulated_term_ratings(qs.train, seed=args.seed))
    t_rel = time.perf_counter() - t1

    def report(rows: list[tuple[str, str]]) -> list[dict]:
        queries = [q for q, _ in rows]
        _, _, texts = generate(model, tok, queries, 16)
        out = []
        for (q, cat), text in zip(rows, texts):
            terms = list(dict.fromkeys(parse_expansion(text)))
            kept, _, dropped = guard_terms(relevance, q, terms, args.threshold)
            out.append(
                {
                    "query": q,
                    "category": cat,
                    "terms": terms,
                    "dropped": {t: round(s, 2) for t, s in dropped},
                    "none": type_share(engine, by_sku, q, cat),
                    "expanded": type_share(engine, by_sku, " ".join([q, *terms]), cat),
                    "guarded": type_share(engine, by_sku, " ".join([q, *kept]), cat),
                }
            )
        return out

    val = report(VALIDATION)
    for row in [*val, {"query": "--- README examples (not scored) ---"}, *report(README_EXAMPLES)]:
        print(json.dumps(row), flush=True)
    summary = {
        "pretrain_steps": args.pretrain_steps,
        "sft_steps": args.sft_steps,
        "sft_lr": args.sft_lr,
        "threshold": args.threshold,
        "pretrain_loss": round(pre.metrics["loss_last"], 3),
        "sft_loss": round(sft.metrics["loss_last"], 3),
        "relevance_train_accuracy": round(accuracy, 3),
        "validation_type_share_none": round(statistics.fmean(r["none"] for r in val), 3),
        "validation_type_share_expanded": round(statistics.fmean(r["expanded"] for r in val), 3),
        "validation_type_share_guarded": round(statistics.fmean(r["guarded"] for r in val), 3),
        "train_s": round(t_train, 1),
        "pretrain_s": round(t_pre, 1),
        "relevance_fit_s": round(t_rel, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
