"""The tiny pixel-space inpainting diffusion transformer, and the `full` GPU pipeline loader."""

from __future__ import annotations

from pathlib import Path

import torch

# From the defining modules, not the package root: under TYPE_CHECKING diffusers' __init__
# binds these names to its torch-less placeholders (utils/dummy_pt_objects), which have
# none of the real attributes. Same classes at runtime.
from diffusers.models.transformers.pixart_transformer_2d import PixArtTransformer2DModel
from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from torch import nn

from .config import GeneratorConfig


def make_scheduler(cfg: GeneratorConfig) -> DDIMScheduler:
    # Cosine betas suit small pixel-space models (less time wasted on near-pure noise);
    # clipping keeps x0 estimates inside the image range during short DDIM runs.
    return DDIMScheduler(
        num_train_timesteps=cfg.num_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        clip_sample=True,
        prediction_type=cfg.prediction_type,
    )


class AdImageGenerator(nn.Module):
    """Predicts the noise (or the clean image, per config) of the background given the known
    product pixels, the product mask and a caption.

    Inputs are concatenated along channels (noisy image, known pixels, mask), the caption is a
    single MiniLM token through PixArt's caption projection.
    """

    def __init__(self, cfg: GeneratorConfig, transformer: PixArtTransformer2DModel | None = None):
        super().__init__()
        self.cfg = cfg
        self.transformer = transformer or PixArtTransformer2DModel(
            num_attention_heads=cfg.num_heads,
            attention_head_dim=cfg.head_dim,
            in_channels=cfg.in_channels,
            out_channels=3,
            num_layers=cfg.num_layers,
            cross_attention_dim=cfg.num_heads * cfg.head_dim,
            sample_size=cfg.resolution,
            patch_size=cfg.patch_size,
            caption_channels=cfg.text_dim,
            norm_num_groups=1,
            use_additional_conditions=False,
        )

    @property
    def num_blocks(self) -> int:
        return len(self.transformer.transformer_blocks)

    def forward(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        known: torch.Tensor,
        mask: torch.Tensor,
        text_emb: torch.Tensor,
    ) -> torch.Tensor:
        x = torch.cat([noisy, known, mask], dim=1)
        if timesteps.ndim == 0:
            timesteps = timesteps.expand(noisy.shape[0])
        return self.transformer(
            x,
            encoder_hidden_states=text_emb[:, None, :],
            timestep=timesteps,
            added_cond_kwargs={"resolution": None, "aspect_ratio": None},
        ).sample

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.cfg.save(folder)
        self.transformer.save_pretrained(folder / "transformer")
        make_scheduler(self.cfg).save_pretrained(folder / "scheduler")

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, device: torch.device | str | None = None
    ) -> AdImageGenerator:
        folder = Path(folder)
        if not (folder / "generator_config.json").exists():
            raise FileNotFoundError(f"no generator saved at {folder}")
        cfg = GeneratorConfig.load(folder)
        # num_layers in the saved transformer config is the pruned depth, so this rebuilds
        # exactly the saved architecture.
        tr = PixArtTransformer2DModel.from_pretrained(folder / "transformer")
        return cls(cfg, tr).to(device or "cpu")
