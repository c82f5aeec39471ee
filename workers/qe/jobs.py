"""Job kinds of this loop (registered with workers.registry at import).

Training phases run on the ``gpu`` queue (CPU when there is none); the catalog and the
review items are light work on the ``cpu`` queue. Runners only adapt the job row to the
functions in ``workers.qe.training`` / ``catalog`` / ``review``.
"""

from __future__ import annotations

from typing import Any

from workers.registry import register


@register("qe_catalog", queue="cpu", title="Store the search catalog")
def run_qe_catalog(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.qe.catalog import catalog_fingerprint, catalog_sync

    size = int(job.params.get("size", 6000))
    created = catalog_sync(
        seed=int(job.params.get("seed", 7)),
        size=size,
        progress=lambda f: reporter.progress(f * 0.99, log=f"stored {f:.0%}"),
    )
    return {"created": created, "products": catalog_fingerprint()[0]}


@register("qe_pretrain", queue="gpu", title="Query expansion, phase 1: domain pre-training")
def run_qe_pretrain(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "pretrain")


@register("qe_sft", queue="gpu", title="Query expansion, phase 2: fine-tuning")
def run_qe_sft(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "sft")


@register("qe_ppo", queue="gpu", title="Query expansion, phase 3: PPO")
def run_qe_ppo(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "ppo")


@register("qe_grpo", queue="gpu", title="Query expansion, phase 3: GRPO (TRL)")
def run_qe_grpo(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "grpo")


@register("qe_review_items", queue="cpu", title="Queue query expansions for review")
def run_qe_review_items(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from workers.qe.review import review_items_create

    count = int(job.params.get("count", 100))
    reporter.log(f"expanding up to {count} search-log queries with the live model")
    created = review_items_create(
        project=job.project, count=count, seed=int(job.params.get("seed", 7))
    )
    return {"created": created}
