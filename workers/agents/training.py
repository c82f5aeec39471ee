"""Agent-policy training runs as the app runs them: the supervised base policy, DPO
(implicit reward) and reward model + GRPO (explicit reward), each saved as a
ModelVersion(family="agent_policy") with its evaluation on held-out tasks.

Preference pairs come from reviewers when they have labeled enough runs of the same tasks
(ranked by their verdicts), else from scripted runs ranked by the scorers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from jdreview.models import Project
from workers.agents.apps import FAMILY
from workers.agents.policies import one_cpu_thread, policy_load
from workers.agents.scoring import judge_train, project_traces, reviewer_consensus
from workers.agents.world import agent_world, task_split
from workers.models import Job, ModelVersion
from workers.reporter import Reporter
from workers.versions import (
    artifact_dir,
    artifact_path,
    live_version,
    model_version_create,
)

MIN_REVIEWER_PAIRS = 16


class TrainingError(ValueError):
    """The run cannot start: no base policy, or no preference pairs."""


@dataclass
class PolicyRunConfig:
    """Defaults are bench/agent_eval.py's full run; tests and the demo pass smaller ones."""

    sft_steps: int = 400
    steps: int = 60  # DPO / reward-model steps
    grpo_steps: int = 80
    eval_tasks: int = 60  # held-out tasks the version is evaluated on
    eval_runs: int = 3  # sampled runs per task (pass^k)
    pairs_per_task: int = 2  # scripted run pairs per training task, when scores rank them
    n_layer: int = 2
    n_embd: int = 128
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PolicyRunConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: int(v) for k, v in params.items() if k in known})


def _evaluate(model: Any, tok: Any, cfg: PolicyRunConfig) -> dict[str, float]:
    from workers.agents.ml.evaluate import evaluate_policy_detailed

    held = task_split()[1][: cfg.eval_tasks]
    # The same seeds for every version: each meets the same tool weather, run for run.
    return evaluate_policy_detailed(model, tok, agent_world(), held, n_runs=cfg.eval_runs, seed=500)


@one_cpu_thread
def policy_base_train(
    *,
    project: Project,
    cfg: PolicyRunConfig,
    job: Job | None = None,
    user: User | None = None,
    reporter: Reporter,
) -> ModelVersion:
    """Supervised fine-tuning of a tiny GPT-2 on scripted traces of the training tasks
    (some flawed: the base policy copies some mistakes, which leaves room to improve)."""
    import torch

    from workers.agents.ml import policy as pol
    from workers.agents.ml.scripted import scripted_traces

    torch.manual_seed(cfg.seed)
    world = agent_world()
    traces = scripted_traces(world, task_split()[0], flawed_share=0.4, seed=cfg.seed + 3)
    examples = pol.sft_examples(traces)
    tok = pol.build_tokenizer(pol.catalog_texts(world) + [p + c for p, c in examples])
    model = pol.build_policy(
        tok, pol.PolicyConfig(n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=2, seed=cfg.seed)
    )
    reporter.progress(0.02, log=f"supervised fine-tuning on {len(examples)} actions")
    losses = pol.train_sft(
        model,
        tok,
        examples,
        pol.SFTConfig(steps=cfg.sft_steps, batch_size=16, seed=cfg.seed),
        progress=reporter.stage(0.02, 0.7, metrics=_step_metrics),
    )
    reporter.progress(0.7, log=f"sft loss {losses[0]:.2f} -> {losses[-1]:.2f}; evaluating")
    metrics = {"eval": _evaluate(model, tok, cfg), "sft_loss": [losses[0], losses[-1]]}

    def save(path: Path) -> None:
        model.save_pretrained(path)
        tok.save_pretrained(path)

    return _save_after(
        project,
        "base",
        save,
        cfg,
        {"metrics": metrics},
        parent=None,
        job=job,
        user=user,
        promote=live_version(project, FAMILY) is None,
    )


def base_version(project: Project, parent_id: int | None = None) -> ModelVersion:
    """The policy a DPO or explicit run starts from: the one asked for, else the newest
    base policy of the project."""
    versions = ModelVersion.objects.filter(project=project, family=FAMILY)
    if parent_id:
        found = versions.filter(pk=parent_id).first()
        if found is None:
            raise TrainingError(f"no agent policy #{parent_id} in this project")
        return found
    found = versions.filter(name="base").order_by("-version").first()
    if found is None:
        raise TrainingError("train a base policy first (agent_train_base)")
    return found


def _reviewer_pairs(project: Project) -> list[dict[str, str]]:
    from workers.agents.ml.train_policy import ranked_pairs

    consensus = reviewer_consensus(project)
    if not consensus:
        return []
    pt = project_traces(project)
    groups: dict[str, list] = defaultdict(list)
    for item in pt.items:
        c = consensus.get(item.pk)
        task_id = item.payload.get("task_id") or ""
        if c is None or not task_id:
            continue
        steps = c["steps"]
        local = sum(x == "ok" for x in steps) / len(steps) if steps else 1.0
        groups[task_id].append((pt.traces[item.pk], float(c["outcome"] == "success") + local))
    return ranked_pairs([g for g in groups.values() if len(g) >= 2])


