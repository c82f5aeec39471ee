"""Ad-image generator: tiny pixel-space inpainting diffusion, RL refinement, block pruning.

Plain PyTorch + diffusers; no Django imports (the Django side calls these functions).
"""

from .config import GeneratorConfig, full_config, tiny_config
from .full import generate_ads_full, load_full_pipeline
from .layout import Layout, choose_layout
from .model import AdImageGenerator
from .pruning import PruningAnalysis, analyze, block_influence, prune_model, recover
from .rl import RLConfig, evaluate, refine_with_reward, rl_run
from .sampling import GeneratedAd, generate_ads
from .train import GenData, TrainConfig, heldout_loss, train_generator

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
