"""The agent world as the app uses it: one catalog and one fixed set of shopping tasks,
split once into training tasks (review traces, preference pairs, the step judge) and
held-out tasks (policy evaluation only)."""

from __future__ import annotations

from functools import lru_cache

from workers.agents.ml.world import Task, World, load_catalog, make_tasks, split_tasks

TASK_SEED = 41
N_TASKS = 480
HELD_OUT = 0.25


@lru_cache(maxsize=1)
def agent_world() -> World:
    return World(load_catalog())


@lru_cache(maxsize=1)
def task_split() -> tuple[list[Task], list[Task]]:
    """(training tasks, held-out tasks), the same in every process."""
    return split_tasks(make_tasks(agent_world(), N_TASKS, seed=TASK_SEED), HELD_OUT, seed=0)
