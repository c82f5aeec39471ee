"""Agent evaluation benchmark: scorers vs planted ground truth, and DPO vs RM + GRPO.

Run: .venv/bin/python bench/agent_eval.py [--quick]
Prints progress, a table, and as the last line one JSON object. Every figure is measured on
held-out tasks, against the world's oracle (not the learned scorers that make the pairs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from workers.agents.ml import policy as pol
from workers.agents.ml import train_policy as tp
from workers.agents.ml.evaluate import evaluate_policy
from workers.agents.ml.judge.scoring import pass_k_over_tasks, score_trace
from workers.agents.ml.judge.step_judge import StepJudge, judge_examples
from workers.agents.ml.scripted import run_scripted, scripted_traces
from workers.agents.ml.world import (
    World,
    goal_reached,
    load_catalog,
    make_tasks,
    split_tasks,
)

T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def scorer_metrics(world: World, train_tasks, test_tasks) -> tuple[StepJudge, dict]:
    train = scripted_traces(world, train_tasks, flawed_share=0.6, seed=1)
    test = scripted_traces(world, test_tasks, flawed_share=0.6, seed=2)
    judge = StepJudge().fit(train)
    refs, y = judge_examples(test)
    auc = float(roc_auc_score(y, judge.predict_proba(refs)))
    attr, first = [], []
    for tr in test:
        pred, truth = score_trace(tr, judge), score_trace(tr, judge, labels=tr.labels)
        if truth.e2e == 0.0:
            attr.append(pred.attribution == truth.attribution)
        if truth.first_wrong is not None:
            first.append(pred.first_wrong == truth.first_wrong)
    # pass^k of the careful scripted agent under flaky tools: reliability, not one-off luck.
    runs = {
        t.task_id: [
            goal_reached(t, run_scripted(world, t, seed=100 + r, fail_prob=0.2).state)
            for r in range(4)
        ]
        for t in test_tasks
    }
    return judge, {
        "step_judge_auc": auc,
        "attribution_accuracy": float(np.mean(attr)),
        "first_error_exact": float(np.mean(first)),
        "n_test_traces": len(test),
        "n_failed": len(attr),
        "scripted_pass^1": pass_k_over_tasks(runs, 1),
        "scripted_pass^4": pass_k_over_tasks(runs, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    n_tasks, sft_steps, dpo_steps, rm_steps, grpo_steps, n_runs = (
        (160, 120, 15, 20, 10, 2) if a.quick else (480, 400, 60, 60, 80, 3)
    )
    world = World(load_catalog())
    train_tasks, test_tasks = split_tasks(make_tasks(world, n_tasks, seed=a.seed + 1), 0.25)
    n_train, n_test = len(train_tasks), len(test_tasks)
    log(f"world: {len(world.catalog)} products, {n_train} train / {n_test} held-out tasks")

    judge, sm = scorer_metrics(world, train_tasks, test_tasks)
    log(f"scorers: {sm}")

    sft_traces = scripted_traces(world, train_tasks, flawed_share=0.4, seed=3)
    examples = pol.sft_examples(sft_traces)
    tok = pol.build_tokenizer(pol.catalog_texts(world) + [p + c for p, c in examples])
    base = pol.build_policy(tok, pol.PolicyConfig(n_layer=2, seed=a.seed))
    losses = pol.train_sft(
        base,
        tok,
        examples,
        pol.SFTConfig(steps=sft_steps, seed=a.seed),
        progress=lambda f, m: log(f"sft {f:.0%} {m}"),
    )
    log(f"sft loss {losses[0]:.2f} -> {np.mean(losses[-20:]):.2f}")
    work = Path(tempfile.mkdtemp(prefix="agent_eval_"))
    base.save_pretrained(work / "base")
    tok.save_pretrained(work / "base")

    pairs = tp.preference_pairs(world, train_tasks, judge, per_task=2, seed=a.seed + 7)
    log(f"{len(pairs)} preference pairs")
    prog = lambda f, m: log(f"{f:.0%} {m}") if m else None  # noqa: E731

    from transformers import GPT2LMHeadModel

    dpo_model, dpo_losses = tp.train_dpo(
        GPT2LMHeadModel.from_pretrained(work / "base"),
        tok,
        pairs,
        tp.DPOStageConfig(steps=dpo_steps, seed=a.seed),
        work / "dpo",
        prog,
    )
    rm, rm_losses = tp.train_reward_model(
        work / "base",
        tok,
        pairs,
        tp.RewardStageConfig(steps=rm_steps, seed=a.seed),
        work / "rm",
        prog,
    )
    grpo_prompts = [p["prompt"] for p in pairs]
    explicit, grpo_rewards = tp.train_grpo(
        GPT2LMHeadModel.from_pretrained(work / "base"),
        tok,
        grpo_prompts,
        tp.reward_function(rm, tok),
        tp.GRPOStageConfig(steps=grpo_steps, seed=a.seed),
        work / "grpo",
        prog,
    )
    results = {}
    for name, model in (("base", base), ("dpo", dpo_model), ("explicit", explicit)):
        results[name] = evaluate_policy(model, tok, world, test_tasks, n_runs=n_runs)
        log(f"eval {name}: {results[name]}")

    print()
    print(f"{'metric':<28}{'value':>10}{'goal':>10}")
    for key, goal in (
        ("attribution_accuracy", ">=0.90"),
        ("step_judge_auc", ">=0.85"),
        ("first_error_exact", ""),
        ("scripted_pass^1", ""),
        ("scripted_pass^4", ""),
    ):
        print(f"{key:<28}{sm[key]:>10.3f}{goal:>10}")
    print()
    print(f"{'policy':<10}{'e2e':>8}{'local':>8}{'pass^1':>8}{f'pass^{n_runs}':>8}")
    for name, r in results.items():
        print(
            f"{name:<10}{r['e2e']:>8.3f}{r['local']:>8.3f}{r['pass^1']:>8.3f}"
            f"{r[f'pass^{n_runs}']:>8.3f}"
        )
    print(
        f"dpo loss {dpo_losses[0]:.3f}->{np.mean(dpo_losses[-5:]):.3f}; rm loss "
        f"{rm_losses[0]:.3f}->{np.mean(rm_losses[-5:]):.3f}; grpo reward "
        f"{grpo_rewards[0]:.3f}->{np.mean(grpo_rewards[-5:]):.3f}; {time.time() - T0:.0f}s"
    )
    summary = {
        "attribution_accuracy": round(sm["attribution_accuracy"], 4),
        "step_judge_auc": round(sm["step_judge_auc"], 4),
        "first_error_exact": round(sm["first_error_exact"], 4),
        **{
            k: {m: round(results[k][m], 4) for m in ("e2e", "local")}
            for k in ("dpo", "explicit", "base")
        },
    }
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
