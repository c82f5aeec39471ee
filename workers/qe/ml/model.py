"""The query-expansion language model: configs, tokenizer, prompt format and greedy expansion.

``tiny`` is a 4-layer GPT-2 with a byte-level BPE trained here on catalog and query text;
``full`` loads a pre-trained causal LM from a local path (never from a hub).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationMixin,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from workers.ml.lm import tiny_gpt2

from .queries import SEP

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EOS = "<|endoftext|>"
PAD = "<|pad|>"


@dataclass(frozen=True)
class ModelConfig:
    size: str = "tiny"  # "tiny" (built here) or "full" (pre-trained, from `path`)
    path: str | None = None  # local folder with a causal LM and its tokenizer, for "full"
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 128
    vocab_size: int = 2000  # an upper bound: BPE stops early on a small corpus
    seed: int = 7


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> PreTrainedTokenizerFast:
    """Byte-level BPE over the domain text; the real vocabulary may be smaller than asked."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        list(texts),
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS, PAD],
        show_progress=False,
    )
    # The wrapper's inner `Tokenizer` is what transformers can save and reload.
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, eos_token=EOS, bos_token=EOS, pad_token=PAD
    )
    # Left padding so batched generation continues every prompt right at its end.
    tok.padding_side = "left"
    return tok


def build_model(
    cfg: ModelConfig, corpus: Sequence[str] = ()
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A fresh tiny model with a tokenizer trained on ``corpus``, or the local full model."""
    torch.manual_seed(cfg.seed)
    if cfg.size == "full":
        if not cfg.path:
            raise ValueError("the full config needs a local model path")
        return load(cfg.path)
    if cfg.size != "tiny":
        raise ValueError(f"unknown model size {cfg.size!r}")
    tok = train_tokenizer(corpus, cfg.vocab_size)
    model = tiny_gpt2(
        tok, n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=cfg.n_head, n_positions=cfg.n_positions
    )
    return model, tok


def load(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    # AutoTokenizer is annotated to return a fast or a SentencePiece backend; it picks the
    # fast one whenever the model has it, and callers rely on the fast tokenizer's API.
    tok = cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(path, local_files_only=True))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    # Float32 whatever dtype the checkpoint was saved in: transformers loads a checkpoint in
    # its own dtype (Qwen's are bfloat16), where AdamW's small updates round away and PPO's
    # float32 value head cannot read the hidden states.
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    return model, tok


def save(model: PreTrainedModel, tok: PreTrainedTokenizerFast, path: str | Path) -> None:
    model.save_pretrained(path)
    tok.save_pretrained(path)


def prompt(query: str) -> str:
    return f"query: {query.strip().lower()}\nexpansion:"


def parse_expansion(text: str) -> list[str]:
    """Terms from generated text: split on `|` or commas, trimmed, empties dropped."""
    text = text.split("\n")[0]
    parts = text.replace(",", "|").split("|")
    return [p.strip() for p in parts if p.strip()]


def target(terms: Sequence[str] | str) -> str:
    """Completion text for training: leading space, terms joined by SEP (EOS added later)."""
    return " " + (terms if isinstance(terms, str) else SEP.join(terms))


@torch.no_grad()
def generate(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    queries: Sequence[str],
    max_new_tokens: int = 16,
    sample: bool = False,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Batched generation: (prompt ids, completion ids incl. EOS/pad, completion texts)."""
    enc = tok([prompt(q) for q in queries], return_tensors="pt", padding=True).to(model.device)
    # transformers 5 types PreTrainedModel without GenerationMixin; causal LMs (GPT-2, the
    # AutoModelForCausalLM classes) all mix it in.
    out = cast(GenerationMixin, model).generate(
        **enc,
        max_new_tokens=max_new_tokens,
        do_sample=sample,
        temperature=temperature if sample else None,
        top_k=0 if sample else None,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    completion = out[:, enc["input_ids"].shape[1] :]
    texts = tok.batch_decode(completion, skip_special_tokens=True)
    return enc["input_ids"], completion, texts


def expand(
    model: PreTrainedModel, tok: PreTrainedTokenizerFast, query: str, max_new_tokens: int = 16
) -> list[str]:
    """Greedy (deterministic) expansion terms for one query."""
    model.eval()
    _, _, texts = generate(model, tok, [query], max_new_tokens)
    return parse_expansion(texts[0])


def expanded_query(query: str, terms: Sequence[str]) -> str:
    """What the search engine receives: the shopper's words, then the added terms."""
    return " ".join([query, *terms])
