"""Loading and describing agent-policy versions (torch is imported only when loading)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from workers.models import PipelineVersion
from workers.versions import artifact_path

FAMILY = PipelineVersion.Family.AGENT_POLICY


def policy_label(version: PipelineVersion) -> str:
    """How traces and pages name the agent a version is: 'policy v3 (dpo)'."""
    return f"policy v{version.version} ({version.name})"


def policy_load(version: PipelineVersion) -> tuple[Any, Any]:
    """(model, tokenizer) of a saved policy."""
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    path = artifact_path(version)
    return (
        GPT2LMHeadModel.from_pretrained(path).eval(),
        PreTrainedTokenizerFast.from_pretrained(path),
    )


F = TypeVar("F", bound=Callable[..., Any])


def one_cpu_thread(fn: F) -> F:
    """Run `fn` with one torch CPU thread (no change on a GPU machine).

    The tiny policies gain nothing from intra-op threads, and on a shared CPU their spinning
    threads cost many times over: one evaluation measured 48 s with two threads on a busy
    2-core machine, 4 s with one."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import torch

        if torch.cuda.is_available():
            return fn(*args, **kwargs)
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper  # type: ignore[return-value]
