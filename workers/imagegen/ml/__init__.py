"""Ad-image generator: tiny pixel-space inpainting diffusion, RL refinement, block pruning.

Plain PyTorch + diffusers; no Django imports (the Django side calls these functions).

The names below are loaded on first use (PEP 562), so a web process that only needs the
pure-numpy pruning analysis (`.curve`) does not import torch and diffusers with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.ml.lazy import lazy_exports

_EXPORTS = {
    "GeneratorConfig": "config",
    "full_config": "config",
    "tiny_config": "config",
    "generate_ads_full": "full",
    "load_full_pipeline": "full",
    "Layout": "layout",
    "choose_layout": "layout",
    "AdImageGenerator": "model",
    "PruningAnalysis": "curve",
    "analyze": "curve",
    "block_influence": "pruning",
    "prune_model": "pruning",
    "recover": "pruning",
    "RLConfig": "rl",
    "evaluate": "rl",
    "refine_with_reward": "rl",
    "rl_run": "rl",
    "GeneratedAd": "sampling",
    "generate_ads": "sampling",
    "GenData": "train",
    "TrainConfig": "train",
    "heldout_loss": "train",
    "train_generator": "train",
}

if TYPE_CHECKING:
    from .config import GeneratorConfig, full_config, tiny_config
    from .curve import PruningAnalysis, analyze
    from .full import generate_ads_full, load_full_pipeline
    from .layout import Layout, choose_layout
    from .model import AdImageGenerator
    from .pruning import block_influence, prune_model, recover
    from .rl import RLConfig, evaluate, refine_with_reward, rl_run
    from .sampling import GeneratedAd, generate_ads
    from .train import GenData, TrainConfig, heldout_loss, train_generator


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "AdImageGenerator",
    "GenData",
    "GeneratedAd",
    "GeneratorConfig",
    "Layout",
    "PruningAnalysis",
    "RLConfig",
    "TrainConfig",
    "analyze",
    "block_influence",
    "choose_layout",
    "evaluate",
    "full_config",
    "generate_ads",
    "generate_ads_full",
    "heldout_loss",
    "load_full_pipeline",
    "prune_model",
    "recover",
    "refine_with_reward",
    "rl_run",
    "tiny_config",
    "train_generator",
]
