"""FFT + RDP depth pruning of the generator."""

import numpy as np
import pytest
import torch

from workers.imagegen.ml import AdImageGenerator, generate_ads, tiny_config
from workers.imagegen.ml.pruning import (
    analyze,
    block_influence,
    fft_smooth,
    lowest_influence_removal,
    prune_model,
    rdp,
    recover,
    uniform_removal,
)
from workers.imagegen.ml.synthetic import synthetic_gen_data, synthetic_products
from workers.imagegen.ml.train import TrainConfig, heldout_loss, train_generator


def test_rdp_keeps_the_corners_of_a_piecewise_linear_curve():
    # flat, ramp up, flat: corners at 0, 3, 6, 10
    y = [0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3]
    pts = np.stack([np.arange(len(y)), y], axis=1).astype(float)
    assert rdp(pts, 0.1) == [0, 3, 6, 10]
    # a huge tolerance keeps only the endpoints
    assert rdp(pts, 10.0) == [0, 10]


def test_rdp_keeps_a_single_spike():
    y = [0, 0, 0, 0, 5, 0, 0, 0]
    pts = np.stack([np.arange(len(y)), y], axis=1).astype(float)
    assert rdp(pts, 0.5) == [0, 3, 4, 5, 7]


def test_fft_smoothing_keeps_a_step_and_removes_noise():
    clean = np.where(np.arange(24) < 12, 0.1, 0.6)
    flat = np.r_[0:8, 16:24]  # away from the step
    for seed in range(3):
        noisy = clean + np.random.default_rng(seed).normal(0, 0.08, 24)
        smooth = fft_smooth(noisy, keep=4)
        # noise on the flat parts is at least halved
        assert np.abs(smooth - clean)[flat].mean() < 0.5 * np.abs(noisy - clean)[flat].mean()
        # the step keeps its place and (nearly) its height
        assert int(np.argmax(np.diff(smooth))) == 11
        assert 0.4 < smooth[16:].mean() - smooth[:8].mean() < 0.6


def test_analysis_removes_blocks_in_flat_stretches_and_reruns_with_a_new_eps():
    bi = [0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.9]
    loose = analyze(bi, eps=0.2)
    assert {0, 7} <= set(loose.keep)
    assert {2, 3, 4} <= set(loose.remove)
    budget = analyze(bi, eps=None, n_remove=3)
    assert len(budget.remove) == 3 and set(budget.remove).isdisjoint(budget.critical)
    assert len(analyze(bi, eps=0.0).remove) <= len(loose.remove)
    assert uniform_removal(12, 4) == [1, 4, 7, 10]
    assert lowest_influence_removal([0.4, 0.1, 0.5, 0.2], 2) == [1, 3]


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = AdImageGenerator(tiny_config(resolution=16, num_layers=6, head_dim=16))
    data = synthetic_gen_data(48, 16)
    train_generator(model, data, TrainConfig(steps=25, lr=2e-3))
    return model, data


def test_pruned_model_saves_loads_with_its_depth_and_runs(trained, tmp_path):
    model, data = trained
    bi = block_influence(model, data, timesteps=(200, 700), n_samples=8)
    assert bi.shape == (6,) and np.all(bi >= 0)
    plan = analyze(bi, eps=None, n_remove=2)
    pruned = prune_model(model, plan.remove)
    assert pruned.num_blocks == 4 and model.num_blocks == 6
    result = recover(pruned, model, data, TrainConfig(steps=5, lr=1e-3))
    assert len(result.losses) == 5
    pruned.save_pretrained(tmp_path / "pruned")
    loaded = AdImageGenerator.from_pretrained(tmp_path / "pruned")
    assert loaded.num_blocks == 4 and loaded.transformer.config.num_layers == 4
    assert heldout_loss(loaded, data) == pytest.approx(heldout_loss(pruned, data), rel=1e-6)
    titles, cutouts = synthetic_products(1)
    ad = generate_ads(loaded, titles, cutouts, [0], steps=4)[0]
    assert ad.image.size == (256, 256)
