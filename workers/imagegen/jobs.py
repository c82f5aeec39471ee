"""Job kinds of this loop (registered with workers.registry at import).

Runners are adapters: take the job's parameters (the kind's dataclass below, checked by
workers.params), find the rows they name inside the job's project, call one service, return
its summary. Torch is imported inside the services, never at import of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jdreview.models import Product
from workers.imagegen.data import GeneratorDataError
from workers.imagegen.evaluation import generator_for
from workers.ml.runtime import torch_threads
from workers.params import ROW_MAX, SEED_MAX, param
from workers.registry import register
from workers.versions import VersionError

if TYPE_CHECKING:
    from workers.models import Job
    from workers.reporter import JobReporter

# "version" and "product" are row ids: the runner checks them against the job's project.
VERSION_HELP = "a generator version of this project; empty: the live one (else the newest)"


def _version_summary(version: Any) -> dict[str, Any]:
    return {
        "version": f"v{version.version} {version.name}",
        "version_id": version.pk,
        "status": version.status,
        "heldout_usable": version.metrics.get("heldout_usable"),
        "heldout_reward": version.metrics.get("heldout_reward"),
        "blocks": version.config.get("num_layers"),
    }


def cpu_threads() -> Any:
    """One torch thread on a CPU worker (a GPU machine is left alone): measured on the two
    shared cores here, 20 training steps took 5.9 s on one thread and 38.8 s on two while
    other processes were busy."""
    return torch_threads(1, cpu_only=True)


@dataclass(frozen=True)
class GeneratorTrainParams:
    steps: int = param(200, low=1, high=5000, help="training steps")
    layers: int = param(8, low=2, high=24, label="blocks", help="transformer blocks")
    images: int = param(400, low=32, high=5000, label="training ads", help="ads to train on")
    seed: int = param(0, low=0, high=SEED_MAX)


@register(
    "generator_train",
    queue="gpu",
    title="Train the ad-image generator (tiny)",
    params=GeneratorTrainParams,
)
def run_generator_train(
    job: Job, reporter: JobReporter, params: GeneratorTrainParams
) -> dict[str, Any]:
    from workers.imagegen.training import generator_train

    assert job.project is not None
    with cpu_threads():
        version = generator_train(
            project=job.project,
            steps=params.steps,
            layers=params.layers,
            images=params.images,
            seed=params.seed,
            job=job,
            user=job.created_by,
            reporter=reporter,
        )
    return {**_version_summary(version), "heldout_loss": version.metrics.get("heldout_loss")}


@dataclass(frozen=True)
class GeneratorRLParams:
    version: int | None = param(None, low=1, high=ROW_MAX, help=VERSION_HELP)
    steps: int = param(16, low=1, high=500, help="RL steps")
    batch: int = param(4, low=1, high=32, help="ads generated per step")
    seed: int = param(0, low=0, high=SEED_MAX)


@register(
    "generator_rl",
    queue="gpu",
    title="Refine the generator with the reward ensemble (RL)",
    params=GeneratorRLParams,
)
def run_generator_rl(job: Job, reporter: JobReporter, params: GeneratorRLParams) -> dict[str, Any]:
    from workers.imagegen.training import generator_refine

    assert job.project is not None
    source = generator_for(job.project, params.version)
    with cpu_threads():
        version = generator_refine(
            version=source,
            steps=params.steps,
            batch=params.batch,
            seed=params.seed,
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


@dataclass(frozen=True)
class GeneratorPruneParams:
    version: int | None = param(None, low=1, high=ROW_MAX, help=VERSION_HELP)
    eps: float = param(0.1, low=0.0, high=1.0, label="ε", help="RDP tolerance on block influence")
    remove: int | None = param(
        None, low=1, high=23, label="or remove exactly", help="blocks to remove; overrides ε"
    )
    recovery_steps: int = param(60, low=0, high=2000, help="distillation steps after removal")
    images: int = param(300, low=32, high=5000, help="training ads to measure and recover on")
    seed: int = param(0, low=0, high=SEED_MAX)


@register(
    "generator_prune",
    queue="gpu",
    title="Prune the generator's blocks (FFT + RDP)",
    params=GeneratorPruneParams,
)
def run_generator_prune(
    job: Job, reporter: JobReporter, params: GeneratorPruneParams
) -> dict[str, Any]:
    from workers.imagegen.training import generator_prune

    assert job.project is not None
    source = generator_for(job.project, params.version)
    with cpu_threads():
        version = generator_prune(
            version=source,
            eps=params.eps,
            remove=params.remove,
            recovery_steps=params.recovery_steps,
            images=params.images,
            seed=params.seed,
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


@dataclass(frozen=True)
class GenerateAdsParams:
    product: int | None = param(None, low=1, high=ROW_MAX, help="the product to advertise")
    count: int = param(4, low=1, high=50, label="ads", help="ads to make (or tries, recurrent)")
    version: int | None = param(None, low=1, high=ROW_MAX, help=VERSION_HELP)
    seed: int | None = param(None, low=0, high=SEED_MAX, help="empty: fresh ads each time")
    recurrent: bool = param(False, help="regenerate until the gate launches one")
    full: bool = param(False, help="the diffusers pipeline in GENERATOR_FULL_PIPELINE_PATH")


@register(
    "generate_ads",
    queue="gpu",
    title="Generate ads for a product",
    params=GenerateAdsParams,
)
def run_generate_ads(job: Job, reporter: JobReporter, params: GenerateAdsParams) -> dict[str, Any]:
    from workers.imagegen.generation import ads_generate

    assert job.project is not None
    product = Product.objects.filter(pk=params.product or 0).first()
    if product is None:
        raise GeneratorDataError(f"no product with id {params.product}")
    version = None if params.full else generator_for(job.project, params.version)
    with cpu_threads():
        return ads_generate(
            project=job.project,
            product=product,
            count=params.count,
            recurrent=params.recurrent,
            version=version,
            # Without a seed, each request gets fresh ads: seeds derive from the job.
            seed=job.pk * 1000 if params.seed is None else params.seed,
            job=job,
            reporter=reporter,
            full=params.full,
        )


__all__ = ["GeneratorDataError", "VersionError"]
