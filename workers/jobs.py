"""Job kinds of the workers app itself."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.params import param
from workers.registry import register

if TYPE_CHECKING:
    from workers.models import Job
    from workers.reporter import JobReporter


@dataclass(frozen=True)
class WorkerCheckParams:
    seconds: int = param(3, low=1, high=600, help="how long to tick")


@register(
    "worker_check",
    queue="cpu",
    title="Check that a worker serves this queue",
    params=WorkerCheckParams,
)
def run_worker_check(job: Job, reporter: JobReporter, params: WorkerCheckParams) -> dict[str, Any]:
    """Ticks for a few seconds with progress: proves a worker takes jobs from the queue and
    reports back. Ops run it on each queue after adding a worker machine."""
    seconds = float(params.seconds)
    steps = max(1, int(seconds * 4))
    for i in range(steps):
        time.sleep(seconds / steps)
        reporter.progress((i + 1) / steps, log=f"tick {i + 1}/{steps}" if i % 4 == 3 else None)
    return {"ticks": steps}


@register(
    "worker_check_gpu",
    queue="gpu",
    title="Check that a worker serves the gpu queue",
    params=WorkerCheckParams,
)
def run_worker_check_gpu(
    job: Job, reporter: JobReporter, params: WorkerCheckParams
) -> dict[str, Any]:
    import torch

    result = run_worker_check(job, reporter, params)
    return {**result, "cuda": torch.cuda.is_available()}
