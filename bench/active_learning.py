"""Active-learning benchmark: labels needed to reach a held-out AUC, random vs uncertainty order.

A seeded pool of world ad images waits to be labeled; a fixed held-out set is judged against
ground truth. "Labeling" an item reveals one simulated reviewer's answer (12 reviewers, error
rates 3-15%, one per item, fixed per item so both strategies see the same answer for it). Both
strategies start from the same random seed set; each round adds a batch of labels and retrains
the three aspect models from scratch with one config:

- random: the next batch is drawn at random from the unlabeled pool;
- uncertainty: the current models score the unlabeled pool and the batch is the items with the
  smallest min-over-aspects |P(ok) - 0.5| (the labeling queue's `_prioritise_uncertain`
  order), with a small random share mixed in (see `select_uncertain` for why).

After each round the mean held-out AUC over aspects is measured against ground truth. The
target AUC is a share of the way from chance to the best random AUC (see `target_auc`), so
random reaches it by construction; labels_to_target says how many labels each strategy needed.
Last line: one JSON object.

    .venv/bin/python bench/active_learning.py [--quick] [--pool 2400] [--budget 1600]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rewards.ml.aspects import AD_ASPECTS as ASPECTS  # noqa: E402
from rewards.ml.aspects import AspectRegistry, AspectSpec, default_registry  # noqa: E402
from rewards.ml.images import image_to_array, reference_to_array  # noqa: E402
from rewards.ml.metrics import auc  # noqa: E402
from rewards.ml.model import AspectNet  # noqa: E402
from rewards.ml.train import TrainConfig, predict, train_aspect  # noqa: E402

STRATEGIES = ("random", "uncertainty")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- world -------------------------------------------------------------------------------


@dataclass
class World:
    """Decoded once: uint8 images at the aspects' input size, a reference bank (one row per
    product) with each image's row, ground truth (1 = aspect ok) and one reviewer's labels."""

    images: torch.Tensor  # [N, 3, S, S] uint8
    ref_bank: torch.Tensor  # [U, 4, R, R] uint8
    ref_index: torch.Tensor  # [N] long
    truth_ok: np.ndarray  # [N, 3] int, ground truth per aspect
    label_ok: np.ndarray  # [N, 3] int, the assigned reviewer's answer per aspect

    def refs(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ref_bank, self.ref_index[torch.as_tensor(idx)]


def _gen_chunk(args: tuple[int, int, int, int, int, int]) -> dict:
    start, n, chunk_seed, size, ref_size, label_seed = args
    from labeling.world.composer import generate_world
    from labeling.world.products import load_cutout
    from labeling.world.reviewers import reviewer_pool

    torch.set_num_threads(1)
    reviewers = reviewer_pool(12, label_seed)
    rng = np.random.default_rng([label_seed, start])
    imgs, skus, truth, labels, refs = [], [], [], [], {}
    for i, (product, ad) in enumerate(generate_world(n, chunk_seed)):
        imgs.append(image_to_array(ad.image, size))
        skus.append(product.sku)
        if product.sku not in refs:
            refs[product.sku] = reference_to_array(load_cutout(product), ref_size, "rgba")
        truth.append([int(ad.truth[a]["defect"] is None) for a in ASPECTS])
        # One reviewer per item, as a queue with overlap 1 would give.
        rev = reviewers[int(rng.integers(len(reviewers)))]
        lab = rev.label(ad.truth, item_key=f"al-{start + i}")
        labels.append([int(lab[a] == "ok") for a in ASPECTS])
    return {"imgs": np.stack(imgs), "skus": skus, "truth": truth, "labels": labels, "refs": refs}


def build_world(
    n: int, seed: int, size: int, ref_size: int, workers: int = 2, cache: Path | None = None
) -> World:
    """n ads composed and decoded straight to arrays (no PNG round trip), in `workers`
    processes; each chunk is seeded from (seed, start) so the world does not depend on
    how it was split. With `cache`, the arrays are kept in one .npz file for the next run."""
    path = cache / f"world-n{n}-s{seed}-{size}-{ref_size}.npz" if cache else None
    if path is not None and path.exists():
        log(f"world: reusing {path}")
        with np.load(path) as z:
            fields = {k: z[k] for k in z.files}
        for k in ("images", "ref_bank", "ref_index"):
            fields[k] = torch.from_numpy(fields[k])
        return World(**fields)
    chunk = 200
    jobs = [
        (s, min(chunk, n - s), seed * 100_000 + s, size, ref_size, seed) for s in range(0, n, chunk)
    ]
    parts: list[dict] = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_gen_chunk, jobs):
            parts.append(part)
            done = sum(len(p["skus"]) for p in parts)
            log(f"world: {done}/{n} images ({time.perf_counter() - t0:.0f} s)")
    bank: dict[str, np.ndarray] = {}
    for p in parts:
        for sku, arr in p["refs"].items():
            bank.setdefault(sku, arr)
    row = {sku: i for i, sku in enumerate(bank)}
    world = World(
        images=torch.from_numpy(np.concatenate([p["imgs"] for p in parts])),
        ref_bank=torch.from_numpy(np.stack(list(bank.values()))),
        ref_index=torch.tensor([row[s] for p in parts for s in p["skus"]]),
        truth_ok=np.array([t for p in parts for t in p["truth"]], dtype=int),
        label_ok=np.array([t for p in parts for t in p["labels"]], dtype=int),
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{k: np.asarray(v) for k, v in world.__dict__.items()})
        tmp.replace(path)
    return world


# --- one round: train, evaluate, score ----------------------------------------------------


@dataclass
class RunConfig:
    seed_labels: int = 200
    batch: int = 200
    budget: int = 1600
    random_share: float = 0.2
    min_steps: int = 100
    seed: int = 0


@dataclass
class Setup:
    """What both strategies share: the world, its split, the models and how they train."""

    world: World
    pool: np.ndarray
    heldout: np.ndarray
    registry: AspectRegistry
    train: TrainConfig
    run: RunConfig


def train_models(setup: Setup, labeled: np.ndarray) -> dict[str, AspectNet]:
    """Retrain every aspect model from scratch on the labeled items. Epochs are raised so
    that each training takes at least `min_steps` optimiser steps: with 200 labels a few
    epochs are a dozen steps, and both strategies would be measured on undertrained models.
    The training seed depends only on the label count, so at equal counts both strategies
    start from the same initialisation and differ only in what was labeled."""
    world, config, run = setup.world, setup.train, setup.run
    steps_per_epoch = max(1, -(-len(labeled) // config.batch_size))
    epochs = max(config.epochs, -(-run.min_steps // steps_per_epoch))
    cfg = TrainConfig(**{**config.__dict__, "epochs": epochs})
    seed = run.seed + len(labeled)
    idx = torch.as_tensor(labeled)
    images = world.images[idx]
    refs = world.refs(labeled)
    models = {}
    for spec in setup.registry.models():
        y = world.label_ok[labeled, ASPECTS.index(spec.name)].astype(float)
        res = train_aspect(
            spec, images, refs if spec.uses_reference else None, y, None, cfg, seed=seed
        )
        models[spec.name] = res.model
    return models


def score(models: dict[str, AspectNet], world: World, idx: np.ndarray) -> np.ndarray:
    """P(ok) per item and aspect, [len(idx), aspects]."""
    images = world.images[torch.as_tensor(idx)]
    refs = world.refs(idx)
    cols = []
    for name in ASPECTS:
        model = models[name]
        cols.append(predict(model, images, refs if model.config.ref_mode != "none" else None))
    return np.stack(cols, axis=1)


def heldout_auc(models: dict[str, AspectNet], setup: Setup) -> dict[str, float]:
    """AUC per aspect against ground truth on the held-out set, and their mean."""
    p = score(models, setup.world, setup.heldout)
    truth = setup.world.truth_ok[setup.heldout]
    out = {a: auc(p[:, k], truth[:, k]) for k, a in enumerate(ASPECTS)}
    out["mean"] = float(np.mean([out[a] for a in ASPECTS]))
    return out


# --- selection ----------------------------------------------------------------------------


def uncertainty_priority(p_ok: np.ndarray) -> np.ndarray:
    """min over aspects of |P(ok) - 0.5|: small = the models are unsure about some aspect.
    The same priority the labeling queue uses (`rewards/scoring.py::_prioritise_uncertain`)."""
    return np.abs(np.asarray(p_ok) - 0.5).min(axis=1)


def select_uncertain(
    candidates: np.ndarray,
    priority: np.ndarray,
    k: int,
    rng: np.random.Generator,
    random_share: float,
) -> np.ndarray:
    """The k most uncertain candidates, except a `random_share` of the batch drawn at random
    from the rest. Why the random slice: top-k alone takes near-duplicates (the same product
    on the same borderline layout) and over-weights faint defects, which are exactly the ones
    reviewers miss most; a few random items keep the labeled set anchored to the pool's
    distribution, which the model is judged on. Ties are broken at random."""
    k = min(k, len(candidates))
    n_random = round(k * random_share)
    order = np.lexsort((rng.random(len(candidates)), priority))
    top = candidates[order[: k - n_random]]
    rest = candidates[order[k - n_random :]]
    extra = rng.choice(rest, size=min(n_random, len(rest)), replace=False)
    return np.concatenate([top, extra]).astype(int)


# --- the loop -----------------------------------------------------------------------------


def run_strategy(
    strategy: str,
    setup: Setup,
    seed_set: np.ndarray,
    seed_models: dict[str, AspectNet],
    seed_auc: dict[str, float],
) -> list[tuple[int, dict[str, float]]]:
    """Rounds from the shared seed set up to the budget; returns [(labels, AUCs), ...]."""
    world, run = setup.world, setup.run
    rng = np.random.default_rng([run.seed, STRATEGIES.index(strategy)])
    labeled = seed_set.copy()
    models = seed_models
    curve = [(len(labeled), seed_auc)]
    while len(labeled) < min(run.budget, len(setup.pool)):
        t0 = time.perf_counter()
        unlabeled = np.setdiff1d(setup.pool, labeled)
        k = min(run.batch, run.budget - len(labeled), len(unlabeled))
        if strategy == "random":
            batch = rng.choice(unlabeled, size=k, replace=False)
        else:
            prio = uncertainty_priority(score(models, world, unlabeled))
            batch = select_uncertain(unlabeled, prio, k, rng, run.random_share)
        labeled = np.concatenate([labeled, batch])
        models = train_models(setup, labeled)
        res = heldout_auc(models, setup)
        curve.append((len(labeled), res))
        share_defect = 1 - world.truth_ok[batch].min(axis=1).mean()
        log(
            f"{strategy:<11} {len(labeled):>5} labels: mean AUC {res['mean']:.3f} "
            f"(" + ", ".join(f"{a} {res[a]:.3f}" for a in ASPECTS) + f"); batch had "
            f"{share_defect:.0%} truly defective items ({time.perf_counter() - t0:.0f} s)"
        )
    return curve


def target_auc(random_curve: list[tuple[int, float]], share: float) -> float:
    """`share` of the way from chance (0.5) to the best AUC random labeling reached. The
    last few hundredths of a learning curve are within training noise, so a target at the
    very top would measure luck; 0.9 of the gain above chance is reached by random by
    construction and still sits on the slow, expensive part of its curve."""
    best = max(a for _, a in random_curve)
    return 0.5 + share * (best - 0.5)


def labels_to(curve: list[tuple[int, float]], target: float) -> int | None:
    """First measured label count whose AUC reaches the target (None: never)."""
    return next((n for n, a in curve if a >= target), None)


def labels_to_interpolated(curve: list[tuple[int, float]], target: float) -> float | None:
    """Label count where the curve first crosses the target, linear between rounds: a finer
    reading than `labels_to` when rounds are coarse (None: never; the first count if the
    seed set already reaches it)."""
    prev = None
    for n, a in curve:
        if a >= target:
            if prev is None:
                return float(n)
            (n0, a0) = prev
            return n0 + (n - n0) * (target - a0) / (a - a0)
        prev = (n, a)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~1 minute smoke run")
    ap.add_argument("--pool", type=int, default=2400)
    ap.add_argument("--heldout", type=int, default=600)
    ap.add_argument("--seed-labels", type=int, default=200)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--budget", type=int, default=1600)
    ap.add_argument("--random-share", type=float, default=0.2, help="of uncertainty batches")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--min-steps", type=int, default=100)
    ap.add_argument("--target-share", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (CPU is shared)")
    ap.add_argument(
        "--cache-dir",
        default=str(ROOT / "var" / "bench_active_learning"),
        help="keep the decoded world here for the next run ('' = no cache)",
    )
    args = ap.parse_args()
    if args.quick:
        args.pool, args.heldout, args.seed_labels = 500, 250, 100
        args.batch, args.budget, args.epochs, args.min_steps = 100, 300, 3, 15
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()

    registry = default_registry()
    # This benchmark compares label orderings, not architectures, and decodes every ad once
    # at one size: shape is judged here from the whole ad with the reference beside it (the
    # app's shape model first aligns the ad with the reference, see rewards.ml.align).
    registry.register(AspectSpec("shape", reference="rgba", ref_mode="stem"), replace=True)
    spec0 = registry.get("shape")
    world = build_world(
        args.pool + args.heldout,
        args.seed,
        spec0.input_size,
        spec0.ref_size,
        cache=Path(args.cache_dir) if args.cache_dir else None,
    )
    n = len(world.truth_ok)
    order = np.random.default_rng(args.seed).permutation(n)
    pool, heldout = np.sort(order[: args.pool]), np.sort(order[args.pool :])
    label_err = (world.label_ok[pool] != world.truth_ok[pool]).mean()
    log(
        f"pool {len(pool)}, held-out {len(heldout)}; defect rate per aspect "
        + ", ".join(f"{a} {1 - world.truth_ok[:, k].mean():.2f}" for k, a in enumerate(ASPECTS))
        + f"; reviewer label error {label_err:.3f} per aspect label"
    )

    run = RunConfig(
        args.seed_labels, args.batch, args.budget, args.random_share, args.min_steps, args.seed
    )
    # One training config for both strategies and every round.
    train_cfg = TrainConfig(epochs=args.epochs, batch_size=64, lr=3e-3)
    setup = Setup(world, pool, heldout, registry, train_cfg, run)
    seed_set = np.random.default_rng([args.seed, 99]).choice(pool, args.seed_labels, False)
    seed_models = train_models(setup, seed_set)
    seed_auc = heldout_auc(seed_models, setup)
    log(f"seed set {len(seed_set)} labels: mean AUC {seed_auc['mean']:.3f}")
    curves = {s: run_strategy(s, setup, seed_set, seed_models, seed_auc) for s in STRATEGIES}
    report(curves, args, time.perf_counter() - t_start)


def _ratio(need: dict) -> float | None:
    """uncertainty / random labels; None when either never reached the target."""
    u, r = need["uncertainty"], need["random"]
    return u / r if u is not None and r else None


def report(curves: dict, args: argparse.Namespace, seconds: float) -> None:
    # Rounded before anything is read off them, so the JSON agrees with itself exactly.
    mean = {s: [(n, round(r["mean"], 4)) for n, r in c] for s, c in curves.items()}
    target = round(target_auc(mean["random"], args.target_share), 4)
    print()
    print(
        f"pool {args.pool}, held-out {args.heldout} (AUC against ground truth, mean of "
        f"{len(ASPECTS)} aspects), +{args.batch} labels per round, uncertainty batches "
        f"{args.random_share:.0%} random"
    )
    head = f"{'labels':>7}" + "".join(f"{s:>13}" for s in STRATEGIES) + f"{'diff':>9}"
    head += "   per aspect (random | uncertainty)"
    print(head)
    print("-" * len(head))
    for (n, r_rand), (_, r_unc) in zip(curves["random"], curves["uncertainty"]):
        per = " ".join(f"{r_rand[a]:.3f}" for a in ASPECTS)
        per += " | " + " ".join(f"{r_unc[a]:.3f}" for a in ASPECTS)
        print(
            f"{n:>7}{r_rand['mean']:>13.3f}{r_unc['mean']:>13.3f}"
            f"{r_unc['mean'] - r_rand['mean']:>+9.3f}   {per}"
        )
    need = {s: labels_to(mean[s], target) for s in STRATEGIES}
    interp = {s: labels_to_interpolated(mean[s], target) for s in STRATEGIES}
    ratio, interp_ratio = _ratio(need), _ratio(interp)
    print(
        f"target AUC {target:.3f} ({args.target_share:g} of the way from 0.5 to random's best "
        f"{max(a for _, a in mean['random']):.3f}): random needs {need['random']}, "
        f"uncertainty {need['uncertainty']} labels"
        + (f" (ratio {ratio:.2f})" if ratio is not None else "")
    )
    print(
        "interpolated between rounds: "
        + ", ".join(f"{s} {v:.0f}" if v is not None else f"{s} never" for s, v in interp.items())
        + (f" (ratio {interp_ratio:.2f})" if interp_ratio is not None else "")
    )
    print(
        f"labels_to_target: the first round (every {args.batch} labels) that reaches it; "
        f"one seed; "
        f"{seconds:.0f} s wall on a CPU shared with other jobs"
    )
    print(
        json.dumps(
            {
                "target_auc": target,
                "labels_to_target": need,
                "label_ratio": None if ratio is None else round(ratio, 3),
                "curves": {s: [[n, a] for n, a in mean[s]] for s in STRATEGIES},
                "labels_to_target_interpolated": {
                    s: None if v is None else round(v) for s, v in interp.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
