"""Demo data of the agent-evaluation loop: an "Agent traces" project with scripted traces
in the review queue (some already reviewed by simulated reviewers, for agreement and the
step judge), a quickly trained base policy with its own traces, and one scoring run.

Idempotent: each part runs only when its result is missing. About a minute on 2 cores.
``demo_project()`` makes the project and ``STEPS`` are the data, each ``(title, share of the
time, step)``: ``seed()`` runs them here, the ``seed_demo`` job (jdreview.demo_jobs) on a
worker with a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from jdreview.models import Project
from jdreview.projects import membership_set
from labeling.models import Annotation, Item
from workers.agents.apps import FAMILY
from workers.agents.apps import KIND as TRACE_KIND
from workers.agents.generate import traces_generate
from workers.agents.simulate import trace_reviews_simulate
from workers.agents.training import PolicyRunConfig, policy_base_train
from workers.models import Job, ModelVersion
from workers.reporter import Reporter, steps_run
from workers.services import job_run

SLUG = "agent-traces"
DEMO_USERNAMES = ("admin", "manager", "ops", "annotator", "annotator2")
GUIDELINES = (
    "A shopping assistant worked on the task at the top using tools (search, product "
    "details, cart, coupon). Judge every step, then the outcome.\n\n"
    "ok: the step is a sensible move for this task and it worked.\n\n"
    "Reasoning error: a wrong plan (a tool the task does not need, steps in the wrong "
    "order), a misread constraint (colour, brand, price cap, quantity, SKU), or a wrong "
    "conclusion from what a tool showed (picking a product that breaks the request).\n\n"
    "Execution failure: the call failed: a tool error or timeout, or arguments the tool "
    "cannot take. Automatic-check hints point at these; the verdict is yours.\n\n"
    "Outcome: success only when the final cart, coupon and answer are what the user asked."
)
TASKS, RUNS, REVIEWS = 40, 2, 90
DEMO_CONFIG = PolicyRunConfig(sft_steps=150, eval_tasks=20, eval_runs=2, n_embd=64)


def demo_project() -> Project:
    """The loop's demo project, with the demo accounts as members (seed_demo makes them)."""
    project, _ = Project.objects.get_or_create(
        slug=SLUG,
        defaults={
            "name": "Agent traces",
            "overlap": 2,
            "gold_share": 0.0,
            "description": "Shopping-assistant traces: mark each step and the outcome.",
            "guidelines": GUIDELINES,
        },
    )
    for user in get_user_model().objects.filter(username__in=DEMO_USERNAMES):
        membership_set(project=project, user=user)
    return project


def seed(*, log: Callable[[str], None], seed: int = 0) -> None:
    steps_run(demo_project(), STEPS, log=log, seed=seed)


def _traces(project: Project) -> QuerySet[Item]:
    return Item.objects.filter(project=project, kind=TRACE_KIND)


def _scripted(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    if not _traces(project).filter(payload__agent="scripted").exists():
        log("Agent traces: the scripted agent runs shopping tasks (some with planted flaws)…")
        traces_generate(
            project=project, tasks=TASKS, runs=RUNS, seed=seed, progress=reporter.stage()
        )


def _reviews(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    if not Annotation.objects.filter(project=project, source="simulated").exists():
        log("Agent traces: simulated reviewers mark steps and outcomes…")
        trace_reviews_simulate(project=project, reviewers=3, labels=REVIEWS, seed=seed + 11)


def _policy(project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int) -> None:
    if not ModelVersion.objects.filter(project=project, family=FAMILY).exists():
        log("Agent traces: training a tiny base policy (supervised)…")
        version = policy_base_train(project=project, cfg=DEMO_CONFIG, reporter=reporter)
        log(f"  {version}: held-out end-to-end {version.metrics['eval']['e2e']:.2f}")


def _policy_traces(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    if not _traces(project).exclude(payload__agent="scripted").exists():
        log("Agent traces: the base policy runs the same tasks…")
        traces_generate(
            project=project,
            tasks=TASKS // 2,
            runs=RUNS,
            seed=seed,
            scripted=False,
            policy=True,
            progress=reporter.stage(),
        )


def _scoring(
    project: Project, *, log: Callable[[str], None], reporter: Reporter, seed: int
) -> None:
    if not Job.objects.filter(project=project, kind="agent_score").exists():
        log("Agent traces: scoring every trace…")
        # Run in this process: the demo must not wait for a worker to be up.
        job = Job.objects.create(kind="agent_score", project=project, queue="cpu")
        done = job_run(job.pk)
        if done is not None and done.status == Job.Status.FAILED:
            log(f"  scoring failed: {done.error.splitlines()[0]}")


# The steps of the demo's data, in order, with their rough share of its time.
STEPS = [
    ("scripted agent traces", 0.2, _scripted),
    ("simulated reviews", 0.05, _reviews),
    ("training the base policy", 0.5, _policy),
    ("the base policy's traces", 0.15, _policy_traces),
    ("scoring every trace", 0.1, _scoring),
]
