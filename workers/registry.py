"""Job kinds: the long jobs a worker can run, each with its queue, runner and parameters.

A kind declares its parameters as a frozen dataclass (fields made with
``workers.params.param``) and registers with it:

    @register("seed_world", queue="cpu", title="…", params=SeedWorldParams)
    def run_seed_world(job: Job, reporter: JobReporter, params: SeedWorldParams) -> dict: ...

The job machinery checks the job row's stored parameters into that dataclass and passes
it to the runner; the returned dict is merged into the job's metrics. Apps register their
kinds at import of their ``jobs`` module; the worker task looks the kind up by name, so
adding a job kind never touches the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from workers.params import ParamField, params_clean, params_fields, params_parse

if TYPE_CHECKING:
    from workers.models import Job
    from workers.reporter import JobReporter

P = TypeVar("P")
R = TypeVar("R", bound=dict[str, Any] | None)
Runner = Callable[["Job", "JobReporter", Any], dict[str, Any] | None]
# A runner of a kind whose parameters are P: mypy checks it takes the dataclass it declares.
RunnerOf = Callable[["Job", "JobReporter", P], R]


@dataclass(frozen=True)
class JobKind:
    name: str
    queue: str  # "cpu" or "gpu"
    runner: Runner
    title: str
    params: type
    max_attempts: int = 2
    # Offered to people in the jobs form and the API's kind choices; a kind only the app
    # starts (the demo's seeding) is not, though job_start still runs it.
    offered: bool = True

    @property
    def fields(self) -> tuple[ParamField, ...]:
        return params_fields(self.params)

    def params_clean(self, raw: Any) -> dict[str, Any]:
        """Parameters people gave, checked (ParamError), as the job row stores them."""
        return params_clean(self.params, raw, kind=self.name)

    def params_parse(self, raw: Any) -> Any:
        """A job row's stored parameters as this kind's dataclass (ParamError)."""
        return params_parse(self.params, raw, kind=self.name)


_KINDS: dict[str, JobKind] = {}


def register(
    name: str,
    *,
    queue: str,
    title: str,
    params: type[P],
    max_attempts: int = 2,
    offered: bool = True,
) -> Callable[[RunnerOf[P, R]], RunnerOf[P, R]]:
    if queue not in ("cpu", "gpu"):
        raise ValueError(f"unknown queue {queue!r}")
    params_fields(params)  # a declaration forms and checks cannot handle fails at import

    def decorator(runner: RunnerOf[P, R]) -> RunnerOf[P, R]:
        _KINDS[name] = JobKind(name, queue, runner, title, params, max_attempts, offered)
        return runner

    return decorator


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown job kind {name!r}") from None


def all_kinds() -> dict[str, JobKind]:
    # Every app imports its own jobs module in its AppConfig.ready(), so once Django is set
    # up (web, worker, tests) every kind is here; this module names none of them.
    return dict(_KINDS)


def offered_kinds() -> dict[str, JobKind]:
    """The kinds a person may pick in the jobs form or the API."""
    return {name: kind for name, kind in _KINDS.items() if kind.offered}
