"""Job kinds of this loop (registered with workers.registry at import).

Runners are thin: they read the job's parameters and call one function of
``workers.agents`` (which import the ML code, and torch, only when they run)."""

from __future__ import annotations

from typing import Any

from workers.models import Job
from workers.registry import register
from workers.reporter import JobReporter


def _progress(reporter: JobReporter) -> Any:
    def report(fraction: float, message: str = "", metrics: dict | None = None) -> None:
        reporter.progress(fraction, log=message or None, metrics=metrics or None)

    return report


@register("agent_generate_traces", queue="cpu", title="Generate agent traces for review")
def run_generate(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from workers.agents.generate import traces_generate

    assert job.project is not None
    p = job.params
    counts = traces_generate(
        project=job.project,
        tasks=int(p.get("tasks", 20)),
        runs=int(p.get("runs", 2)),
        flawed_percent=int(p.get("flawed_percent", 50)),
        seed=int(p.get("seed", 0)),
        policy=bool(p.get("policy", False)),
        progress=_progress(reporter),
    )
    return {"created": sum(counts.values()), **counts}


@register("agent_score", queue="cpu", title="Score agent traces (local, end-to-end, pass^k)")
def run_score(job: Job, reporter: JobReporter) -> dict[str, Any]:
    from workers.agents.scoring import project_score
    from workers.agents.services import version_scores_store

    assert job.project is not None
    metrics, scores = project_score(project=job.project, progress=_progress(reporter))
    job.artifacts = {"scores": scores}
    version_scores_store(metrics["agents"])
    return metrics


def _train(job: Job, reporter: JobReporter, which: str) -> dict[str, Any]:
    from workers.agents import training

    assert job.project is not None
    cfg = training.PolicyRunConfig.from_params(job.params)
    run = {
        "base": training.policy_base_train,
        "dpo": training.policy_dpo_train,
        "explicit": training.policy_explicit_train,
    }[which]
    extra = {} if which == "base" else {"parent_id": job.params.get("parent") or None}
    version = run(
        project=job.project,
        cfg=cfg,
        job=job,
        user=job.created_by,
        progress=_progress(reporter),
        **extra,
    )
    reporter.log(f"saved {version}")
    return {"version": version.version, "version_id": version.pk, **version.metrics}


@register("agent_train_base", queue="gpu", title="Train the base agent policy (supervised)")
def run_train_base(job: Job, reporter: JobReporter) -> dict[str, Any]:
    return _train(job, reporter, "base")


@register("agent_train_dpo", queue="gpu", title="Train the agent policy with DPO (implicit)")
def run_train_dpo(job: Job, reporter: JobReporter) -> dict[str, Any]:
    return _train(job, reporter, "dpo")


@register(
    "agent_train_explicit",
    queue="gpu",
    title="Train the agent policy with a reward model + GRPO (explicit)",
)
def run_train_explicit(job: Job, reporter: JobReporter) -> dict[str, Any]:
    return _train(job, reporter, "explicit")
