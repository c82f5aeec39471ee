"""The shape-alignment experiment (not used by the app yet): it finds a product pasted into
an ad and returns a crop where the ad and the reference line up."""

from __future__ import annotations

import numpy as np

from labeling.world.products import load_cutout, world_products
from rewards.ml.shape_align import align_crop, align_features


def test_a_pasted_product_is_found_and_aligned_with_its_reference():
    cutout = load_cutout(world_products()[0])
    from PIL import Image

    ad = Image.new("RGB", (256, 256), (40, 90, 160))
    small = cutout.resize((96, 96))
    ad.paste(small, (120, 100), small)
    x = align_crop(np.asarray(ad), np.asarray(cutout), 64)
    assert x.shape == (7, 64, 64) and x.dtype == np.uint8
    ref_alpha = x[6] > 128
    # Where the reference says "product", the ad crop is not the plain background.
    background = np.array([40, 90, 160])[:, None]
    differs = np.abs(x[:3].reshape(3, -1).astype(int) - background).sum(0) > 60
    assert differs[ref_alpha.reshape(-1)].mean() > 0.8
    _, peak = align_features(np.asarray(ad), np.asarray(cutout), 64)
    assert peak > 0.5
