"""Phase 3b: GRPO through TRL's GRPOTrainer, behind the same reward components as PPO.

Each reward component is its own plain-Python reward function, so TRL logs them apart and
``reward_weights`` carries our weights; the group-relative baseline replaces PPO's value head.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerFast

from workers.ml.lm import TrainerProgress
from workers.ml.runtime import Progress, no_progress

from .model import parse_expansion, prompt, save
from .queries import Query
from .train import PhaseResult, _samples

# (query text, terms, ended, relevant skus) -> unweighted components
ComponentsFn = Callable[[str, list[str], bool, frozenset[str]], dict[str, float]]


@dataclass(frozen=True)
class GRPOConfig:
    steps: int = 40
    prompts_per_step: int = 8  # x num_generations = 64 completions, as PPO's batch
    num_generations: int = 8
    lr: float = 3e-4
    beta: float = 0.05  # KL to the reference (the phase-2 model)
    temperature: float = 1.0
    max_new_tokens: int = 16
    seed: int = 7


def _log_metrics(weights: dict[str, float]) -> Callable[[Mapping[str, Any]], dict | None]:
    def metrics(logs: Mapping[str, Any]) -> dict | None:
        if "reward" not in logs:  # the end-of-training summary has no rewards
            return None
        out = {"loss": logs.get("loss", 0.0), "reward": logs.get("reward", 0.0)}
        for name, w in weights.items():
            key = f"rewards/{name}/mean"
            if key in logs:
                out[f"reward/{name}"] = w * logs[key]  # weighted, as in PPO's log
                out[f"weight/{name}"] = w
        return out

    return metrics


def _reward_funcs(components: ComponentsFn, names: Sequence[str], eos_id: int, pad_id: int):
    """One TRL reward function per component; a batch is scored once and shared."""
    cache: dict[tuple, dict[str, float]] = {}

    def scored(prompts, completions, completion_ids, query, relevant):
        out = []
        for c, ids, q, rel in zip(completions, completion_ids, query, relevant):
            ended = len(ids) > 0 and ids[-1] in (eos_id, pad_id)
            key = (q, c, ended)
            if key not in cache:
                cache[key] = components(q, parse_expansion(c), ended, frozenset(rel))
            out.append(cache[key])
        if len(cache) > 50_000:
            cache.clear()
        return out

    def make(name: str):
        def fn(prompts, completions, completion_ids, query, relevant, **kw):
            return [
                c.get(name, 0.0)
                for c in scored(prompts, completions, completion_ids, query, relevant)
            ]

        fn.__name__ = name
        return fn

    return [make(n) for n in names]


def grpo_train(
    model: PreTrainedModel,
    tok: PreTrainedTokenizerFast,
    queries: Sequence[Query],
    components: ComponentsFn,
    weights: dict[str, float],
    cfg: GRPOConfig = GRPOConfig(),
    progress: Progress[dict] = no_progress,
    out_dir: str | Path | None = None,
    sample_queries: Sequence[str] = (),
) -> PhaseResult:
    """Optimise ``model`` in place with TRL's GRPO; the reference is its state on entry."""
    from datasets import Dataset
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    names = list(weights)
    data = Dataset.from_dict(
        {
            "prompt": [prompt(q.text) for q in queries],
            "query": [q.text for q in queries],
            "relevant": [sorted(q.relevant) for q in queries],
        }
    )
    batch = cfg.prompts_per_step * cfg.num_generations
    with tempfile.TemporaryDirectory() as tmp:
        # TRL builds the KL reference by reloading the model from its config's path, so
        # give it the entry state on disk (the phase-2 model) rather than a hub id.
        save(model, tok, Path(tmp) / "reference")
        model.config._name_or_path = str(Path(tmp) / "reference")
        args = TRLConfig(
            output_dir=tmp,
            max_steps=cfg.steps,
            learning_rate=cfg.lr,
            beta=cfg.beta,
            per_device_train_batch_size=batch,
            num_generations=cfg.num_generations,
            max_completion_length=cfg.max_new_tokens,
            temperature=cfg.temperature,
            reward_weights=[weights[n] for n in names],
            logging_steps=1,
            report_to="none",
            gradient_checkpointing=False,
            use_cpu=model.device.type != "cuda",
            save_strategy="no",
            seed=cfg.seed,
            disable_tqdm=True,
            bf16=False,
            disable_dropout=True,
        )
        trainer = GRPOTrainer(
            model=model,
            args=args,
            train_dataset=data,
            processing_class=tok,
            reward_funcs=_reward_funcs(components, names, tok.eos_token_id, tok.pad_token_id),
            callbacks=[TrainerProgress(progress, _log_metrics(weights), cfg.steps)],
        )
        trainer.train()
        history = [h for h in trainer.state.log_history if "reward" in h]
    trained = trainer.model
    # No PEFT or wrapping here: the trainer holds the PreTrainedModel it was given.
    assert isinstance(trained, PreTrainedModel)
    model = trained.eval()
    if out_dir:
        save(model, tok, out_dir)
    window = max(1, len(history) // 4)
    summary = {
        "reward_first": sum(h["reward"] for h in history[:window]) / window,
        "reward_last": sum(h["reward"] for h in history[-window:]) / window,
        "steps": cfg.steps,
    }
    return PhaseResult(summary, _samples(model, tok, sample_queries), str(out_dir or "") or None)
