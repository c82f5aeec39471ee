"""Generate traces into a project's review queue: the scripted agent (with planted flaws)
and, when there is one, the live tiny-LM policy. Repeated runs of each task give pass^k."""

from __future__ import annotations

import random
from collections.abc import Callable

from jdreview.models import Project
from labeling.models import Item
from workers.agents.apps import FAMILY
from workers.agents.apps import KIND as TRACE_KIND
from workers.agents.ml.scripted import FLAWS, run_scripted
from workers.agents.ml.world import Task
from workers.agents.policies import one_cpu_thread, policy_label, policy_load
from workers.agents.traces.services import NewTrace, trace_items_create
from workers.agents.world import agent_world, task_split
from workers.models import ModelVersion
from workers.versions import live_version

Progress = Callable[[float, str], None]


class GenerateError(ValueError):
    """The traces cannot be generated into this project (say, it holds ad images)."""


def traces_generate(
    *,
    project: Project,
    tasks: int,
    runs: int = 2,
    flawed_percent: int = 50,
    seed: int = 0,
    policy: bool = False,
    scripted: bool = True,
    progress: Progress | None = None,
) -> dict[str, int]:
    """`runs` runs of each of `tasks` training tasks by the scripted agent (a
    `flawed_percent` share with one planted flaw; unless `scripted` is False), and by the
    live policy if asked.

    Automatic execution-failure detection runs as the items are made (see records.py)."""
    if project.items.exclude(kind=TRACE_KIND).exists():
        raise GenerateError("this project holds other kinds of items; use a project of traces")
    world = agent_world()
    train, _ = task_split()
    rng = random.Random(seed)
    # A seeded order, cut: a smaller run with the same seed takes a prefix of the same tasks.
    order = list(train)
    rng.shuffle(order)
    chosen = order[:tasks]
    new: list[NewTrace] = []
    for n, task in enumerate(chosen if scripted else []):
        for r in range(runs):
            flaws = [f for f in FLAWS if not (task.kind == "compare" and f == "wrong_conclusion")]
            flaw = rng.choice(flaws) if rng.random() < flawed_percent / 100 else None
            trace = run_scripted(world, task, flaw=flaw, seed=seed * 1_000 + r)
            new.append(NewTrace(trace, agent="scripted", run=r))
        if progress and n % 10 == 0:
            progress(0.5 * (n + 1) / len(chosen), f"scripted agent: {n + 1}/{len(chosen)} tasks")
    counts = {"scripted": len(new), "policy": 0}
    version = live_version(project, FAMILY) if policy else None
    if policy and version is None and progress:
        progress(0.5, "no live agent policy in this project: scripted traces only")
    if version is not None:
        made = _policy_traces(version, chosen, runs=runs, seed=seed, progress=progress)
        new += made
        counts["policy"] = len(made)
    trace_items_create(project=project, new=new, source=Item.Source.GENERATED)
    if progress:
        progress(1.0, f"{len(new)} traces in the review queue")
    return counts


@one_cpu_thread
def _policy_traces(
    version: ModelVersion,
    tasks: list[Task],
    *,
    runs: int,
    seed: int,
    progress: Progress | None,
) -> list[NewTrace]:
    """Sampled runs of the policy (as evaluation samples them), each run in its own weather."""
    from workers.agents.ml.policy import rollout

    model, tok = policy_load(version)
    label = policy_label(version)
    new = []
    for r in range(runs):
        traces = rollout(
            model, tok, agent_world(), tasks, seed=seed * 1_000 + r, greedy=False, temperature=0.7
        )
        new += [NewTrace(t, agent=label, run=r, agent_version=version.pk) for t in traces]
        if progress:
            progress(0.5 + 0.4 * (r + 1) / runs, f"{label}: run {r + 1}/{runs}")
    return new
