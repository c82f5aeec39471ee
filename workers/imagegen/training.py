"""The generator's long jobs: denoising training, RL refinement from the live reward
ensemble, and FFT + RDP depth pruning. Each one saves a new generator version.

The ML is in ``workers.imagegen.ml`` (plain PyTorch); these functions load the
project's data and versions, call it, report progress and register the result.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from jdreview.models import Project
from workers.imagegen.apps import FAMILY as GENERATOR_FAMILY
from workers.imagegen.data import GeneratorDataError, generator_data, heldout_set, rl_products
from workers.imagegen.evaluation import (
    count_parameters,
    live_reward,
    model_load,
    version_save,
)
from workers.models import Job, ModelVersion
from workers.reporter import Reporter
from workers.versions import live_version

# Defaults sized so each job takes a minute or two on two CPU cores (tiny config).
TRAIN_DEFAULTS = {"steps": 200, "layers": 8, "images": 400, "seed": 0}
RL_DEFAULTS = {"steps": 16, "batch": 4, "seed": 0}
PRUNE_DEFAULTS = {"eps": 0.1, "recovery_steps": 60, "images": 300, "seed": 0}


def generator_train(
    *,
    project: Project,
    steps: int = TRAIN_DEFAULTS["steps"],
    layers: int = TRAIN_DEFAULTS["layers"],
    images: int = TRAIN_DEFAULTS["images"],
    seed: int = TRAIN_DEFAULTS["seed"],
    job: Job | None = None,
    user: User | None = None,
    reporter: Reporter,
) -> ModelVersion:
    """Train a tiny generator on the project's usable world ads; the first one goes live."""
    import torch

    from workers.imagegen.ml.config import tiny_config
    from workers.imagegen.ml.model import AdImageGenerator
    from workers.imagegen.ml.train import TrainConfig, heldout_loss, train_generator
    from workers.ml.runtime import device

    cfg = tiny_config(num_layers=layers)
    reporter.progress(0.01, log=f"loading up to {images} usable training ads")
    train, held, source = generator_data(
        project, images=images, seed=seed, resolution=cfg.resolution
    )
    reporter.progress(
        0.08, log=f"training data: {source} ({len(train)} train / {len(held)} held-out)"
    )
    torch.manual_seed(seed)
    model = AdImageGenerator(cfg).to(device())
    loss_before = heldout_loss(model, held)
    result = train_generator(
        model,
        train,
        TrainConfig(steps=steps, batch_size=16, lr=1e-3, seed=seed, warmup=min(20, steps)),
        progress=reporter.stage(
            0.1,
            0.85,
            log_every=max(1, steps // 10),
            log=lambda f, loss: f"loss at step {round(f * steps)}: {loss:.4f}",
        ),
    )
    loss_after = heldout_loss(model, held)
    reporter.progress(0.88, log="judging the held-out ads with the oracle; saving")
    loaded = live_reward(project)
    metrics = {
        "kind": "train",
        "data": source,
        "steps": steps,
        "train_seconds": round(result.seconds, 1),
        "heldout_loss_before": loss_before,
        "heldout_loss": loss_after,
        "loss_curve": _thin(result.losses),
        "reward_models": loaded[1] if loaded else None,
    }
    return version_save(
        model,
        project=project,
        name="tiny",
        metrics=metrics,
        reward=loaded[0] if loaded else None,
        job=job,
        user=user,
        promote=live_version(project, GENERATOR_FAMILY) is None,
    )


def generator_refine(
    *,
    version: ModelVersion,
    steps: int = RL_DEFAULTS["steps"],
    batch: int = RL_DEFAULTS["batch"],
    seed: int = RL_DEFAULTS["seed"],
    job: Job | None = None,
    user: User | None = None,
    reporter: Reporter,
) -> ModelVersion:
    """DRaFT-K refinement against the project's live reward ensemble (rl.py), judged before
    and after on the held-out set by the oracle; reward up with usable rate not up is
    flagged as reward hacking."""
    from workers.imagegen.ml.rl import RLConfig, rl_run
    from workers.imagegen.ml.world_data import oracle_judge

    project = version.project
    loaded = live_reward(project)
    if loaded is None:
        raise GeneratorDataError(
            "the project has no live reward model for every aspect: train the reward models "
            "first (the ensemble is the RL reward)"
        )
    reward, reward_versions = loaded
    model = model_load(version)
    train_set, held = rl_products(), heldout_set()
    cfg = RLConfig(
        steps=steps,
        batch_size=batch,
        lr=5e-4,
        grad_last_k=2,
        sample_steps=10,
        consistency_weight=1.0,
        seed=seed,
    )
    reporter.progress(
        0.02,
        log=(
            f"RL (DRaFT-K, K={cfg.grad_last_k}) on {len(train_set.titles)} products; "
            f"held-out: {len(held.titles)} ads; evaluating before"
        ),
    )
    report = rl_run(
        model,
        reward,
        (train_set.titles, train_set.cutouts),
        (held.titles, held.cutouts, held.seeds),
        cfg,
        judge=oracle_judge(),
        progress=reporter.stage(
            0.15,
            0.8,
            log_every=max(1, steps // 8),
            log=lambda f, reward: f"reward at RL step {round(f * steps)}: {reward:.4f}",
        ),
    )
    flagged = bool(report.get("reward_hacking"))
    reporter.progress(
        0.85,
        log=(
            f"reward {report['reward_before']:.3f} -> {report['reward_after']:.3f}, oracle usable "
            f"{report['usable_before']:.3f} -> {report['usable_after']:.3f}"
            + ("; FLAGGED: reward rose, usable rate did not" if flagged else "")
        ),
    )
    metrics = {
        "kind": "rl",
        "rl": {
            **{k: report[k] for k in ("reward_before", "reward_after", "steps", "seconds")},
            "usable_before": report["usable_before"],
            "usable_after": report["usable_after"],
            "reward_hacking": flagged,
            "train_rewards": report["train_rewards"],
            "consistency": report["consistency"],
            "batch": batch,
            "grad_last_k": cfg.grad_last_k,
            "consistency_weight": cfg.consistency_weight,
        },
        "reward_hacking": flagged,
        "reward_models": reward_versions,
    }
    return version_save(
        model,
        project=project,
        name="rl",
        metrics=metrics,
        reward=reward,
        parent=version,
        job=job,
        user=user,
    )


def generator_prune(
    *,
    version: ModelVersion,
    eps: float | None = PRUNE_DEFAULTS["eps"],
    remove: int | None = None,
    recovery_steps: int = int(PRUNE_DEFAULTS["recovery_steps"]),
    images: int = int(PRUNE_DEFAULTS["images"]),
    seed: int = 0,
    job: Job | None = None,
    user: User | None = None,
    reporter: Reporter,
) -> ModelVersion:
    """Block Influence -> FFT -> RDP at ``eps`` (or exactly ``remove`` blocks), removal,
    recovery distillation from the unpruned model; throughput and quality before/after."""
    import numpy as np

    from workers.imagegen.ml.pruning import (
        analyze,
        block_influence,
        prune_model,
        recover,
    )
    from workers.imagegen.ml.train import TrainConfig, heldout_loss, step_times

    project = version.project
    base = model_load(version)
    n = base.num_blocks
    if n < 3:
        raise GeneratorDataError(f"v{version.version} has {n} blocks: too few to prune")
    if remove is not None and remove > n - 2:
        raise GeneratorDataError(f"cannot remove {remove} of {n} blocks (the two ends stay)")
    reporter.progress(0.02, log="loading training ads for the influence measurement and recovery")
    train, held, source = generator_data(
        project, images=images, seed=seed, resolution=base.cfg.resolution
    )
    reporter.progress(
        0.12, log=f"data: {source}; measuring Block Influence (5 timesteps x 32 samples)"
    )
    influence = block_influence(base, train, n_samples=32, seed=seed)
    plan = analyze(influence, eps=None if remove is not None else eps, n_remove=remove)
    if not plan.remove:
        raise GeneratorDataError(
            f"at eps={plan.eps:g} RDP keeps every block (the curve has no flat stretch at "
            "that tolerance): choose a larger eps"
        )
    reporter.progress(
        0.2,
        log=f"eps {plan.eps:.3f}: critical blocks {plan.critical}, removing {plan.remove}",
    )
    pruned = prune_model(base, plan.remove)
    if recovery_steps:
        recover(
            pruned,
            base,
            train,
            TrainConfig(steps=recovery_steps, batch_size=16, lr=5e-4, seed=seed + 1, warmup=5),
        )
    reporter.progress(
        0.6, log=f"recovered {recovery_steps} steps by distillation; timing training steps"
    )
    loss_before, loss_after = heldout_loss(base, held), heldout_loss(pruned, held)
    before: list[float] = []
    after: list[float] = []
    for r in range(2):  # interleaved, so load from other processes hits both alike
        before += step_times(base, train, 3, seed=100 + r)
        after += step_times(pruned, train, 3, seed=100 + r)
    throughput_before = 1 / float(np.median(before))
    throughput_after = 1 / float(np.median(after))
    reporter.progress(0.8, log="judging the pruned model's held-out ads with the oracle; saving")
    loaded = live_reward(project)
    metrics = {
        "kind": "pruned",
        "pruning": {
            **plan.to_dict(),
            "blocks_before": n,
            "blocks_after": pruned.num_blocks,
            "params_before": count_parameters(base),
            "params_after": count_parameters(pruned),
            "train_steps_per_s_before": throughput_before,
            "train_steps_per_s_after": throughput_after,
            "throughput_ratio": throughput_after / throughput_before,
            "heldout_loss_before": loss_before,
            "heldout_loss_after": loss_after,
            "quality_ratio": loss_after / loss_before,
            "usable_before": version.metrics.get("heldout_usable"),
            "recovery_steps": recovery_steps,
            "requested_remove": remove,
            "data": source,
        },
        "reward_models": loaded[1] if loaded else None,
    }
    return version_save(
        pruned,
        project=project,
        name=f"pruned {n}→{pruned.num_blocks}",
        metrics=metrics,
        reward=loaded[0] if loaded else None,
        parent=version,
        job=job,
        user=user,
    )


def _thin(values: list[float], keep: int = 100) -> list[float]:
    """At most ``keep`` evenly spaced values of a curve (for storing and drawing)."""
    if len(values) <= keep:
        return [float(v) for v in values]
    step = len(values) / keep
    return [float(values[int(i * step)]) for i in range(keep)] + [float(values[-1])]
