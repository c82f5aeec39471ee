"""Benchmark: FFT + RDP depth pruning of the tiny generator vs two baselines.

Run: .venv/bin/python bench/pruning.py [--quick]
All three methods remove the same number of blocks and get the same distillation recovery
budget; quality_ratio = held-out denoising loss (pruned + recovered) / unpruned. Training
throughput is timed in interleaved rounds (unpruned, pruned, unpruned, ...) so load from
other processes on a shared machine hits both about equally.
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

import copy

import numpy as np
import torch

from workers.imagegen.ml import AdImageGenerator, tiny_config
from workers.imagegen.ml.pruning import (
    analyze,
    block_influence,
    lowest_influence_removal,
    prune_model,
    recover,
    uniform_removal,
)
from workers.imagegen.ml.train import (
    GenData,
    TrainConfig,
    heldout_loss,
    step_times,
    train_generator,
)
from workers.imagegen.ml.world_data import world_ads, world_training_data


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def split(data: GenData, every: int = 5) -> tuple[GenData, GenData]:
    idx = torch.arange(len(data))
    held, train = idx[idx % every == 0], idx[idx % every != 0]
    pick = lambda i: GenData(data.target[i], data.known[i], data.mask[i], data.text[i])  # noqa: E731
    return pick(train), pick(held)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--remove", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    q = args.quick
    n_world, pre_steps, rec_steps, rounds = (150, 20, 5, 2) if q else (700, 300, 60, 4)
    t0 = time.perf_counter()

    log(f"composing {n_world} world ads; usable ones are the training set")
    cfg = tiny_config(num_layers=args.layers)
    train, held = split(world_training_data(world_ads(n_world, seed=21), cfg.resolution))
    log(f"  {len(train)} train / {len(held)} held-out ads")

    log(f"pre-training the unpruned {args.layers}-block model ({pre_steps} steps)")
    torch.manual_seed(0)
    base = AdImageGenerator(cfg)
    train_generator(base, train, TrainConfig(steps=pre_steps, batch_size=16, lr=1e-3))
    base_loss = heldout_loss(base, held)
    log(f"  held-out loss {base_loss:.4f}")

    log("block influence over depth (5 timesteps x 32 samples)")
    bi = block_influence(base, train, n_samples=32)
    plan = analyze(bi, eps=None, n_remove=args.remove)
    removals = {
        "fft_rdp": plan.remove,
        "uniform": uniform_removal(args.layers, args.remove),
        "block_influence": lowest_influence_removal(bi, args.remove),
    }
    rec_cfg = TrainConfig(steps=rec_steps, batch_size=16, lr=5e-4, seed=1, warmup=5)
    results = {}
    pruned_models = {}
    for name, remove in removals.items():
        log(f"{name}: removing blocks {remove}, recovering {rec_steps} steps by distillation")
        pruned = prune_model(base, remove)
        recover(pruned, base, train, rec_cfg)
        results[name] = heldout_loss(pruned, held) / base_loss
        pruned_models[name] = pruned
        log(f"  quality ratio {results[name]:.4f}")

    # Reference: the unpruned model given the same extra steps (is recovery just more training?)
    cont = copy.deepcopy(base)
    train_generator(cont, train, rec_cfg)
    cont_ratio = heldout_loss(cont, held) / base_loss

    log(f"timing training steps, {rounds} interleaved rounds")
    before: list[float] = []
    after: list[float] = []
    for r in range(rounds):
        before += step_times(base, train, 5, seed=100 + r)
        after += step_times(pruned_models["fft_rdp"], train, 5, seed=100 + r)
    ratio = float(np.median(before) / np.median(after))
    total = time.perf_counter() - t0

    print()
    print("block influence:", " ".join(f"{v:.3f}" for v in plan.influence))
    print("FFT-smoothed:   ", " ".join(f"{v:.3f}" for v in plan.smoothed))
    print(f"RDP eps {plan.eps:.3f}, critical points {plan.critical}")
    print()
    print(f"{'method':18}{'removed':>22}{'quality ratio':>15}")
    for name, remove in removals.items():
        print(f"{name:18}{remove!s:>22}{results[name]:15.4f}")
    print(f"{'unpruned +steps':18}{'[]':>22}{cont_ratio:15.4f}")
    print(
        f"train steps/s: before {1 / np.median(before):.2f}, after {1 / np.median(after):.2f}, "
        f"ratio {ratio:.2f} (shared CPU, noisy); total {total:.0f} s"
    )
    print(
        json.dumps(
            {
                "blocks_before": args.layers,
                "blocks_after": args.layers - len(plan.remove),
                "train_throughput_ratio": round(ratio, 3),
                "quality_ratio": round(results["fft_rdp"], 4),
                "uniform": {"quality_ratio": round(results["uniform"], 4)},
                "block_influence": {"quality_ratio": round(results["block_influence"], 4)},
                "unpruned_continued_quality_ratio": round(cont_ratio, 4),
                "removed": plan.remove,
                "eps": plan.eps,
                "seconds": round(total, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
