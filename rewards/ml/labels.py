"""Turn overlapping annotators' labels into one training target per item and aspect.

Two estimators: (weighted) majority vote, and Dawid-Skene, which learns each annotator's
sensitivity and specificity by EM so a careless annotator is outvoted even when they are in
the majority of one item's few votes. Gold items (known answers) give each annotator a prior
accuracy and are clamped to their known value during EM.

Labels are 1 = aspect ok (defect-free) and 0 = defect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Annotation:
    item: Hashable
    annotator: Hashable
    aspect: str
    value: int  # 1 = ok, 0 = defect


@dataclass
class AspectTargets:
    """Targets for one aspect: parallel arrays over `items`."""

    items: list[Hashable]
    p_ok: np.ndarray  # posterior P(ok), a soft target
    label: np.ndarray  # hard target, 1 = ok
    weight: np.ndarray  # confidence in [0, 1]: |2 p_ok - 1|
    n_votes: np.ndarray
    annotator_quality: dict[Hashable, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[Hashable, float]:
        return dict(zip(self.items, self.p_ok.tolist()))


def _by_aspect(annotations: Iterable[Annotation]) -> dict[str, list[Annotation]]:
    out: dict[str, list[Annotation]] = defaultdict(list)
    for a in annotations:
        if a.value not in (0, 1):
            raise ValueError(f"label value must be 0 or 1, got {a.value!r}")
        out[a.aspect].append(a)
    return out


def gold_accuracy(
    annotations: Iterable[Annotation],
    gold: Mapping[tuple[Hashable, str], int],
    prior: tuple[float, float] = (4.0, 1.0),
) -> dict[Hashable, float]:
    """Per-annotator accuracy on gold items, smoothed by a Beta(prior) so an annotator with
    two gold answers is not declared perfect (or useless)."""
    right: dict[Hashable, float] = defaultdict(float)
    seen: dict[Hashable, float] = defaultdict(float)
    for a in annotations:
        truth = gold.get((a.item, a.aspect))
        seen[a.annotator] += 0.0
        if truth is not None:
            seen[a.annotator] += 1
            right[a.annotator] += float(a.value == truth)
    return {k: (right[k] + prior[0]) / (seen[k] + prior[0] + prior[1]) for k in seen}


def accuracy_weight(acc: float) -> float:
    """Log-odds weight: the optimal weighted vote for independent annotators."""
    acc = min(max(acc, 0.5), 0.999)
    return float(np.log(acc / (1 - acc)))


def _finish(items, p_ok, n_votes, quality) -> AspectTargets:
    p = np.clip(np.asarray(p_ok, dtype=float), 0.0, 1.0)
    return AspectTargets(
        items=list(items),
        p_ok=p,
        label=(p >= 0.5).astype(np.int64),
        weight=np.abs(2 * p - 1),
        n_votes=np.asarray(n_votes, dtype=np.int64),
        annotator_quality=quality,
    )


def majority_vote(
    annotations: Iterable[Annotation],
    annotator_weights: Mapping[Hashable, float] | None = None,
) -> dict[str, AspectTargets]:
    """Weighted vote per item and aspect. p_ok is the weighted share of 'ok' votes, so a 2-1
    split gives a target of 0.67 with weight 0.33, and a tie gives weight 0."""
    out = {}
    for aspect, anns in _by_aspect(annotations).items():
        ok: dict[Hashable, float] = defaultdict(float)
        tot: dict[Hashable, float] = defaultdict(float)
        n: dict[Hashable, int] = defaultdict(int)
        for a in anns:
            w = 1.0 if annotator_weights is None else annotator_weights.get(a.annotator, 1.0)
            ok[a.item] += w * a.value
            tot[a.item] += w
            n[a.item] += 1
        items = list(tot)
        p = [ok[i] / tot[i] if tot[i] > 0 else 0.5 for i in items]
        out[aspect] = _finish(items, p, [n[i] for i in items], {})
    return out


def _dawid_skene_aspect(
    anns: list[Annotation],
    gold: Mapping[tuple[Hashable, str], int],
    init_accuracy: Mapping[Hashable, float] | None,
    n_iter: int,
    smoothing: float,
) -> AspectTargets:
    items = list(dict.fromkeys(a.item for a in anns))
    annotators = list(dict.fromkeys(a.annotator for a in anns))
    ii = {k: i for i, k in enumerate(items)}
    jj = {k: j for j, k in enumerate(annotators)}
    it = np.array([ii[a.item] for a in anns])
    an = np.array([jj[a.annotator] for a in anns])
    y = np.array([a.value for a in anns], dtype=float)
    n_items, n_ann = len(items), len(annotators)
    aspect = anns[0].aspect
    gold_idx = np.array([ii[i] for (i, asp) in gold if asp == aspect and i in ii], dtype=int)
    gold_val = np.array([gold[(items[k], aspect)] for k in gold_idx], dtype=float).reshape(-1)

    # Start from a weighted vote (gold-accuracy weights when given): EM needs a start where
    # most annotators are better than chance, or it can converge to the flipped solution.
    w = np.ones(n_ann)
    if init_accuracy:
        w = np.array([accuracy_weight(init_accuracy.get(k, 0.75)) for k in annotators])
    num = np.bincount(it, weights=w[an] * y, minlength=n_items)
    den = np.bincount(it, weights=w[an], minlength=n_items)
    post = np.where(den > 0, num / np.maximum(den, 1e-12), 0.5)
    post[gold_idx] = gold_val

    for _ in range(n_iter):
        # M-step: sensitivity P(say ok | ok), specificity P(say defect | defect), with
        # pseudo-counts that pull a sparsely seen annotator toward 'fairly reliable'.
        pos = post[it]
        sens = (np.bincount(an, weights=pos * y, minlength=n_ann) + 4 * smoothing) / (
            np.bincount(an, weights=pos, minlength=n_ann) + 5 * smoothing
        )
        spec = (np.bincount(an, weights=(1 - pos) * (1 - y), minlength=n_ann) + 4 * smoothing) / (
            np.bincount(an, weights=1 - pos, minlength=n_ann) + 5 * smoothing
        )
        prior = float(np.clip(post.mean(), 0.01, 0.99))
        # E-step in log space: sum each label's log-likelihood under both classes.
        ll_ok = np.where(y == 1, np.log(sens[an]), np.log(1 - sens[an]))
        ll_bad = np.where(y == 0, np.log(spec[an]), np.log(1 - spec[an]))
        log_ok = np.log(prior) + np.bincount(it, weights=ll_ok, minlength=n_items)
        log_bad = np.log(1 - prior) + np.bincount(it, weights=ll_bad, minlength=n_items)
        post = 1.0 / (1.0 + np.exp(np.clip(log_bad - log_ok, -50, 50)))
        post[gold_idx] = gold_val

    n_votes = np.bincount(it, minlength=n_items)
    quality = {
        annotators[j]: {
            "sensitivity": float(sens[j]),
            "specificity": float(spec[j]),
            "weight": float(np.log(sens[j] * spec[j] / max((1 - sens[j]) * (1 - spec[j]), 1e-9))),
        }
        for j in range(n_ann)
    }
    return _finish(items, post, n_votes, quality)


def dawid_skene(
    annotations: Iterable[Annotation],
    gold: Mapping[tuple[Hashable, str], int] | None = None,
    n_iter: int = 20,
    smoothing: float = 1.0,
) -> dict[str, AspectTargets]:
    """Binary Dawid-Skene per aspect. `gold` maps (item, aspect) -> true value; gold items
    set each annotator's starting weight and stay clamped to their value."""
    anns = list(annotations)
    gold = dict(gold or {})
    init = gold_accuracy(anns, gold) if gold else None
    return {
        aspect: _dawid_skene_aspect(group, gold, init, n_iter, smoothing)
        for aspect, group in _by_aspect(anns).items()
    }


def combine_labels(
    annotations: Iterable[Annotation],
    method: str = "dawid_skene",
    gold: Mapping[tuple[Hashable, str], int] | None = None,
) -> dict[str, AspectTargets]:
    """One entry point for the training-data selection: 'dawid_skene' or 'majority'
    (majority is weighted by gold accuracy when gold is given)."""
    anns = list(annotations)
    if method == "dawid_skene":
        return dawid_skene(anns, gold=gold)
    if method == "majority":
        weights = None
        if gold:
            weights = {k: accuracy_weight(v) for k, v in gold_accuracy(anns, gold).items()}
        return majority_vote(anns, annotator_weights=weights)
    raise ValueError(f"unknown label combination method {method!r}")
