"""Small language models shared by the loops: the tiny GPT-2 both the query-expansion model
and the agent policy are, and the bridge from a transformers Trainer's logs to a Progress.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, TrainerCallback

from workers.ml.runtime import Progress

__all__ = ["TrainerProgress", "tiny_gpt2"]


def tiny_gpt2(
    tokenizer: PreTrainedTokenizerFast, *, n_layer: int, n_embd: int, n_head: int, n_positions: int
) -> GPT2LMHeadModel:
    """A fresh GPT-2 sized to `tokenizer`, whose EOS is also its BOS. Seed torch first: the
    weights come from torch's global generator."""
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config)


class TrainerProgress(TrainerCallback):
    """Reports each Trainer log line as ``progress(global_step / total, metrics(logs))``.

    `metrics` picks what to show from a log line, or returns None to skip the line; `total`
    defaults to the trainer's ``max_steps``."""

    def __init__(
        self,
        progress: Progress[dict] | None,
        metrics: Callable[[Mapping[str, Any]], dict | None],
        total: int | None = None,
    ) -> None:
        self.progress, self.metrics, self.total = progress, metrics, total

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.progress is None or not logs:
            return
        shown = self.metrics(logs)
        if shown is not None:
            total = self.total or state.max_steps
            self.progress(min(1.0, state.global_step / max(1, total)), shown)
