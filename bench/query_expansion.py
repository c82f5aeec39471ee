"""Query-expansion benchmark: three training phases on the tiny config, held-out evaluation.

Trains pre-training -> fine-tuning -> {PPO, GRPO} within the run and compares recall@10 and
precision@10 on held-out long-tail queries (words and intents absent from fine-tuning
pairs) for: no expansion, the synonym dictionary, SFT, PPO and GRPO. The oracle is the
known relevant set, on queries the RL reward never saw. Last line: one JSON object.

    .venv/bin/python bench/query_expansion.py [--quick] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from labeling.world.catalog import build_catalog
from workers.ml.runtime import device
from workers.qe.ml.grpo import GRPOConfig, grpo_train
from workers.qe.ml.model import (
    ModelConfig,
    build_model,
    expand,
    expanded_query,
    generate,
    parse_expansion,
)
from workers.qe.ml.ppo import PPOConfig, ppo_train
from workers.qe.ml.queries import (
    build_queries,
    format_expansion,
    pretraining_corpus,
    rl_split,
    sft_pairs,
    simulated_term_ratings,
)
from workers.qe.ml.reward import DEFAULT_WEIGHTS, EmbeddingCache, QEReward, TermRelevanceModel
from workers.qe.ml.search import BM25Engine, precision_at_k, recall_at_k
from workers.qe.ml.synonyms import SynonymExpander
from workers.qe.ml.train import PretrainConfig, SFTConfig, finetune, pretrain


def log(msg: str) -> None:
    print(msg, flush=True)


def every(label: str, n: int):
    state = {"i": 0}

    def progress(fraction: float, metrics: dict) -> None:
        state["i"] += 1
        if state["i"] % n == 0 or fraction >= 1.0:
            shown = " ".join(
                f"{k}={v:.3f}"
                for k, v in metrics.items()
                if isinstance(v, float) and not k.startswith("weight/")
            )
            log(f"  [{label} {fraction:4.0%}] {shown}")

    return progress


def lm_expansions(model, tok, queries: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for i in range(0, len(queries), 64):
        _, _, texts = generate(model, tok, queries[i : i + 64], 16)
        out += [parse_expansion(t) for t in texts]
    return out


def evaluate(engine, queries, expansions) -> tuple[float, float]:
    rec, prec = [], []
    for q, terms in zip(queries, expansions):
        res = engine.search(expanded_query(q.text, terms), 10)
        rec.append(recall_at_k(res, q.relevant, 10))
        prec.append(precision_at_k(res, q.relevant, 10))
    return statistics.fmean(rec), statistics.fmean(prec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--quick", action="store_true", help="smoke run (about a minute); its figures mean nothing"
    )
    ap.add_argument("--work-dir", default=None, help="keep phase checkpoints here")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    quick = args.quick
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="qe_bench_"))
    t0 = time.perf_counter()

    catalog = build_catalog(seed=args.seed, n=1500 if quick else 6000)
    qs = build_queries(
        catalog,
        seed=args.seed,
        n_train=400 if quick else 1600,
        n_heldout=80 if quick else 300,
        n_log=600 if quick else 2400,
    )
    engine = BM25Engine(catalog)
    pairs = sft_pairs(qs.train)
    log(
        f"catalog {len(catalog)} products; queries train {len(qs.train)}, "
        f"held-out {len(qs.heldout)}, log {len(qs.log)}; device {device()}"
    )

    corpus = pretraining_corpus(catalog, qs)
    model, tok = build_model(ModelConfig(seed=args.seed), corpus + [f"{q}\n{e}" for q, e in pairs])
    model.to(device())
    n_params = sum(p.numel() for p in model.parameters())
    log(f"tiny GPT-2: {n_params / 1e6:.2f}M params, vocab {len(tok)}")

    log("phase 1: domain pre-training")
    r1 = pretrain(
        model,
        tok,
        corpus,
        PretrainConfig(steps=40 if quick else 300, seed=args.seed),
        every("pretrain", 3),
        work / "pretrained",
    )
    log(f"  loss {r1.metrics['loss_first']:.2f} -> {r1.metrics['loss_last']:.2f}")
    log("phase 2: fine-tuning on click-log pairs")
    r2 = finetune(
        model,
        tok,
        pairs,
        SFTConfig(steps=40 if quick else 250, seed=args.seed),
        every("sft", 3),
        work / "sft",
    )
    log(f"  loss {r2.metrics['loss_first']:.2f} -> {r2.metrics['loss_last']:.2f}")

    log("reward: MiniLM embeddings + term-relevance model from simulated reviewer ratings")
    cache = EmbeddingCache(str(device()))
    rel_model = TermRelevanceModel(cache)
    acc = rel_model.fit(simulated_term_ratings(qs.train, seed=args.seed))
    log(f"  relevance model train accuracy {acc:.3f}")
    reward = QEReward(engine, cache, rel_model, DEFAULT_WEIGHTS)
    # Relevance is known from clicks, so RL needs no expansion labels. A slice of the log is
    # held back to pick the PPO checkpoint; the evaluation set stays untouched.
    val, rl_pool = rl_split(qs)

    def validate(m) -> float:
        return evaluate(engine, val, lm_expansions(m, tok, [q.text for q in val]))[0]

    log("phase 3a: PPO (written here)")
    ppo_model = copy.deepcopy(model)
    r3 = ppo_train(
        ppo_model,
        tok,
        rl_pool,
        reward,
        PPOConfig(iterations=6 if quick else PPOConfig.iterations, seed=args.seed),
        every("ppo", 2 if quick else 5),
        work / "ppo",
        weights=DEFAULT_WEIGHTS,
        validate=validate,
    )
    log(f"  reward {r3.metrics['reward_first']:.3f} -> {r3.metrics['reward_last']:.3f}")

    log("phase 3b: GRPO (TRL GRPOTrainer, same reward components)")
    grpo_model = copy.deepcopy(model)
    r4 = grpo_train(
        grpo_model,
        tok,
        rl_pool,
        reward.components,
        DEFAULT_WEIGHTS,
        GRPOConfig(steps=6 if quick else 40, seed=args.seed),
        every("grpo", 2 if quick else 5),
        work / "grpo",
    )
    log(f"  reward {r4.metrics['reward_first']:.3f} -> {r4.metrics['reward_last']:.3f}")

    log("evaluating on held-out long-tail queries")
    texts = [q.text for q in qs.heldout]
    synonyms = SynonymExpander.from_pairs(pairs)
    systems = {
        "none": [[] for _ in texts],
        "synonyms": [synonyms.expand(t) for t in texts],
        "sft": lm_expansions(model, tok, texts),
        "ppo": lm_expansions(ppo_model, tok, texts),
        "grpo": lm_expansions(grpo_model.to(device()), tok, texts),
    }
    scores = {name: evaluate(engine, qs.heldout, exps) for name, exps in systems.items()}

    # Latency: one query at a time, greedy, the way a search box would call it.
    cpu_model = copy.deepcopy(ppo_model).to("cpu").eval()
    timings = []
    for t in texts[:100]:
        start = time.perf_counter()
        expand(cpu_model, tok, t)
        timings.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(timings, n=20)[-1]

    log("\nexamples (held-out):")
    for i in range(0, len(texts), max(1, len(texts) // 8)):
        log(f"  {texts[i]!r}: gold [{format_expansion(qs.heldout[i].expansion)}]")
        for name in ("synonyms", "sft", "ppo", "grpo"):
            log(f"      {name:8s} {format_expansion(systems[name][i])}")
    base_r = scores["none"][0]
    log(f"\n{'system':10s} {'recall@10':>10s} {'x none':>7s} {'prec@10':>8s}")
    for name, (r, p) in scores.items():
        log(f"{name:10s} {r:10.3f} {r / max(base_r, 1e-9):7.2f} {p:8.3f}")
    log(
        f"expand p95 {p95:.1f} ms on CPU (1 thread, shared machine: noisy); "
        f"total {time.perf_counter() - t0:.0f} s wall, {time.process_time():.0f} s CPU"
    )
    print(
        json.dumps(
            {
                "recall10": {k: round(v[0], 4) for k, v in scores.items()},
                "precision10": {k: round(v[1], 4) for k, v in scores.items()},
                "expand_p95_ms": round(p95, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
