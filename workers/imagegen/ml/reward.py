"""A small differentiable ad reward: per-aspect CNN heads giving P(aspect ok).

Stand-in for the reward ensemble in rewards/ml (which scores stored files); any callable
images[B,3,H,W] in [0,1] -> [B] can replace it. Trained on reviewer labels of world ads.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rewards.ml.aspects import AD_ASPECTS as ASPECTS


class AdRewardNet(nn.Module):
    def __init__(self, size: int = 64, width: int = 32, n_aspects: int = len(ASPECTS)):
        super().__init__()
        self.size = size
        chans = [3, width // 2, width, width * 2, width * 2]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.GELU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1] * 2, n_aspects)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Per-aspect logits of "ok" for images in [0,1] at any size."""
        x = F.interpolate(images, size=self.size, mode="bilinear", antialias=True)
        h = self.features(x * 2 - 1)
        # mean and max pooling: a small local defect (a missing shadow) must not average away
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


def train_reward(
    images: torch.Tensor,
    ok: torch.Tensor,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    size: int = 64,
) -> AdRewardNet:
    """images [N,3,H,W] in [0,1]; ok [N, aspects] in {0,1} (1 = aspect fine)."""
    torch.manual_seed(seed)
    net = AdRewardNet(size=size)
    # Resize once: training then runs at the network's input size.
    small = F.interpolate(images, size=size, mode="bilinear", antialias=True)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(small), (batch_size,), generator=gen)
        x = small[idx]
        if torch.rand(1, generator=gen).item() < 0.5:
            x = x.flip(-1)  # ads are left-right symmetric in what makes them usable
        loss = F.binary_cross_entropy_with_logits(net(x), ok[idx].float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def reward_fn_from(net: AdRewardNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """Reward = P(every aspect ok) = product of the per-aspect probabilities."""
    net.requires_grad_(False)

    def reward(images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(net(images)).prod(dim=1)

    return reward
