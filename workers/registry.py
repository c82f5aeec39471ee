"""Job kinds: the long jobs a worker can run, each with its queue and runner.

A runner is a plain function ``runner(job, reporter) -> dict`` (the returned dict is merged
into the job's metrics). Apps register their kinds at import of their ``jobs`` module; the
worker task looks the kind up by name, so adding a job kind never touches the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.models import Job
    from workers.reporter import JobReporter

Runner = Callable[["Job", "JobReporter"], dict[str, Any] | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    queue: str  # "cpu" or "gpu"
    runner: Runner
    title: str
    max_attempts: int = 2


_KINDS: dict[str, JobKind] = {}


def register(
    name: str, *, queue: str, title: str, max_attempts: int = 2
) -> Callable[[Runner], Runner]:
    if queue not in ("cpu", "gpu"):
        raise ValueError(f"unknown queue {queue!r}")

    def decorator(runner: Runner) -> Runner:
        _KINDS[name] = JobKind(name, queue, runner, title, max_attempts)
        return runner

    return decorator


def get_kind(name: str) -> JobKind:
    load_all()
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown job kind {name!r}") from None


def all_kinds() -> dict[str, JobKind]:
    load_all()
    return dict(_KINDS)


def load_all() -> None:
    # Importing the apps' job modules registers their kinds; the imports are cheap
    # (runners import torch and friends lazily, inside the function).
    import labeling.jobs  # noqa: F401
    import rewards.jobs  # noqa: F401
    import workers.agents.jobs
    import workers.imagegen.jobs
    import workers.jobs
    import workers.qe.jobs  # noqa: F401
