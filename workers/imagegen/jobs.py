"""Job kinds of this loop (registered with workers.registry at import).

Runners are adapters: read the job's parameters (already checked by workers.params), find
the rows they name inside the job's project, call one service, return its summary. Torch
is imported inside the services, never at import of this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jdreview.models import Product
from workers.imagegen.data import GeneratorDataError
from workers.imagegen.evaluation import generator_for
from workers.registry import register
from workers.versions import VersionError


def _version_summary(version: Any) -> dict[str, Any]:
    return {
        "version": f"v{version.version} {version.name}",
        "version_id": version.pk,
        "status": version.status,
        "heldout_usable": version.metrics.get("heldout_usable"),
        "heldout_reward": version.metrics.get("heldout_reward"),
        "blocks": version.config.get("num_layers"),
    }


@contextmanager
def cpu_threads(n: int = 1) -> Iterator[None]:
    """Run the tiny-config ML on ``n`` torch threads when there is no GPU, then restore.

    Measured on the two shared cores here: 20 training steps took 5.9 s on one thread and
    38.8 s on two while other processes were busy (torch's threads spin waiting on each
    other). The job is small; one thread is the safe choice on a shared CPU worker."""
    import torch

    if torch.cuda.is_available():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@register("generator_train", queue="gpu", title="Train the ad-image generator (tiny)")
def run_generator_train(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.imagegen.training import TRAIN_DEFAULTS, generator_train

    p = {**TRAIN_DEFAULTS, **job.params}
    with cpu_threads():
        version = generator_train(
            project=job.project,
            steps=p["steps"],
            layers=p["layers"],
            images=p["images"],
            seed=p["seed"],
            job=job,
            user=job.created_by,
            reporter=reporter,
        )
    return {**_version_summary(version), "heldout_loss": version.metrics.get("heldout_loss")}


@register("generator_rl", queue="gpu", title="Refine the generator with the reward ensemble (RL)")
def run_generator_rl(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.imagegen.training import RL_DEFAULTS, generator_refine

    p = {**RL_DEFAULTS, **job.params}
    source = generator_for(job.project, job.params.get("version"))
    with cpu_threads():
        version = generator_refine(
            version=source,
            steps=p["steps"],
            batch=p["batch"],
            seed=p["seed"],
            job=job,
            user=job.created_by,
            reporter=reporter,
        )
    rl = version.metrics["rl"]
    return {
        **_version_summary(version),
        "from": f"v{source.version}",
        "reward_before": rl["reward_before"],
        "reward_after": rl["reward_after"],
        "usable_before": rl["usable_before"],
        "usable_after": rl["usable_after"],
        "reward_hacking": rl["reward_hacking"],
    }


@register("generator_prune", queue="gpu", title="Prune the generator's blocks (FFT + RDP)")
def run_generator_prune(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.imagegen.training import PRUNE_DEFAULTS, generator_prune

    p = {**PRUNE_DEFAULTS, **job.params}
    source = generator_for(job.project, job.params.get("version"))
    with cpu_threads():
        version = generator_prune(
            version=source,
            eps=p["eps"],
            remove=job.params.get("remove"),
            recovery_steps=p["recovery_steps"],
            images=p["images"],
            seed=p["seed"],
            job=job,
            user=job.created_by,
            reporter=reporter,
        )
    pr = version.metrics["pruning"]
    return {
        **_version_summary(version),
        "from": f"v{source.version}",
        "removed": pr["remove"],
        "eps": pr["eps"],
        "throughput_ratio": pr["throughput_ratio"],
        "quality_ratio": pr["quality_ratio"],
    }


@register("generate_ads", queue="gpu", title="Generate ads for a product")
def run_generate_ads(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.imagegen.generation import ads_generate

    product = Product.objects.filter(pk=job.params.get("product") or 0).first()
    if product is None:
        raise GeneratorDataError(f"no product with id {job.params.get('product')}")
    full = bool(job.params.get("full"))
    version = None if full else generator_for(job.project, job.params.get("version"))
    with cpu_threads():
        return ads_generate(
            project=job.project,
            product=product,
            count=int(job.params.get("count", 4)),
            recurrent=bool(job.params.get("recurrent")),
            version=version,
            # Without a seed, each request gets fresh ads: seeds derive from the job.
            seed=int(job.params.get("seed", job.pk * 1000)),
            job=job,
            reporter=reporter,
            full=full,
        )


__all__ = ["GeneratorDataError", "VersionError"]
