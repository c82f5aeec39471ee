"""Configuration of the ad-image generator (tiny for CPU, full for a GPU inpainting pipeline)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class GeneratorConfig:
    """Everything needed to rebuild the generator; saved next to its weights."""

    name: str = "tiny"
    # Generation resolution (pixel space for tiny, the pipeline's for full); the result is
    # resized onto the canvas.
    resolution: int = 32
    canvas_size: int = 256
    patch_size: int = 4
    num_heads: int = 4
    head_dim: int = 24
    num_layers: int = 12
    text_dim: int = 384  # MiniLM sentence embeddings
    num_train_timesteps: int = 1000
    sample_steps: int = 20
    # "sample" (x0) prediction: a small, briefly trained model then gives smooth backgrounds
    # where epsilon prediction leaves visible residual noise after a short DDIM run.
    prediction_type: str = "sample"
    # Only for `full`: a local diffusers inpainting pipeline folder (never downloaded).
    pipeline_path: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def in_channels(self) -> int:
        # noisy image (3) + known product pixels (3) + product mask (1): the model sees what
        # it must keep, which is how inpainting models are conditioned.
        return 7

    def save(self, folder: str | Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "generator_config.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> GeneratorConfig:
        return cls(**json.loads((Path(folder) / "generator_config.json").read_text()))


def tiny_config(**overrides) -> GeneratorConfig:
    return GeneratorConfig(name="tiny", **overrides)


def full_config(pipeline_path: str, **overrides) -> GeneratorConfig:
    """The `full` generator's settings: 512 pixels (Stable Diffusion inpainting) and 30 steps
    unless overridden; ``full.config_for`` takes the resolution from the loaded pipeline."""
    return GeneratorConfig(
        **{"resolution": 512, "sample_steps": 30, **overrides},
        name="full",
        pipeline_path=pipeline_path,
    )
