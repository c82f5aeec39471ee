"""Demo data of the query-expansion loop: a project with the search catalog, a tiny
pre-trained + fine-tuned model live, and expansions waiting for review.

Idempotent: the project, the catalog rows and the memberships are get-or-create; models are
trained only while the project has no live one, review items only while it has none.

``demo_project()`` makes the project and ``STEPS`` are the data, each ``(title, share of the
time, step)``: ``seed()`` runs them here, the ``seed_demo`` job (jdreview.demo_jobs) on a
worker with a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model

from jdreview.models import Project
from jdreview.projects import membership_set
from jdreview.roles import ensure_role_groups
from workers.models import Job
from workers.qe.apps import FAMILY, KIND, RELEVANCE_FAMILY
from workers.qe.catalog import catalog_sync
from workers.reporter import Reporter, steps_run
from workers.services import job_run
from workers.versions import live_version

SLUG = "query-expansion"
GUIDELINES = (
    "Each item is a shopper's search query and the terms a model adds to it before the "
    "search engine sees it.\n\n"
    "Relevant: someone typing this query would want the products the term finds (the "
    "catalog's word for what they said: 'kicks' -> 'running shoes').\n\n"
    "Drifting: the term leads elsewhere: another product type, colour or audience than the "
    "query asks for.\n\n"
    "Then prefer A or B: the expansion whose results you would rather show, or 'same'."
)
# Small enough to train in well under a minute on two CPU cores, good enough to expand.
PRETRAIN = {"steps": 200, "batch_size": 32, "layers": 4, "eval_queries": 150}
# A higher fine-tuning rate than the default: at 200 steps, 1e-3 left held-out recall@10
# below no expansion (0.154 vs 0.176), 3e-3 above it (0.201).
SFT = {"steps": 200, "batch_size": 32, "lr": 3e-3, "eval_queries": 150}
REVIEW_ITEMS = 60


def _run_here(project: Project, kind: str, params: dict) -> Job:
    """Run a job in this process. The row is made directly, not through job_create, so
    no worker also receives it: the demo command is the worker here."""
    from workers.registry import get_kind

    job = Job.objects.create(kind=kind, params=params, project=project, queue=get_kind(kind).queue)
    job_run(job.pk)
    job.refresh_from_db()
    if job.status != Job.Status.SUCCEEDED:
        raise RuntimeError(f"{kind} failed: {job.error.splitlines()[0] if job.error else '?'}")
    return job


def demo_project() -> Project:
    """The loop's demo project, with the demo accounts as members (seed_demo makes them)."""
    ensure_role_groups()
    project, _ = Project.objects.get_or_create(
        slug=SLUG,
        defaults={
            "name": "Query expansion",
            "overlap": 1,
            "gold_share": 0.0,
            "description": "Search queries expanded by a small language model, rated by "
            "reviewers; the ratings feed fine-tuning and the RL reward.",
            "guidelines": GUIDELINES,
        },
    )
    from jdreview.demo_accounts import DEMO_USERS

    User = get_user_model()
    for username, role, _ in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:  # seed_demo makes the accounts (with passwords); do not invent any
            continue
        membership_set(project=project, user=user, role=role)
    return project


def seed(*, log: Callable[[str], None], seed: int = 0) -> None:
    steps_run(demo_project(), STEPS, log=log, seed=seed)


def _catalog(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    created = catalog_sync()
    log(f"query expansion: search catalog stored ({created} new products)")


def _models(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int) -> None:
    if live_version(project, FAMILY) is None:
        _train(project, log, seed, reporter)
    if live_version(project, RELEVANCE_FAMILY) is None:
        reporter.progress(0.9, log="training the term-relevance model (the serving guard)")
        rel = _run_here(project, "qe_relevance", {"seed": 7 + seed})
        log(
            f"  term-relevance model (the serving guard): held-out accuracy "
            f"{rel.metrics['heldout_accuracy']:.3f}"
        )


def _review_items(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    if not project.items.filter(kind=KIND).exists():
        job = _run_here(project, "qe_review_items", {"count": REVIEW_ITEMS, "seed": 7 + seed})
        log(f"  {job.metrics['created']} expansions queued for review")


def _train(project: Project, log: Callable[[str], None], seed: int, reporter: Reporter) -> None:
    from workers.ml.runtime import torch_threads

    # One thread: on a small shared machine, several threads per process fight the other
    # processes for the same cores and every step gets slower, not faster.
    with torch_threads(1):
        pre = _run_here(project, "qe_pretrain", {**PRETRAIN, "seed": 7 + seed})
        log(
            f"  pre-trained: loss {pre.metrics['loss_first']:.2f} -> {pre.metrics['loss_last']:.2f}"
        )
        reporter.progress(0.5, log="fine-tuning the query expander")
        sft = _run_here(project, "qe_sft", {**SFT, "seed": 7 + seed})
        log(
            f"  fine-tuned: held-out recall@10 {sft.metrics['recall10']:.3f} "
            f"(no expansion {sft.metrics['recall10_none']:.3f}); live: {sft.metrics['live']}"
        )


# The steps of the demo's data, in order, with their rough share of its time.
STEPS = [
    ("storing the search catalog", 0.1, _catalog),
    ("training the query expander", 0.75, _models),
    ("expansions for review", 0.15, _review_items),
]
