"""Ad-image generator: training, deterministic sampling, exact product pixels, save/load."""

import numpy as np
import pytest
import torch

from workers.imagegen.ml import (
    AdImageGenerator,
    generate_ads,
    load_full_pipeline,
    tiny_config,
)
from workers.imagegen.ml.config import full_config
from workers.imagegen.ml.layout import place_product
from workers.imagegen.ml.synthetic import synthetic_gen_data, synthetic_products
from workers.imagegen.ml.train import TrainConfig, heldout_loss, train_generator


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = AdImageGenerator(tiny_config(resolution=16, num_layers=3, head_dim=16))
    data = synthetic_gen_data(48, resolution=16)
    before = heldout_loss(model, data)
    result = train_generator(model, data, TrainConfig(steps=40, batch_size=16, lr=2e-3))
    return model, data, before, result


def test_training_steps_lower_the_denoising_loss(trained):
    model, data, before, result = trained
    assert heldout_loss(model, data) < 0.8 * before
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5])


def test_sampling_is_deterministic_for_a_seed_and_differs_across_seeds(trained):
    model = trained[0]
    titles, cutouts = synthetic_products(2)
    a = generate_ads(model, titles, cutouts, [7, 8], steps=5)
    b = generate_ads(model, titles, cutouts, [7, 8], steps=5)
    for x, y in zip(a, b):
        assert np.array_equal(np.asarray(x.image), np.asarray(y.image))
    # An image depends on its own seed, not its batch-mates (up to float rounding of
    # batched matmuls, at most a grey level or two).
    alone = generate_ads(model, titles[:1], cutouts[:1], [7], steps=5)
    diff = np.abs(np.asarray(a[0].image, int) - np.asarray(alone[0].image, int))
    assert diff.max() <= 2
    other = generate_ads(model, titles[:1], cutouts[:1], [9], steps=5)
    diff = np.abs(np.asarray(a[0].image, int) - np.asarray(other[0].image, int))
    assert diff.max() > 10


def test_product_pixels_are_pasted_exactly_from_the_cutout(trained):
    model = trained[0]
    titles, cutouts = synthetic_products(3)
    ads = generate_ads(model, titles, cutouts, [1, 2, 3], steps=5)
    for ad, cut in zip(ads, cutouts):
        rgb, alpha = place_product(cut, ad.layout, 256)
        img = np.asarray(ad.image)
        opaque = alpha == 255
        assert opaque.sum() > 1000
        assert np.array_equal(img[opaque], rgb[opaque])
        assert np.array_equal(ad.product_mask, alpha > 127)
        # the background was generated, not left blank
        assert img[~ad.product_mask].std() > 0


def test_save_and_load_give_identical_images(trained, tmp_path):
    model = trained[0]
    model.save_pretrained(tmp_path / "gen")
    loaded = AdImageGenerator.from_pretrained(tmp_path / "gen")
    titles, cutouts = synthetic_products(2)
    a = generate_ads(model, titles, cutouts, [5, 6], steps=5)
    b = generate_ads(loaded, titles, cutouts, [5, 6], steps=5)
    for x, y in zip(a, b):
        assert np.array_equal(np.asarray(x.image), np.asarray(y.image))


def test_full_config_refuses_a_missing_local_pipeline(tmp_path):
    with pytest.raises(FileNotFoundError, match="inpainting pipeline"):
        load_full_pipeline(full_config(str(tmp_path / "missing")))
