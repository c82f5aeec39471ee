"""Reward-gradient refinement of the generator (DRaFT-K / ReFL) with a consistency term.

Pieces and where they come from:
- backpropagate the reward through the sampler, but only through the last K denoising steps,
  earlier steps detached: DRaFT-K (Clark et al. 2023, "Directly Fine-Tuning Diffusion Models
  on Differentiable Rewards");
- the late steps are where a reward gradient is informative and cheap: ReFL (Xu et al. 2023,
  ImageReward), which scores the prediction after a random late step;
- a consistency term, noise-prediction MSE to a frozen copy of the pre-trained model on the
  same noisy inputs, keeps the model near its data distribution (a KL surrogate, as the KL
  between two Gaussian denoising steps is a scaled MSE of their means; cf. DPOK, Fan et al.
  2023). It limits reward hacking; the oracle check below detects what is left of it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from workers.ml.runtime import Progress, step_fraction

from .model import AdImageGenerator
from .sampling import (
    Conditions,
    compose_canvas,
    conditions_for,
    denoise,
    generate_ads,
    initial_noise,
)

# images [B,3,H,W] in [0,1] -> [B]. A reward with `uses_cutouts = True` (the live
# ensemble, ensemble_reward.py) is called as reward_fn(images, cutouts) instead.
RewardFn = Callable[..., torch.Tensor]
# judge(ad, cutout) -> True when the oracle calls the generated ad usable
JudgeFn = Callable[[Any, Image.Image], bool]


@dataclass
class RLConfig:
    steps: int = 40
    batch_size: int = 8
    lr: float = 2e-4
    grad_last_k: int = 2  # DRaFT-K's K
    sample_steps: int = 10
    consistency_weight: float = 1.0
    seed: int = 0


@dataclass
class RLResult:
    rewards: list[float] = field(default_factory=list)
    consistency: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _select(cond: Conditions, idx: Sequence[int]) -> Conditions:
    i = torch.as_tensor(list(idx))
    return Conditions(
        cond.known[i],
        cond.mask[i],
        cond.text[i],
        cond.product_rgb[i],
        cond.product_alpha[i],
        [cond.layouts[j] for j in idx],
    )


def reward_of(
    reward_fn: RewardFn, images: torch.Tensor, cutouts: Sequence[Image.Image]
) -> torch.Tensor:
    """Call the reward with the images' product cut-outs when it compares against them."""
    if getattr(reward_fn, "uses_cutouts", False):
        return reward_fn(images, list(cutouts))
    return reward_fn(images)


def refine_with_reward(
    model: AdImageGenerator,
    reward_fn: RewardFn,
    titles: Sequence[str],
    cutouts: Sequence[Image.Image],
    cfg: RLConfig,
    reference: AdImageGenerator | None = None,
    progress: Progress[float] | None = None,
) -> RLResult:
    """Fine-tune `model` in place to raise `reward_fn` on ads of the given products."""
    device = next(model.parameters()).device
    reference = reference or copy.deepcopy(model)
    reference.eval().requires_grad_(False)
    mcfg = model.cfg
    all_cond = conditions_for(titles, cutouts, mcfg.resolution, mcfg.canvas_size).to(device)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    result = RLResult()
    start = time.perf_counter()
    model.train()
    for step in range(cfg.steps):
        idx = rng.integers(0, len(titles), cfg.batch_size).tolist()
        cond = _select(all_cond, idx)
        seeds = rng.integers(0, 2**31 - 1, cfg.batch_size).tolist()
        noise = initial_noise(seeds, mcfg.resolution).to(device)
        x0, grad_inputs = denoise(model, cond, noise, cfg.sample_steps, cfg.grad_last_k)
        reward = reward_of(reward_fn, compose_canvas(x0, cond), [cutouts[j] for j in idx])
        # Consistency on exactly the (x_t, t) the reward gradient flowed through.
        consistency = torch.zeros((), device=device)
        for x_t, t in grad_inputs:
            eps = model(x_t, t.to(device), cond.known, cond.mask, cond.text)
            with torch.no_grad():
                eps_ref = reference(x_t, t.to(device), cond.known, cond.mask, cond.text)
            consistency = consistency + F.mse_loss(eps, eps_ref) / len(grad_inputs)
        loss = -reward.mean() + cfg.consistency_weight * consistency
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        result.rewards.append(reward.mean().item())
        result.consistency.append(consistency.item())
        if progress is not None:
            progress(step_fraction(step, cfg.steps), result.rewards[-1])
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def to_tensor(images: Sequence[Image.Image]) -> torch.Tensor:
    arr = np.stack([np.asarray(im.convert("RGB")) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def evaluate(
    model: AdImageGenerator,
    reward_fn: RewardFn,
    titles: Sequence[str],
    cutouts: Sequence[Image.Image],
    seeds: Sequence[int],
    judge: JudgeFn | None = None,
    batch_size: int = 16,
) -> dict:
    """Mean reward and (with a judge) oracle usable rate on a fixed set of (product, seed)."""
    rewards, usable = [], []
    for s in range(0, len(titles), batch_size):
        sl = slice(s, s + batch_size)
        ads = generate_ads(model, titles[sl], cutouts[sl], seeds[sl])
        rewards += reward_of(reward_fn, to_tensor([a.image for a in ads]), cutouts[sl]).tolist()
        if judge is not None:
            usable += [bool(judge(a, c)) for a, c in zip(ads, cutouts[sl])]
    out = {"reward": float(np.mean(rewards)), "n": len(rewards)}
    if judge is not None:
        out["usable_rate"] = float(np.mean(usable))
    return out


def rl_run(
    model: AdImageGenerator,
    reward_fn: RewardFn,
    train: tuple[Sequence[str], Sequence[Image.Image]],
    heldout: tuple[Sequence[str], Sequence[Image.Image], Sequence[int]],
    cfg: RLConfig,
    judge: JudgeFn | None = None,
    progress: Progress[float] | None = None,
) -> dict:
    """Evaluate, refine, evaluate again; flags reward hacking (reward up, usable rate not)."""
    before = evaluate(model, reward_fn, *heldout, judge=judge)
    res = refine_with_reward(model, reward_fn, *train, cfg, progress=progress)
    after = evaluate(model, reward_fn, *heldout, judge=judge)
    report = {
        "reward_before": before["reward"],
        "reward_after": after["reward"],
        "steps": cfg.steps,
        "seconds": res.seconds,
        "train_rewards": res.rewards,
        "consistency": res.consistency,
    }
    if judge is not None:
        report["usable_before"] = before["usable_rate"]
        report["usable_after"] = after["usable_rate"]
        # Reward up while the oracle's usable rate stays put or drops: the model learned
        # the reward's blind spots, not better ads (a saturated 100% is not hacking).
        report["reward_hacking"] = bool(
            after["reward"] > before["reward"] + 1e-3
            and after["usable_rate"] <= before["usable_rate"]
            and before["usable_rate"] < 1.0
        )
    return report
