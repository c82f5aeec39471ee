"""The live reward ensemble as the RL reward: the same scores as the gate's scorer on
stored files, with gradients reaching the generated pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewards.ml.aspects import default_registry
from rewards.ml.ensemble import Ensemble
from rewards.ml.model import AspectNet, save
from workers.imagegen.ml.ensemble_reward import EnsembleReward
from workers.imagegen.ml.rl import reward_of


@pytest.fixture(scope="module")
def setup(tmp_path_factory):  # type: ignore[no-untyped-def]
    from labeling.world.products import load_cutout
    from workers.imagegen.ml.world_data import world_ads

    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("reward")
    folders = {}
    for spec in default_registry().models():
        net = AspectNet(spec.model_config())
        # Non-trivial batch-norm statistics, so a mismatch in preprocessing would show.
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        folders[spec.name] = save(net.eval(), root / spec.name)
    ads = world_ads(6, seed=4)
    paths, refs, cutouts = [], [], []
    for i, (product, ad) in enumerate(ads):
        ad.image.save(root / f"{i}.png")
        cutout = load_cutout(product)
        cutout.save(root / f"ref{i}.png")
        paths.append(str(root / f"{i}.png"))
        refs.append(str(root / f"ref{i}.png"))
        cutouts.append(cutout)
    images = torch.from_numpy(np.stack([np.asarray(a.image) for _, a in ads]))
    return folders, paths, refs, cutouts, images.permute(0, 3, 1, 2).float() / 255.0


def test_scores_match_the_gate_scorer_on_the_same_ads(setup):
    folders, paths, refs, cutouts, images = setup
    on_files = Ensemble.load(folders, device="cpu").score_files(paths, refs)
    reward = EnsembleReward.load(folders)
    on_tensors = reward.aspect_scores(images, cutouts)
    assert set(on_tensors) == set(on_files)
    for aspect, scores in on_files.items():
        # PIL and torch resize slightly differently; the models must agree closely.
        assert np.abs(on_tensors[aspect].detach().numpy() - scores).max() < 0.02, aspect
    product = np.prod([on_tensors[a].detach().numpy() for a in on_tensors], axis=0)
    assert np.allclose(reward(images, cutouts).detach().numpy(), product, atol=1e-6)


def test_the_reward_gradient_reaches_the_pixels(setup):
    folders, _, _, cutouts, images = setup
    reward = EnsembleReward.load(folders)
    x = images.clone().requires_grad_(True)
    reward_of(reward, x, cutouts).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # The reward models themselves stay frozen.
    assert all(not p.requires_grad for m in reward.models.values() for p in m.parameters())


def test_a_plain_reward_is_still_called_with_images_only():
    assert reward_of(lambda im: im.mean(dim=(1, 2, 3)), torch.ones(2, 3, 4, 4), []).tolist() == [
        1.0,
        1.0,
    ]
