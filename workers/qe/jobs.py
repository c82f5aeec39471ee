"""Job kinds of this loop (registered with workers.registry at import).

Training phases run on the ``gpu`` queue (CPU when there is none); the catalog and the
review items are light work on the ``cpu`` queue. Runners only adapt the job row to the
functions in ``workers.qe.training`` / ``catalog`` / ``review``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.params import SEED_MAX, param
from workers.registry import register

if TYPE_CHECKING:
    from workers.models import Job
    from workers.reporter import JobReporter

# "parent" is a version number of the project's query-expansion family, checked by the
# runner; empty: the newest version of the phase this one starts from.
PARENT_HELP = "version number to start from; empty: the newest of the phase before"
QUERIES_HELP = "training queries to use; empty: all of them"
EVAL_HELP = "held-out queries to evaluate on; empty: all of them"


@dataclass(frozen=True)
class QECatalogParams:
    size: int = param(6000, low=1, high=100_000, help="products in the catalog")
    seed: int = param(7, low=0, high=SEED_MAX)


@register("qe_catalog", queue="cpu", title="Store the search catalog", params=QECatalogParams)
def run_qe_catalog(job: Job, reporter: JobReporter, params: QECatalogParams) -> dict[str, Any]:
    from workers.qe.catalog import catalog_fingerprint, catalog_sync

    created = catalog_sync(
        seed=params.seed,
        size=params.size,
        progress=lambda f: reporter.progress(f * 0.99, log=f"stored {f:.0%}"),
    )
    return {"created": created, "products": catalog_fingerprint()[0]}


@dataclass(frozen=True)
class QEPretrainParams:
    steps: int = param(300, low=1, high=20_000)
    batch_size: int = param(32, low=1, high=512)
    lr: float = param(2e-3, low=1e-6, high=0.1, label="learning rate")
    layers: int = param(4, low=1, high=12, help="layers of the tiny model")
    size: str = param(
        "tiny", choices=("tiny", "full"), help="full: the causal LM in QE_FULL_MODEL_PATH"
    )
    eval_queries: int | None = param(None, low=1, high=5000, help=EVAL_HELP)
    seed: int = param(7, low=0, high=SEED_MAX)


@dataclass(frozen=True)
class QESFTParams:
    steps: int = param(250, low=1, high=20_000)
    batch_size: int = param(32, low=1, high=512)
    lr: float = param(1e-3, low=1e-6, high=0.1, label="learning rate")
    queries: int | None = param(None, low=1, high=100_000, help=QUERIES_HELP)
    eval_queries: int | None = param(None, low=1, high=5000, help=EVAL_HELP)
    parent: int | None = param(None, low=1, high=10**6, help=PARENT_HELP)
    seed: int = param(7, low=0, high=SEED_MAX)


@dataclass(frozen=True)
class QEPPOParams:
    steps: int = param(200, low=1, high=5000, help="PPO iterations")
    batch_size: int = param(64, low=2, high=512)
    queries: int | None = param(None, low=1, high=100_000, help=QUERIES_HELP)
    eval_queries: int | None = param(
        None,
        low=1,
        high=5000,
        help="held-out queries to evaluate on (and 240 at most to "
        "pick the best iteration on); empty: all of them",
    )
    parent: int | None = param(None, low=1, high=10**6, help=PARENT_HELP)
    seed: int = param(7, low=0, high=SEED_MAX)


@dataclass(frozen=True)
class QEGRPOParams:
    steps: int = param(40, low=1, high=5000)
    prompts: int = param(8, low=1, high=128, help="prompts per step")
    generations: int = param(8, low=2, high=64, help="expansions sampled per prompt")
    queries: int | None = param(None, low=1, high=100_000, help=QUERIES_HELP)
    eval_queries: int | None = param(None, low=1, high=5000, help=EVAL_HELP)
    parent: int | None = param(None, low=1, high=10**6, help=PARENT_HELP)
    seed: int = param(7, low=0, high=SEED_MAX)


PhaseParams = QEPretrainParams | QESFTParams | QEPPOParams | QEGRPOParams


@register(
    "qe_pretrain",
    queue="gpu",
    title="Query expansion, phase 1: domain pre-training",
    params=QEPretrainParams,
)
def run_qe_pretrain(job: Job, reporter: JobReporter, params: QEPretrainParams) -> dict[str, Any]:
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "pretrain", params)


@register("qe_sft", queue="gpu", title="Query expansion, phase 2: fine-tuning", params=QESFTParams)
def run_qe_sft(job: Job, reporter: JobReporter, params: QESFTParams) -> dict[str, Any]:
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "sft", params)


@register("qe_ppo", queue="gpu", title="Query expansion, phase 3: PPO", params=QEPPOParams)
def run_qe_ppo(job: Job, reporter: JobReporter, params: QEPPOParams) -> dict[str, Any]:
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "ppo", params)


@register("qe_grpo", queue="gpu", title="Query expansion, phase 3: GRPO (TRL)", params=QEGRPOParams)
def run_qe_grpo(job: Job, reporter: JobReporter, params: QEGRPOParams) -> dict[str, Any]:
    from workers.qe.training import run_phase

    return run_phase(job, reporter, "grpo", params)


@dataclass(frozen=True)
class QEReviewItemsParams:
    count: int = param(100, low=1, high=5000, help="search-log queries to expand")
    seed: int = param(7, low=0, high=SEED_MAX)


@register(
    "qe_review_items",
    queue="cpu",
    title="Queue query expansions for review",
    params=QEReviewItemsParams,
)
def run_qe_review_items(
    job: Job, reporter: JobReporter, params: QEReviewItemsParams
) -> dict[str, Any]:
    from workers.qe.review import review_items_create

    assert job.project is not None
    reporter.log(f"expanding up to {params.count} search-log queries with the live model")
    created = review_items_create(project=job.project, count=params.count, seed=params.seed)
    return {"created": created}


@dataclass(frozen=True)
class QERelevanceParams:
    seed: int = param(7, low=0, high=SEED_MAX)


@register(
    "qe_relevance",
    queue="cpu",
    title="Query expansion: train the term-relevance model (RL reward and serving guard)",
    params=QERelevanceParams,
)
def run_qe_relevance(job: Job, reporter: JobReporter, params: QERelevanceParams) -> dict[str, Any]:
    from workers.qe.guard import relevance_train

    return relevance_train(job, reporter, seed=params.seed)
