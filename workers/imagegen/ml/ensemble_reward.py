"""The live reward ensemble (rewards/ml aspect models) as a differentiable RL reward.

The ensemble scores stored files for the launch gate; RL needs the same networks on
tensors, with gradients flowing back into the generated pixels. Reward = P(all aspects
ok) = the product of the per-aspect probabilities, the gate's own launch score
(rewards/ml/gate.py, combine="product"). Aspects that compare with the product's reference
cut-out get it per image (`cutouts`), so callers pass the cut-out of every image.

An aspect whose reference is "aligned" (rewards/ml/align.py: the product is located in the
ad by template matching, the ad cropped around it and the reference drawn into the same
box) gets the same crop here, taken from the float image with grid sampling so the reward
gradient reaches the pixels; only the located box (an argmax) is treated as a constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from rewards.ml.aspects import AspectRegistry, AspectSpec, default_registry
from rewards.ml.images import reference_to_array
from rewards.ml.model import AspectNet, load


class EnsembleReward:
    """Callable reward: images [B,3,H,W] in [0,1] and their products' cut-outs -> [B]."""

    uses_cutouts = True  # rl.py passes the cut-out of each image along

    def __init__(
        self,
        models: Mapping[str, AspectNet],
        registry: AspectRegistry | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        registry = registry or default_registry()
        self.device = torch.device(device)
        self.specs: dict[str, AspectSpec] = {a: registry.get(a) for a in models}
        self.models = {a: m.to(self.device).eval().requires_grad_(False) for a, m in models.items()}
        self._refs: dict[tuple[int, int, str], torch.Tensor] = {}
        # Cut-outs are keyed by id(); holding them keeps an id from being reused.
        self._held: dict[int, Image.Image] = {}
        self._bank: object | None = None

    @classmethod
    def load(
        cls, folders: Mapping[str, str | Path], device: str | torch.device = "cpu"
    ) -> EnsembleReward:
        return cls({a: load(f, device=device) for a, f in folders.items()}, device=device)

    def _reference(self, cutout: Image.Image, spec: AspectSpec) -> torch.Tensor:
        # A product's cut-out object is reused across steps; convert it once per size.
        key = (id(cutout), spec.ref_input_size, spec.reference)
        ref = self._refs.get(key)
        if ref is None:
            kind: Any = spec.reference  # "mask" or "rgba" here; aligned aspects crop instead
            arr = reference_to_array(cutout, spec.ref_input_size, kind)
            ref = torch.from_numpy(np.ascontiguousarray(arr)).float().div(255).to(self.device)
            self._refs[key] = ref
        return ref

    def _aligned(
        self, images: torch.Tensor, cutouts: Sequence[Image.Image], size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ad crops, aligned references), both float in [0,1], as align.align_batch makes
        them for stored files (there rounded to uint8, which would stop the gradient)."""
        from rewards.ml import align

        if self._bank is None:
            self._bank = align.TemplateBank()
        bank = self._bank
        assert isinstance(bank, align.TemplateBank)
        for c in cutouts:
            self._held[id(c)] = c
        rows = torch.tensor(
            [bank.row(f"cutout-{id(c)}", np.asarray(c.convert("RGBA"))) for c in cutouts]
        )
        src = images.float().cpu()
        if src.shape[-1] != align.AD_SIDE:
            src = F.interpolate(src, size=align.AD_SIDE, mode="bilinear", antialias=True)
        with torch.no_grad():
            x, y, w, h = align.locate(src.detach(), rows, bank).unbind(1)
        side = torch.maximum(w, h) * align.MARGIN
        cx0, cy0 = x + w / 2 - side / 2, y + h / 2 - side / 2
        factor = max(1, int(align.AD_SIDE * align.MARGIN / (2 * size) / 2))
        pooled = F.avg_pool2d(src, factor) if factor > 1 else src
        k = pooled.shape[-1] / src.shape[-1]
        crops = align._sample(pooled, cx0 * k, cy0 * k, side * k / size, side * k / size, size)
        drawn = bank.stacked()["drawn"][rows]
        step, ref_side = side / size, align.REF_SIDE
        ref = align._sample(
            drawn,
            (cx0 - x) / w * ref_side,
            (cy0 - y) / h * ref_side,
            step / w * ref_side,
            step / h * ref_side,
            size,
        )
        return crops.to(self.device), ref.to(self.device)

    def aspect_scores(
        self, images: torch.Tensor, cutouts: Sequence[Image.Image]
    ) -> dict[str, torch.Tensor]:
        """Per-aspect P(ok), differentiable in `images`."""
        out = {}
        for name, net in self.models.items():
            spec = self.specs[name]
            if getattr(spec, "aligned", False):
                crops, aligned_ref = self._aligned(images, cutouts, spec.input_size)
                out[name] = torch.sigmoid(net(crops, aligned_ref))
                continue
            # Antialiased like the PIL resize the gate's scorer applies to stored files.
            x = F.interpolate(
                images.to(self.device), size=spec.input_size, mode="bilinear", antialias=True
            )
            ref = None
            if spec.uses_reference:
                ref = torch.stack([self._reference(c, spec) for c in cutouts])
            out[name] = torch.sigmoid(net(x, ref))
        return out

    def __call__(self, images: torch.Tensor, cutouts: Sequence[Image.Image]) -> torch.Tensor:
        scores = list(self.aspect_scores(images, cutouts).values())
        reward = scores[0]
        for s in scores[1:]:
            reward = reward * s
        return reward
