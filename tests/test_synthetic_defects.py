"""Synthetic shape defects (rewards.ml.synth): each kind changes the product the way the
brief's defect does, and a shape model trained on intact labels plus synthetic defects flags
real stretched, cut and extended products that no reviewer labelled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from labeling.world.products import load_cutout, world_products
from labeling.world.shapes import apply_shape_defect
from rewards.ml import synth
from rewards.ml.align import TemplateBank, align_batch
from rewards.ml.aspects import AspectSpec
from rewards.ml.metrics import auc
from rewards.ml.train import TrainConfig, predict, train_aspect

BACKGROUND = (40, 90, 160)


def _ad(product: Image.Image, side: int, at: tuple[int, int]) -> np.ndarray:
    ad = Image.new("RGB", (256, 256), BACKGROUND)
    small = product.copy()
    small.thumbnail((side, side))
    ad.paste(small, at, small)
    return np.asarray(ad).transpose(2, 0, 1)


@pytest.fixture(scope="module")
def cutouts() -> list[Image.Image]:
    return [load_cutout(p).convert("RGBA") for p in world_products()[:4]]


def _aligned(ads: list[np.ndarray], refs: list[Image.Image]) -> tuple[torch.Tensor, torch.Tensor]:
    bank = TemplateBank()
    rows = torch.tensor([bank.row(str(id(r)), np.asarray(r)) for r in refs])
    return align_batch(torch.from_numpy(np.stack(ads)), rows, bank)


def _product_pixels(crop: torch.Tensor) -> np.ndarray:
    c = crop.numpy().astype(int)
    return np.abs(c - np.array(BACKGROUND)[:, None, None]).sum(0) > 60


def _planted(crop: torch.Tensor, ref: torch.Tensor, kind: str, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    alpha = ref[3].float() / 255
    box = synth._product_box(alpha)
    assert box is not None
    out = synth._FNS[kind](crop.float() / 255, alpha, box, gen).clamp(0, 1)
    return (out * 255).round().to(torch.uint8)


def _extent(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


@pytest.fixture(scope="module")
def one(cutouts) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    crops, refs = _aligned([_ad(cutouts[0], 110, (70, 80))], [cutouts[0]])
    return crops[0], refs[0]


@pytest.mark.parametrize("seed", range(4))
def test_a_stretch_changes_the_products_proportions(one, seed) -> None:  # type: ignore[no-untyped-def]
    crop, ref = one
    w0, h0 = _extent(_product_pixels(crop))
    w1, h1 = _extent(_product_pixels(_planted(crop, ref, "stretch", seed)))
    change = (w1 / h1) / (w0 / h0)
    assert max(change, 1 / change) > 1.25


@pytest.mark.parametrize("seed", range(4))
def test_a_cut_removes_part_of_the_product_and_nothing_else(one, seed) -> None:  # type: ignore[no-untyped-def]
    crop, ref = one
    before = _product_pixels(crop)
    cut = _planted(crop, ref, "cut", seed)
    after = _product_pixels(cut)
    # A fifth or more of the product's extent goes: on a round product, a cap of it.
    assert before.sum() - after.sum() >= 0.04 * before.sum()
    # Away from the product the crop is untouched.
    outside = ref[3].numpy() == 0
    assert (cut.int() - crop.int()).abs()[:, outside].max() <= 1


@pytest.mark.parametrize("seed", range(4))
def test_an_extension_grows_a_part_out_of_the_product(one, seed) -> None:  # type: ignore[no-untyped-def]
    crop, ref = one
    ext = _planted(crop, ref, "extend", seed)
    outside = ref[3].numpy() == 0
    grown = _product_pixels(ext) & outside & ~_product_pixels(crop)
    assert grown.sum() >= 6
    # The part is attached: some of it touches the product.
    ys, xs = np.nonzero(grown)
    near = ref[3].numpy()[
        np.clip(ys[:, None] + [-2, 2, 0, 0], 0, 63), np.clip(xs[:, None] + [0, 0, -2, 2], 0, 63)
    ]
    assert (near > 128).any()


def test_plant_marks_and_changes_every_crop_with_a_reference_only(one) -> None:  # type: ignore[no-untyped-def]
    crop, ref = one
    empty = torch.zeros_like(ref)
    crops = torch.stack([crop, crop, crop])
    out, done = synth.plant(crops, torch.stack([ref, empty, ref]), torch.Generator().manual_seed(3))
    assert out.dtype == torch.uint8 and out.shape == crops.shape
    assert done.tolist() == [True, False, True]
    assert torch.equal(out[1], crop)
    assert (out[0].int() - crop.int()).abs().sum() > 0


def test_synthetic_defects_need_an_aligned_aspect() -> None:
    with pytest.raises(ValueError, match="aligned"):
        AspectSpec("placement", synthetic_defects=0.2)
    with pytest.raises(ValueError, match="share"):
        AspectSpec("shape", reference="aligned", synthetic_defects=1.5)


@pytest.mark.slow
def test_intact_labels_plus_synthetic_defects_flag_real_shape_defects(cutouts) -> None:  # type: ignore[no-untyped-def]
    """Reviewers only ever said "intact": without synthetic defects the model has nothing to
    learn from; with them it scores real stretched, cut and extended products (made by the
    world's own defect code, which the synthesis does not use) below intact ones."""
    rng = np.random.default_rng(0)

    def ads(n: int, defect: bool) -> tuple[list[np.ndarray], list[Image.Image]]:
        out, refs = [], []
        for i in range(n):
            ref = cutouts[i % len(cutouts)]
            shown = ref
            if defect:
                kind = ("distorted", "cropped", "extended")[i % 3]
                params = {
                    "distorted": {"mode": "stretch", "factor": 1.7, "axis": "xy"[i % 2]},
                    "cropped": {"angle": float(rng.uniform(0, 180)), "fraction": 0.35},
                    "extended": {
                        "part": "stand",
                        "length": 0.45,
                        "color": [200, 60, 60],
                        "side": "left",
                    },
                }[kind]
                shown = apply_shape_defect(ref, kind, params)
            side = int(rng.integers(70, 150))
            at = (int(rng.integers(0, 256 - side)), int(rng.integers(0, 256 - side)))
            out.append(_ad(shown, side, at))
            refs.append(ref)
        return out, refs

    train_ads, train_refs = ads(256, defect=False)
    x, r = _aligned(train_ads, train_refs)
    test_ok, test_ok_refs = ads(24, defect=False)
    test_bad, test_bad_refs = ads(24, defect=True)
    xt, rt = _aligned(test_ok + test_bad, test_ok_refs + test_bad_refs)
    truth = np.array([1] * 24 + [0] * 24)
    spec = AspectSpec("shape", reference="aligned", input_size=64, channels=(16, 24, 32, 48))
    y = np.ones(len(x))
    scores = {}
    for share in (0.0, 0.4):
        res = train_aspect(
            spec,
            x,
            (r, torch.arange(len(r))),
            y,
            None,
            TrainConfig(epochs=16, batch_size=32, lr=4e-3, synthetic=share),
            seed=0,
        )
        scores[share] = predict(res.model, xt, (rt, torch.arange(len(rt))))
    # Labels alone carry no defect: every ad looks intact to the model.
    assert scores[0.0].min() > 0.9
    # With synthetic defects, the real defects are told from intact ads...
    assert auc(scores[0.4], truth) > 0.8
    # ... and most of them score as defective.
    assert np.median(scores[0.4][truth == 0]) < 0.5 < np.median(scores[0.4][truth == 1])
