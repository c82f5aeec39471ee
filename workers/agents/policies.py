"""Loading and describing agent-policy versions (torch is imported only when loading)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from workers.ml.runtime import torch_threads
from workers.models import ModelVersion
from workers.versions import artifact_path


def policy_label(version: ModelVersion) -> str:
    """How traces and pages name the agent a version is: 'policy v3 (dpo)'."""
    return f"policy v{version.version} ({version.name})"


def policy_load(version: ModelVersion) -> tuple[Any, Any]:
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
    return torch_threads(1, cpu_only=True)(fn)
