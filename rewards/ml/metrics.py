"""Evaluation metrics for one aspect model: AUC, accuracy and expected calibration error.

Scores are P(defect-free); targets are 1 = defect-free, 0 = defect. All functions take numpy
arrays (or anything `np.asarray` accepts) and optional per-item weights.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half). NaN with one class only."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(targets).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(scores: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> float:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(targets).astype(bool)
    return float(((s >= threshold) == y).mean()) if len(s) else float("nan")


def expected_calibration_error(scores: np.ndarray, targets: np.ndarray, n_bins: int = 10) -> float:
    """Mean |confidence - frequency| over equal-width score bins, weighted by bin size."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(targets, dtype=float)
    if not len(s):
        return float("nan")
    bins = np.minimum((s * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(s[m].mean() - y[m].mean())
    return float(ece)


def log_loss(scores: np.ndarray, targets: np.ndarray, eps: float = 1e-6) -> float:
    s = np.clip(np.asarray(scores, dtype=float), eps, 1 - eps)
    y = np.asarray(targets, dtype=float)
    return float(-(y * np.log(s) + (1 - y) * np.log(1 - s)).mean()) if len(s) else float("nan")


def aspect_metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """The metrics shown per aspect model version."""
    y = np.asarray(targets, dtype=float)
    return {
        "n": len(y),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": auc(scores, targets),
        "accuracy": accuracy(scores, targets),
        "ece": expected_calibration_error(scores, targets),
        "log_loss": log_loss(scores, targets),
    }
