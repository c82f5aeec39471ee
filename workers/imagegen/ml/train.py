"""Denoising training of the generator on good (usable) composed ads."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from workers.ml.runtime import Progress, step_fraction

from .model import AdImageGenerator, make_scheduler


@dataclass
class GenData:
    """Training examples at generation resolution (all tensors share the first dimension)."""

    target: torch.Tensor  # [N,3,r,r] whole ad in [-1,1]
    known: torch.Tensor  # [N,3,r,r] target * mask
    mask: torch.Tensor  # [N,1,r,r] product coverage
    text: torch.Tensor  # [N,384]

    def __len__(self) -> int:
        return self.target.shape[0]

    def batch(self, idx: torch.Tensor, device: torch.device | str) -> tuple[torch.Tensor, ...]:
        return tuple(t[idx].to(device) for t in (self.target, self.known, self.mask, self.text))

    @classmethod
    def from_images(
        cls, images: torch.Tensor, masks: torch.Tensor, text: torch.Tensor, resolution: int
    ) -> GenData:
        """images [N,3,H,W] in [0,1], masks [N,1,H,W] in {0,1} at any size >= resolution."""
        target = F.adaptive_avg_pool2d(images.float(), resolution) * 2 - 1
        mask = F.adaptive_avg_pool2d(masks.float(), resolution)
        return cls(target, target * mask, mask, text.float())


@dataclass
class TrainConfig:
    steps: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    warmup: int = 20


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


_SCHEDULERS: dict[int, object] = {}


def _noise_scheduler(n_t: int, model: AdImageGenerator):
    # add_noise only reads the fixed beta schedule; building a scheduler per step is waste.
    if n_t not in _SCHEDULERS:
        _SCHEDULERS[n_t] = make_scheduler(model.cfg)
    return _SCHEDULERS[n_t]


def denoising_loss(
    model: AdImageGenerator,
    batch: tuple[torch.Tensor, ...],
    noise: torch.Tensor,
    t: torch.Tensor,
) -> torch.Tensor:
    """Denoising MSE (Ho et al. 2020) at the given noise and timesteps, against the target
    the config's prediction type names (noise, clean image or velocity)."""
    target, known, mask, text = batch
    sched = _noise_scheduler(model.cfg.num_train_timesteps, model)
    noisy = sched.add_noise(target, noise, t)
    return F.mse_loss(
        model(noisy, t, known, mask, text), regression_target(sched, target, noise, t)
    )


def regression_target(
    sched, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    kind = sched.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "sample":
        return x0
    return sched.get_velocity(x0, noise, t)


def train_generator(
    model: AdImageGenerator,
    data: GenData,
    cfg: TrainConfig,
    progress: Progress[float] | None = None,
    loss_fn: Callable | None = None,
) -> TrainResult:
    """Plain AdamW denoising training; `loss_fn(model, batch, noise, t)` can replace the loss
    (pruning's distillation recovery reuses this loop)."""
    import time

    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup))
    loss_fn = loss_fn or denoising_loss
    n_t = model.cfg.num_train_timesteps
    model.train()
    result = TrainResult()
    start = time.perf_counter()
    for step in range(cfg.steps):
        idx = torch.randint(0, len(data), (cfg.batch_size,), generator=gen)
        batch = data.batch(idx, device)
        noise = torch.randn(batch[0].shape, generator=gen).to(device)
        t = torch.randint(0, n_t, (cfg.batch_size,), generator=gen).to(device)
        loss = loss_fn(model, batch, noise, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        result.losses.append(loss.item())
        if progress is not None:
            progress(step_fraction(step, cfg.steps), result.losses[-1])
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


@torch.no_grad()
def heldout_loss(
    model: AdImageGenerator, data: GenData, seed: int = 1234, repeats: int = 4
) -> float:
    """Denoising loss on fixed (noise, t) draws, so two models are compared on equal terms."""
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    total, count = 0.0, 0
    for _ in range(repeats):
        for start in range(0, len(data), 64):
            idx = torch.arange(start, min(len(data), start + 64))
            batch = data.batch(idx, device)
            noise = torch.randn(batch[0].shape, generator=gen).to(device)
            t = torch.randint(0, model.cfg.num_train_timesteps, (len(idx),), generator=gen)
            total += float(denoising_loss(model, batch, noise, t.to(device))) * len(idx)
            count += len(idx)
    return total / count


def step_times(model: AdImageGenerator, data: GenData, steps: int, seed: int) -> list[float]:
    """Seconds per training step of a copy of ``model`` (the first step is dropped:
    allocator warm-up). Throughput before and after pruning is measured with this."""
    m = copy.deepcopy(model)
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(_f: float, _l: float) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    train_generator(m, data, TrainConfig(steps=steps + 1, batch_size=16, seed=seed), tick)
    return times[1:]
