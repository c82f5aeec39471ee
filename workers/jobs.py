"""Job kinds of the workers app itself."""

from __future__ import annotations

import time
from typing import Any

from workers.registry import register


@register("worker_check", queue="cpu", title="Check that a worker serves this queue")
def run_worker_check(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Ticks for a few seconds with progress: proves a worker takes jobs from the queue and
    reports back. Ops run it on each queue after adding a worker machine."""
    seconds = float(job.params.get("seconds", 3))
    steps = max(1, int(seconds * 4))
    for i in range(steps):
        time.sleep(seconds / steps)
        reporter.progress((i + 1) / steps, log=f"tick {i + 1}/{steps}" if i % 4 == 3 else None)
    return {"ticks": steps}


@register("worker_check_gpu", queue="gpu", title="Check that a worker serves the gpu queue")
def run_worker_check_gpu(job, reporter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import torch

    result = run_worker_check(job, reporter) or {}
    return {**result, "cuda": torch.cuda.is_available()}
