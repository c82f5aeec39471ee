"""Benchmark: RL refinement (DRaFT-K) of the tiny ad-image generator against a learned reward,
measured by the world's oracle on held-out products and seeds.

Run: .venv/bin/python bench/image_rl.py [--quick]
The reward is a small per-aspect CNN trained here on simulated reviewers' labels of world
ads (workers/imagegen/ml/reward.py), not the rewards/ml ensemble, which scores stored
files and has no trained artifacts at bench time. The oracle judges pixels; it is never the
reward.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from workers.imagegen.ml import AdImageGenerator, tiny_config
from workers.imagegen.ml.reward import ASPECTS, reward_fn_from, train_reward
from workers.imagegen.ml.rl import RLConfig, rl_run
from workers.imagegen.ml.train import TrainConfig, train_generator
from workers.imagegen.ml.world_data import (
    ads_to_tensors,
    oracle_judge,
    world_ads,
    world_products_and_cutouts,
    world_training_data,
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--sheet", help="write a PNG of held-out ads after RL here")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    q = args.quick
    n_world, pre_steps, reward_steps = (200, 20, 40) if q else (1200, 250, 400)
    rl_cfg = RLConfig(
        steps=4 if q else 40,
        batch_size=4 if q else 8,
        lr=5e-4,
        grad_last_k=2,
        sample_steps=10,
        consistency_weight=1.0,
        seed=0,
    )
    t_start = time.perf_counter()

    log(f"composing {n_world} world ads")
    ads = world_ads(n_world, seed=11)
    from labeling.world.reviewers import reviewer_pool

    reviewers = reviewer_pool(8, seed=5)
    labels = [reviewers[i % 8].label(a.truth, item_key=str(i)) for i, (_, a) in enumerate(ads)]
    ok = torch.tensor([[lab[a] == "ok" for a in ASPECTS] for lab in labels], dtype=torch.float32)

    log(f"pre-training the generator ({pre_steps} steps) on the usable ads")
    cfg = tiny_config(num_layers=args.layers, sample_steps=10)
    torch.manual_seed(0)
    model = AdImageGenerator(cfg)
    data = world_training_data(ads, cfg.resolution)
    pre = train_generator(model, data, TrainConfig(steps=pre_steps, batch_size=16, lr=1e-3))
    log(f"  loss {np.mean(pre.losses[:10]):.3f} -> {np.mean(pre.losses[-10:]):.3f}")

    log(f"training the reward on {len(ads)} reviewer-labelled ads ({reward_steps} steps)")
    images, _ = ads_to_tensors(ads)
    reward_fn = reward_fn_from(train_reward(images, ok, steps=reward_steps))
    del images

    products, titles, cutouts = world_products_and_cutouts()
    held_idx = [i for i in range(len(products)) if i % 3 == 0]
    train_idx = [i for i in range(len(products)) if i % 3 != 0]
    seeds_per = 1 if q else 3
    h_titles = [titles[i] for i in held_idx for _ in range(seeds_per)]
    h_cutouts = [cutouts[i] for i in held_idx for _ in range(seeds_per)]
    h_seeds = [10_000 + k for k in range(len(h_titles))]
    log(
        f"RL: {rl_cfg.steps} steps, K={rl_cfg.grad_last_k}; held-out {len(h_titles)} ads "
        f"({len(held_idx)} products x {seeds_per} seeds)"
    )
    verdicts: list[dict] = []
    report = rl_run(
        model,
        reward_fn,
        ([titles[i] for i in train_idx], [cutouts[i] for i in train_idx]),
        (h_titles, h_cutouts, h_seeds),
        rl_cfg,
        judge=oracle_judge(verdicts),
        progress=lambda f, r: log(f"  rl {f:4.0%} reward {r:.3f}"),
    )
    total = time.perf_counter() - t_start
    n_h = len(h_titles)
    defects = {
        when: {a: sum(v[a] == "defect" for v in vs) for a in ASPECTS}
        for when, vs in (("before", verdicts[:n_h]), ("after", verdicts[-n_h:]))
    }
    if args.sheet:
        from PIL import Image

        from workers.imagegen.ml import generate_ads

        shown = generate_ads(model, h_titles[:24], h_cutouts[:24], h_seeds[:24])
        sheet = Image.new("RGB", (128 * 8, 128 * 3))
        for i, ad in enumerate(shown):
            sheet.paste(ad.image.resize((128, 128)), (128 * (i % 8), 128 * (i // 8)))
        sheet.save(args.sheet)

    print()
    print(f"{'':24}{'before':>10}{'after':>10}")
    rb, ra = report["reward_before"], report["reward_after"]
    print(f"{'reward (mean P usable)':24}{rb:10.3f}{ra:10.3f}")
    print(f"{'oracle usable rate':24}{report['usable_before']:10.3f}{report['usable_after']:10.3f}")
    for a in ASPECTS:
        b, f = defects["before"][a], defects["after"][a]
        print(f"{'  ' + a + ' defects':24}{b:10d}{f:10d}")
    print(
        f"reward_hacking: {report['reward_hacking']}   rl seconds: {report['seconds']:.0f}   "
        f"total seconds: {total:.0f}"
    )
    print(
        json.dumps(
            {
                "usable_before": report["usable_before"],
                "usable_after": report["usable_after"],
                "reward_before": report["reward_before"],
                "reward_after": report["reward_after"],
                "steps": report["steps"],
                "seconds": round(report["seconds"], 1),
                "reward_hacking": report["reward_hacking"],
                "defects": defects,
                "total_seconds": round(total, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
