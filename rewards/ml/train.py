"""Training loop for one aspect model, with a fixed hash-based held-out split.

Images and references are uint8 tensors [N, C, S, S] at the aspect's input size (uint8 keeps
10k images at 96x96 under 300 MB); targets are soft P(ok) values from `labels.py` and weights
their confidence. Progress goes to a callback so the job row can show a bar, and the loop can
be stopped between epochs.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from workers.ml import runtime
from workers.ml.runtime import Progress, step_fraction

from . import synth
from .aspects import AspectSpec
from .metrics import aspect_metrics
from .model import AspectNet, AspectNetConfig

HELDOUT_SHARE = 0.2


def split_for(item_key: Hashable, heldout_share: float = HELDOUT_SHARE, salt: str = "") -> str:
    """'train' or 'heldout' from a hash of the item key: the same item lands on the same
    side in every retraining, so held-out metrics stay comparable across model versions.
    `salt` (e.g. the project id) gives each project its own split."""
    digest = hashlib.sha256(f"{salt}:{item_key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "heldout" if u < heldout_share else "train"


@dataclass
class TrainConfig:
    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    # Horizontal flips are safe for every brief aspect (a mirrored ad is as usable as the
    # original); shifts are not (they change placement), so none here.
    hflip: bool = True
    # Soft targets keep reviewer disagreement in the loss; hard ones use weight instead.
    soft_targets: bool = True
    min_weight: float = 0.05
    # Aligned aspects only: the share of each batch's confidently intact items (P(ok) >= 0.8)
    # replaced by a copy with a synthetic shape defect, labelled defective (rewards.ml.synth);
    # None: the aspect's own AspectSpec.synthetic_defects.
    synthetic: float | None = None
    device: str | None = None


@dataclass
class TrainResult:
    model: AspectNet
    metrics: dict[str, float]
    loss_curve: list[float]
    stopped: bool = False
    seconds: float = 0.0
    heldout_scores: np.ndarray | None = field(default=None, repr=False)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# References: one per image ([N, C, S, S]), or a bank of distinct ones with each image's row
# (bank [U, C, S, S], index [N]) -- a few products appear in many ads, so the bank form saves
# memory and lets a batch run the reference stem once per distinct product.
Refs = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def _as_bank(refs: Refs | None, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    if refs is None:
        return None
    if isinstance(refs, tuple):
        bank, index = refs
        index = torch.as_tensor(index, dtype=torch.long)
        if len(index) != n:
            raise ValueError("reference index must have one row per image")
        return bank, index
    if len(refs) != n:
        raise ValueError("refs must have one row per image")
    return refs, torch.arange(n)


def _batch_refs(bank_index, idx: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor]:
    bank, index = bank_index
    rows, inverse = torch.unique(index[idx], return_inverse=True)
    return bank[rows].to(device), inverse.to(device)


@torch.no_grad()
def predict(
    model: AspectNet,
    images: torch.Tensor,
    refs: Refs | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """P(defect-free) for each image, as a numpy array."""
    model.eval()
    device = next(model.parameters()).device
    bank = _as_bank(refs, len(images)) if model.config.ref_mode != "none" else None
    out = []
    for i in range(0, len(images), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(images)))
        x = images[idx].to(device)
        r, ri = _batch_refs(bank, idx, device) if bank is not None else (None, None)
        out.append(torch.sigmoid(model(x, r, ri)).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0)


def _split_indices(keys: Sequence[Hashable], salt: str) -> tuple[np.ndarray, np.ndarray]:
    sides = np.array([split_for(k, salt=salt) for k in keys])
    return np.flatnonzero(sides == "train"), np.flatnonzero(sides == "heldout")


def train_aspect(
    spec: AspectSpec,
    images: torch.Tensor,
    refs: Refs | None,
    targets: torch.Tensor | np.ndarray,
    weights: torch.Tensor | np.ndarray | None,
    config: TrainConfig | None = None,
    *,
    keys: Sequence[Hashable] | None = None,
    split_salt: str = "",
    progress: Progress[float] | None = None,
    should_stop: Callable[[], bool] | None = None,
    seed: int = 0,
    model_config: AspectNetConfig | None = None,
    eval_set: tuple[torch.Tensor, Refs | None, np.ndarray] | None = None,
) -> TrainResult:
    """Train one aspect model. With `keys`, items whose key hashes to 'heldout' are kept out
    of training and the returned metrics are measured on them (against the combined labels).
    `eval_set` = (images, refs, targets) measures on a separate labelled set instead.
    `progress(fraction, loss)` is called after every epoch; `should_stop()` is checked
    before each epoch and ends training early with the model as it is."""
    config = config or TrainConfig()
    seed_everything(seed)
    device = runtime.device(config.device)
    t0 = time.perf_counter()
    targets_t = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    if weights is None:
        weights_t = torch.ones_like(targets_t)
    else:
        weights_t = torch.as_tensor(np.asarray(weights), dtype=torch.float32)
    if len(images) != len(targets_t) or len(weights_t) != len(targets_t):
        raise ValueError("images, targets and weights must have the same length")
    if spec.uses_reference and refs is None:
        raise ValueError(f"aspect {spec.name!r} needs reference inputs")
    bank = _as_bank(refs, len(images)) if spec.uses_reference else None
    if not config.soft_targets:
        weights_t = weights_t.clamp(min=config.min_weight)
        targets_t = (targets_t >= 0.5).float()
    else:
        # Soft targets already carry the doubt; the weight only drops near-ties a little.
        weights_t = 0.5 + 0.5 * weights_t

    if keys is not None:
        train_idx, held_idx = _split_indices(keys, split_salt)
    else:
        train_idx, held_idx = np.arange(len(images)), np.zeros(0, dtype=int)
    if len(train_idx) == 0:
        raise ValueError("no training items")

    # Channels-last weights let oneDNN run these small convolutions a little faster on CPU
    # (shape model, interleaved runs: 0.43 -> 0.39 ms per image and step); the
    # model goes back to the default layout before it is returned (and saved).
    model = AspectNet(model_config or spec.model_config()).to(device)
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    total = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=max(total, 1), pct_start=0.2
    )
    gen = torch.Generator().manual_seed(seed)
    synthetic = spec.synthetic_defects if config.synthetic is None else config.synthetic
    if synthetic and not spec.aligned:
        raise ValueError(f"synthetic defects need an aligned aspect; {spec.name!r} is not")
    loss_curve: list[float] = []
    stopped = False
    train_idx_t = torch.as_tensor(train_idx)
    for epoch in range(config.epochs):
        if should_stop is not None and should_stop():
            stopped = True
            break
        model.train()
        order = train_idx_t[torch.randperm(len(train_idx_t), generator=gen)]
        run_loss, run_w = 0.0, 0.0
        for b in range(steps_per_epoch):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            if len(idx) < 2:  # BatchNorm cannot train on a single item
                continue
            x, y, w = images[idx], targets_t[idx], weights_t[idx]
            real = torch.ones(len(idx), dtype=torch.bool)
            if synthetic > 0 and bank is not None:
                # Planted on the CPU copies, before the batch moves to the device.
                pick = (y >= 0.8) & (torch.rand(len(idx), generator=gen) < synthetic)
                if pick.any():
                    x[pick], planted = synth.plant(x[pick], bank[0][bank[1][idx[pick]]], gen)
                    where = pick.nonzero().flatten()[planted]
                    y[where], w[where], real[where] = 0.0, 1.0, False
            x, y, w, real = x.to(device), y.to(device), w.to(device), real.to(device)
            r, ri = _batch_refs(bank, idx, device) if bank is not None else (None, None)
            if config.hflip:
                # The reference is not flipped with its image: it is a separate view of
                # the product, and a mirrored product is the same product.
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x[flip] = x[flip].flip(-1)
            logits = model(x, r, ri)
            per_item = F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w
            loss = per_item.sum() / w.sum().clamp(min=1e-6)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            # The curve shows the fit to the labels; synthetic defects are left out of it.
            run_loss += float(per_item.detach()[real].sum())
            run_w += float(w[real].sum())
        epoch_loss = run_loss / max(run_w, 1e-9)
        loss_curve.append(epoch_loss)
        if progress is not None:
            progress(step_fraction(epoch, config.epochs), epoch_loss)

    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    metrics: dict[str, float] = {"epochs_run": len(loss_curve), "n_train": len(train_idx)}
    held_scores = None
    if eval_set is not None:
        e_img, e_ref, e_y = eval_set
        held_scores = predict(model, e_img, e_ref if spec.uses_reference else None)
        metrics.update(aspect_metrics(held_scores, (np.asarray(e_y) >= 0.5).astype(int)))
    elif len(held_idx):
        hi = torch.as_tensor(held_idx)
        held_refs = (bank[0], bank[1][hi]) if bank is not None else None
        held_scores = predict(model, images[hi], held_refs)
        held_targets = (targets_t[hi].numpy() >= 0.5).astype(int)
        metrics.update(aspect_metrics(held_scores, held_targets))
    metrics["seconds"] = time.perf_counter() - t0
    return TrainResult(
        model=model.cpu(),
        metrics=metrics,
        loss_curve=loss_curve,
        stopped=stopped,
        seconds=metrics["seconds"],
        heldout_scores=held_scores,
    )