def preference_data(
    project: Project, *, seed: int = 0, per_task: int = 2
) -> tuple[list[dict[str, str]], str]:
    """(pairs, where they came from: "reviewers" or "scores")."""
    pairs = _reviewer_pairs(project)
    if len(pairs) >= MIN_REVIEWER_PAIRS:
        return pairs, "reviewers"
    from workers.agents.ml.train_policy import preference_pairs

    judge, _ = judge_train(project_traces(project), reviewer_consensus(project))
    train = task_split()[0]
    pairs = preference_pairs(agent_world(), train, judge, per_task=per_task, seed=seed + 7)
    return pairs, "scores"


def _pairs_from_base(
    project: Project, cfg: PolicyRunConfig, parent_id: int | None
) -> tuple[ModelVersion, list[dict], str]:
    """The base policy a preference run starts from, and its pairs (and where they came
    from); too few pairs to learn from is an error."""
    parent = base_version(project, parent_id)
    pairs, source = preference_data(project, seed=cfg.seed, per_task=cfg.pairs_per_task)
    if len(pairs) < 4:
        raise TrainingError(f"only {len(pairs)} preference pairs; label or generate more traces")
    return parent, pairs, source


def _step_metrics(fraction: float, metrics: dict[str, Any]) -> dict[str, Any]:
    """A training step's metrics (``sft_loss``, ``dpo_loss``...) go on the job row as they are."""
    return metrics


@one_cpu_thread
def policy_dpo_train(
    *,
    project: Project,
    cfg: PolicyRunConfig,
    parent_id: int | None = None,
    job: Job | None = None,
    user: User | None = None,
    reporter: Reporter,
) -> ModelVersion:
    """Implicit reward: DPO on the preference pairs, from the base policy."""
    from workers.agents.ml.train_policy import DPOStageConfig, train_dpo

    parent, pairs, source = _pairs_from_base(project, cfg, parent_id)
    reporter.progress(0.05, log=f"{len(pairs)} preference pairs from {source}; DPO from {parent}")
    model, tok = policy_load(parent)
    holder: dict[str, Any] = {}

    def save(path: Path) -> None:
        trained, losses = train_dpo(
            model,
            tok,
            pairs,
            DPOStageConfig(steps=cfg.steps, batch_size=8, seed=cfg.seed),
            path,
            reporter.stage(0.05, 0.7, metrics=_step_metrics),
        )
        reporter.progress(0.7, log=f"dpo loss {losses[0]:.3f} -> {losses[-1]:.3f}; evaluating")
        holder["metrics"] = {
            "eval": _evaluate(trained, tok, cfg),
            "dpo_loss": [losses[0], losses[-1]],
            "pairs": len(pairs),
            "pairs_source": source,
        }

    return _save_after(project, "dpo", save, cfg, holder, parent=parent, job=job, user=user)


@one_cpu_thread
def policy_explicit_train(
    *,
    project: Project,
    cfg: PolicyRunConfig,
    parent_id: int | None = None,
    job: Job | None = None,
    user: User | None = None,
    reporter: Reporter,
) -> ModelVersion:
    """Explicit reward: a reward model on the pairs, then GRPO against it (the reward model
    is saved beside the policy, in ``reward_model/``)."""
    from transformers import GPT2LMHeadModel

    from workers.agents.ml import train_policy as tp

    parent, pairs, source = _pairs_from_base(project, cfg, parent_id)
    reporter.progress(0.05, log=f"{len(pairs)} preference pairs from {source}; reward model")
    _, tok = policy_load(parent)
    parent_dir = artifact_path(parent)
    holder: dict[str, Any] = {}

    def save(path: Path) -> None:
        rm, rm_losses = tp.train_reward_model(
            parent_dir,
            tok,
            pairs,
            tp.RewardStageConfig(steps=cfg.steps, batch_size=8, seed=cfg.seed),
            path / "reward_model",
            reporter.stage(0.05, 0.35, metrics=_step_metrics),
        )
        reporter.progress(
            0.35, log=f"reward model loss {rm_losses[0]:.3f} -> {rm_losses[-1]:.3f}; GRPO"
        )
        policy, rewards = tp.train_grpo(
            GPT2LMHeadModel.from_pretrained(parent_dir),
            tok,
            [p["prompt"] for p in pairs],
            tp.reward_function(rm, tok),
            tp.GRPOStageConfig(steps=cfg.grpo_steps, seed=cfg.seed),
            path,
            reporter.stage(0.35, 0.75, metrics=_step_metrics),
        )
        reporter.progress(0.75, log="evaluating on held-out tasks")
        holder["metrics"] = {
            "eval": _evaluate(policy, tok, cfg),
            "rm_loss": [rm_losses[0], rm_losses[-1]],
            "grpo_reward": [rewards[0], rewards[-1]] if rewards else [],
            "pairs": len(pairs),
            "pairs_source": source,
        }

    return _save_after(project, "explicit", save, cfg, holder, parent=parent, job=job, user=user)


def _save_after(
    project: Project,
    name: str,
    train_into: Callable[[Path], None],
    cfg: PolicyRunConfig,
    holder: dict[str, Any],
    *,
    parent: ModelVersion | None,
    job: Job | None,
    user: User | None,
    promote: bool = False,
) -> ModelVersion:
    """Train straight into the version's temporary folder, then register it with the
    metrics the training left in ``holder``."""
    with artifact_dir() as tmp:
        train_into(tmp)
        return model_version_create(
            project=project,
            family=FAMILY,
            name=name,
            saved_dir=tmp,
            config={**asdict(cfg), "parent": parent.pk if parent else None},
            metrics=holder["metrics"],
            parent=parent,
            job=job,
            user=user,
            promote=promote,
        )
