"""Phase 3a: PPO against the offline search simulation (InstructGPT-style), written here.

Why not a library trainer: TRL 1.16 ships no PPOTrainer, and the last one (trl 1.12,
``trl.experimental.ppo``) wanted a reward *model* (it calls ``.score()`` on hidden states)
plus a separate value model. Our reward is a Python function that runs a search engine, so
an adapter would have to fake a network around it. The algorithm itself is short: sample,
score, per-token KL penalty to the frozen phase-2 reference, GAE over a value head, clipped
policy and value losses.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from workers.ml.runtime import Progress, no_progress, step_fraction

from .model import generate, parse_expansion, save
from .queries import Query
from .train import PhaseResult, _samples

# (query text, terms, ended with EOS, relevant skus) -> (total, weighted components)
RewardFn = Callable[[str, list[str], bool, frozenset[str]], tuple[float, dict[str, float]]]


@dataclass(frozen=True)
class PPOConfig:
    # 40 iterations at 1e-4 ended where SFT was on held-out queries (recall@10 0.315 both);
    # 200 at 5e-5 kept climbing on the validation queries and reached 0.338 held out.
    iterations: int = 200
    batch_size: int = 64  # rollouts per iteration; fewer made the reward too noisy
    samples_per_query: int = 1  # rollouts share a query, so the batch holds contrasts
    minibatch_size: int = 32
    ppo_epochs: int = 2
    lr: float = 5e-5  # 3e-4 drifted (KL 3-5 nats) and lost held-out recall
    clip: float = 0.2
    value_clip: float = 0.2
    vf_coef: float = 0.5
    kl_coef: float = 0.1  # per-token penalty on log pi - log pi_ref
    gamma: float = 1.0
    lam: float = 0.95
    temperature: float = 1.0
    max_new_tokens: int = 16
    validate_every: int = 20
    seed: int = 7


class ValueHead(torch.nn.Module):
    """A linear value estimate on the policy's last hidden state (shared trunk)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden).squeeze(-1)


def _forward(model, prompt_ids, prompt_mask, completion, completion_mask, value_head=None):
    """Log-probs of completion tokens (and values at the positions that predict them)."""
    ids = torch.cat([prompt_ids, completion], dim=1)
    mask = torch.cat([prompt_mask, completion_mask], dim=1)
    # Left padding: positions must count real tokens only, as in generate().
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=pos,
        output_hidden_states=value_head is not None,
    )
    p = prompt_ids.shape[1]
    logits = out.logits[:, p - 1 : -1].float()
    logp = torch.gather(F.log_softmax(logits, -1), 2, completion.unsqueeze(-1)).squeeze(-1)
    values = None
    if value_head is not None:
        values = value_head(out.hidden_states[-1][:, p - 1 : -1])
    return logp, values


