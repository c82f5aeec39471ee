"""Job kinds of this loop (registered with workers.registry at import).

Runners are thin: they read the job's parameters and call one function of
``workers.agents`` (which import the ML code, and torch, only when they run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from workers.models import Job
from workers.params import ROW_MAX, SEED_MAX, NoParams, param
from workers.registry import register
from workers.reporter import JobReporter

# "parent" is an agent-policy row id of the job's project, checked by the runner.
PARENT_HELP = "the policy version to start from; empty or 0: the newest base policy"


@dataclass(frozen=True)
class GenerateTracesParams:
    tasks: int = param(20, low=1, high=360)
    runs: int = param(2, low=1, high=10, label="runs each")
    flawed_percent: int = param(50, low=0, high=100, label="% flawed")
    seed: int = param(0, low=0, high=SEED_MAX)
    policy: bool = param(False, help="also runs of the live policy")


@register(
    "agent_generate_traces",
    queue="cpu",
    title="Generate agent traces for review",
    params=GenerateTracesParams,
)
def run_generate(job: Job, reporter: JobReporter, params: GenerateTracesParams) -> dict[str, Any]:
    from workers.agents.generate import traces_generate

    assert job.project is not None
    counts = traces_generate(
        project=job.project,
        tasks=params.tasks,
        runs=params.runs,
        flawed_percent=params.flawed_percent,
        seed=params.seed,
        policy=params.policy,
        progress=reporter.stage(),
    )
    return {"created": sum(counts.values()), **counts}


@register(
    "agent_score",
    queue="cpu",
    title="Score agent traces (local, end-to-end, pass^k)",
    params=NoParams,
)
def run_score(job: Job, reporter: JobReporter, params: NoParams) -> dict[str, Any]:
    from workers.agents.scoring import project_score
    from workers.agents.services import version_scores_store

    assert job.project is not None
    metrics, scores = project_score(project=job.project, progress=reporter.stage())
    job.artifacts = {"scores": scores}
    version_scores_store(metrics["agents"])
    return metrics


@dataclass(frozen=True)
class TrainBaseParams:
    sft_steps: int = param(400, low=1, high=5000, label="steps", help="supervised steps")
    eval_tasks: int = param(60, low=1, high=120, help="held-out tasks to evaluate on")
    eval_runs: int = param(3, low=1, high=10, help="sampled runs per task (pass^k)")
    seed: int = param(0, low=0, high=SEED_MAX)


@dataclass(frozen=True)
class TrainDPOParams:
    steps: int = param(60, low=1, high=2000, help="DPO steps")
    eval_tasks: int = param(60, low=1, high=120, help="held-out tasks to evaluate on")
    eval_runs: int = param(3, low=1, high=10, help="sampled runs per task (pass^k)")
    seed: int = param(0, low=0, high=SEED_MAX)
    parent: int | None = param(None, low=0, high=ROW_MAX, help=PARENT_HELP)


@dataclass(frozen=True)
class TrainExplicitParams:
    steps: int = param(60, low=1, high=2000, label="reward-model steps")
    grpo_steps: int = param(80, low=1, high=2000, label="GRPO steps")
    eval_tasks: int = param(60, low=1, high=120, help="held-out tasks to evaluate on")
    eval_runs: int = param(3, low=1, high=10, help="sampled runs per task (pass^k)")
    seed: int = param(0, low=0, high=SEED_MAX)
    parent: int | None = param(None, low=0, high=ROW_MAX, help=PARENT_HELP)


def _train(
    job: Job,
    reporter: JobReporter,
    which: str,
    params: TrainBaseParams | TrainDPOParams | TrainExplicitParams,
) -> dict[str, Any]:
    from workers.agents import training

    assert job.project is not None
    # The run's other settings (model size, pairs per task) keep PolicyRunConfig's defaults.
    cfg = training.PolicyRunConfig.from_params(asdict(params))
    run = {
        "base": training.policy_base_train,
        "dpo": training.policy_dpo_train,
        "explicit": training.policy_explicit_train,
    }[which]
    parent = None if isinstance(params, TrainBaseParams) else params.parent
    extra = {} if which == "base" else {"parent_id": parent or None}
    version = run(
        project=job.project,
        cfg=cfg,
        job=job,
        user=job.created_by,
        reporter=reporter,
        **extra,
    )
    reporter.log(f"saved {version}")
    return {"version": version.version, "version_id": version.pk, **version.metrics}


@register(
    "agent_train_base",
    queue="gpu",
    title="Train the base agent policy (supervised)",
    params=TrainBaseParams,
)
def run_train_base(job: Job, reporter: JobReporter, params: TrainBaseParams) -> dict[str, Any]:
    return _train(job, reporter, "base", params)


@register(
    "agent_train_dpo",
    queue="gpu",
    title="Train the agent policy with DPO (implicit)",
    params=TrainDPOParams,
)
def run_train_dpo(job: Job, reporter: JobReporter, params: TrainDPOParams) -> dict[str, Any]:
    return _train(job, reporter, "dpo", params)


@register(
    "agent_train_explicit",
    queue="gpu",
    title="Train the agent policy with a reward model + GRPO (explicit)",
    params=TrainExplicitParams,
)
def run_train_explicit(
    job: Job, reporter: JobReporter, params: TrainExplicitParams
) -> dict[str, Any]:
    return _train(job, reporter, "explicit", params)
