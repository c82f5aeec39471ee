"""Where ML code runs and how it reports: the torch device, torch's CPU threads, progress.

Every ML package (``rewards.ml`` and each loop's ``workers/<loop>/ml``) and the Django
code that calls them use these, so a device or thread policy is decided once.
Torch is imported inside the functions: Django modules can import this one (to decorate a
job function, say) without importing torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import torch

__all__ = ["Progress", "device", "no_progress", "step_fraction", "sub_range", "torch_threads"]

D = TypeVar("D", contravariant=True)
T = TypeVar("T")


def device(prefer: str | torch.device | None = None) -> torch.device:
    """`prefer` when given (``"cpu"``, ``"cuda:1"``), else CUDA when present, else the CPU."""
    import torch

    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def torch_threads(n: int | None = 1, *, cpu_only: bool = False) -> Iterator[None]:
    """Run the block with `n` torch intra-op threads, then restore the previous count.

    ``n=None`` leaves the count alone (for callers that decide at run time); ``cpu_only``
    leaves it alone on a CUDA machine. Why one thread so often: on a small shared CPU torch's
    spinning threads fight other processes and the caller's own thread pool, and each step
    gets slower, not faster (bench/scoring.py: 262 images/s with 2 torch threads, 312 with
    1; an agent evaluation 48 s with two threads on a busy 2-core machine, 4 s with one).
    Also a decorator: ``@torch_threads(1, cpu_only=True)``.
    """
    import torch

    if n is None or (cpu_only and torch.cuda.is_available()):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Progress(Protocol[D]):
    """``progress(fraction, detail)``: `fraction` of the whole in [0, 1], and what the step
    measured: a metrics dict (``Progress[dict]``) or one number, its loss or reward
    (``Progress[float]``)."""

    def __call__(self, fraction: float, detail: D, /) -> None: ...


def no_progress(fraction: float, detail: Any, /) -> None:
    """A Progress that reports nothing (the default of functions that take one)."""


def step_fraction(step: int, total: int) -> float:
    """Share of the run done once the 0-based `step` of `total` has finished."""
    return (step + 1) / total


def sub_range(progress: Progress[T], start: float, end: float) -> Progress[T]:
    """A Progress for one stage of a longer run: its 0..1 becomes `start`..`end` of the whole
    (a fine-tuning stage that is 0.2-0.6 of a job's bar)."""

    def report(fraction: float, detail: T, /) -> None:
        progress(start + (end - start) * fraction, detail)

    return report