def _completion_mask(completion: torch.Tensor, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask up to and including the first EOS; and whether each row ended."""
    is_eos = completion == eos_id
    ended = is_eos.any(1)
    first = is_eos.float().argmax(1)
    first = torch.where(ended, first, torch.full_like(first, completion.shape[1]))
    idx = torch.arange(completion.shape[1], device=completion.device)
    return (idx.unsqueeze(0) <= first.unsqueeze(1)).long(), ended


def _gae(rewards, values, mask, gamma, lam):
    """Generalised advantage estimation over completion tokens; returns (adv, returns)."""
    nxt_mask = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], 1)
    nxt_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1) * nxt_mask
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * nxt_values[:, t] - values[:, t]
        last = delta + gamma * lam * nxt_mask[:, t] * last
        adv[:, t] = last
    return adv * mask, (adv + values) * mask


def _whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = (x * mask).sum() / mask.sum()
    var = ((x - mean) ** 2 * mask).sum() / mask.sum()
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


def ppo_train(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    queries: Sequence[Query],
    reward_fn: RewardFn,
    cfg: PPOConfig = PPOConfig(),
    progress: Progress[dict] = no_progress,
    out_dir: str | Path | None = None,
    sample_queries: Sequence[str] = (),
    weights: dict[str, float] | None = None,
    validate: Callable[[PreTrainedModel], float] | None = None,
) -> PhaseResult:
    """Optimise ``model`` in place; the frozen reference is its state on entry (phase 2).

    With ``validate`` (higher is better, on queries outside the RL pool), the policy is
    scored every ``cfg.validate_every`` iterations and the best one, the entry state
    included, is kept: RL on a 1M-parameter model is noisy, and a run that drifts should
    not ship a policy worse than the one it started from.
    """
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    dev = model.device
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    value_head = ValueHead(model.config.hidden_size).to(dev)
    params = list(model.parameters()) + list(value_head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    history: list[dict] = []
    best = (validate(model), -1, copy.deepcopy(model.state_dict())) if validate else None
    for it in range(cfg.iterations):
        n_queries = max(1, cfg.batch_size // cfg.samples_per_query)
        picked = [queries[rng.randrange(len(queries))] for _ in range(n_queries)]
        batch = [q for q in picked for _ in range(cfg.samples_per_query)]
        model.eval()
        prompt_ids, completion, texts = generate(
            model,
            tok,
            [q.text for q in batch],
            cfg.max_new_tokens,
            sample=True,
            temperature=cfg.temperature,
        )
        prompt_mask = (prompt_ids != tok.pad_token_id).long()
        cmask, ended = _completion_mask(completion, tok.eos_token_id)
        scores, comps = [], []
        for q, text, e in zip(batch, texts, ended.tolist()):
            total, parts = reward_fn(q.text, parse_expansion(text), e, q.relevant)
            scores.append(total)
            comps.append(parts)
        with torch.no_grad():
            old_logp, old_values = _forward(
                model, prompt_ids, prompt_mask, completion, cmask, value_head
            )
            ref_logp, _ = _forward(ref, prompt_ids, prompt_mask, completion, cmask)
            kl = (old_logp - ref_logp) * cmask
            rewards = -cfg.kl_coef * kl
            last = cmask.sum(1) - 1
            rewards[torch.arange(len(batch)), last] += torch.tensor(scores, device=dev)
            adv, returns = _gae(rewards, old_values * cmask, cmask.float(), cfg.gamma, cfg.lam)
            adv = _whiten(adv, cmask.float())
        # Dropout stays off while updating: with it, the ratio to the rollout policy is
        # noise even before the first step, and clipping then fights that noise.
        losses = []
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(len(batch))
            for start in range(0, len(batch), cfg.minibatch_size):
                mb = order[start : start + cfg.minibatch_size]
                m = cmask[mb].float()
                logp, values = _forward(
                    model, prompt_ids[mb], prompt_mask[mb], completion[mb], cmask[mb], value_head
                )
                ratio = torch.exp(logp - old_logp[mb])
                pg = torch.max(-adv[mb] * ratio, -adv[mb] * ratio.clamp(1 - cfg.clip, 1 + cfg.clip))
                v_clipped = old_values[mb] + (values - old_values[mb]).clamp(
                    -cfg.value_clip, cfg.value_clip
                )
                vf = torch.max((values - returns[mb]) ** 2, (v_clipped - returns[mb]) ** 2)
                loss = ((pg + cfg.vf_coef * 0.5 * vf) * m).sum() / m.sum()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                losses.append(float(loss.detach()))
        metrics = {
            "loss": sum(losses) / len(losses),
            "reward": sum(scores) / len(scores),
            "kl": float(kl.sum(1).mean()),
            "ended": float(ended.float().mean()),
        }
        for name in comps[0]:
            metrics[f"reward/{name}"] = sum(c[name] for c in comps) / len(comps)
            if weights is not None:
                metrics[f"weight/{name}"] = weights.get(name, 0.0)
        if (
            validate is not None
            and best is not None
            and ((it + 1) % cfg.validate_every == 0 or it + 1 == cfg.iterations)
        ):
            score = validate(model)
            metrics["validation"] = score
            if score > best[0]:
                best = (score, it, copy.deepcopy(model.state_dict()))
        history.append(metrics)
        progress(step_fraction(it, cfg.iterations), metrics)
    model.eval()
    if best is not None:
        model.load_state_dict(best[2])
    if out_dir:
        save(model, tok, out_dir)
    window = max(1, cfg.iterations // 4)
    summary = {
        "reward_first": sum(h["reward"] for h in history[:window]) / window,
        "reward_last": sum(h["reward"] for h in history[-window:]) / window,
        "kl_last": history[-1]["kl"],
        "iterations": cfg.iterations,
    }
    if best is not None:
        summary.update(validation_best=best[0], best_iteration=best[1] + 1)
    return PhaseResult(summary, _samples(model, tok, sample_queries), str(out_dir or "") or None)
