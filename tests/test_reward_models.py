"""Per-aspect reward models: training, artifacts, label combination, ensemble scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rewards.ml import gate
from rewards.ml.aspects import (
    AspectRegistry,
    AspectSpec,
    default_registry,
    min_product_area_rule,
    product_area_share,
)
from rewards.ml.ensemble import Ensemble
from rewards.ml.images import load_reference_file
from rewards.ml.labels import Annotation, dawid_skene, majority_vote
from rewards.ml.model import ArtifactError, AspectNet, load, save
from rewards.ml.train import TrainConfig, predict, split_for, train_aspect

SIZE = 32
TINY = dict(input_size=SIZE, ref_size=SIZE, channels=(8, 16, 16), hidden=16)


def _synthetic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Grey canvases with a product square; a 'defect' is a bright red bar glued to it
    (the stand/base a generator hallucinates). Refs are the product's RGBA cut-out."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, 3, SIZE, SIZE), np.uint8)
    refs = np.zeros((n, 4, SIZE, SIZE), np.uint8)
    ok = rng.random(n) < 0.5
    for i in range(n):
        imgs[i] = rng.integers(60, 140)
        col = rng.integers(0, 255, 3)
        y, x = rng.integers(4, 16, 2)
        imgs[i, :, y : y + 10, x : x + 10] = col[:, None, None]
        refs[i, :3, 8:24, 8:24] = col[:, None, None]
        refs[i, 3, 8:24, 8:24] = 255
        if not ok[i]:
            imgs[i, :, y + 10 : y + 14, x : x + 10] = np.array([230, 20, 20])[:, None, None]
    return torch.from_numpy(imgs), torch.from_numpy(refs), ok.astype(float)


@pytest.fixture(scope="module")
def data():
    return _synthetic(600, seed=1)


@pytest.fixture(scope="module")
def trained(data):
    imgs, refs, ok = data
    spec = AspectSpec("shape", reference="rgba", ref_mode="stem", **TINY)
    keys = [f"item-{i}" for i in range(len(ok))]
    fractions = []
    result = train_aspect(
        spec,
        imgs,
        refs,
        ok,
        np.ones(len(ok)),
        TrainConfig(epochs=5, batch_size=32, lr=5e-3),
        keys=keys,
        progress=lambda f, loss: fractions.append(f),
        seed=0,
    )
    return spec, result, fractions


def test_training_lowers_loss_and_beats_chance_on_heldout(trained):
    _, result, fractions = trained
    assert result.loss_curve[-1] < result.loss_curve[0] * 0.7
    assert result.metrics["n"] > 60  # ~20% of 600 held out by key hash
    assert result.metrics["auc"] > 0.85
    assert result.metrics["accuracy"] > 0.7
    assert 0 <= result.metrics["ece"] <= 1
    assert fractions == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_should_stop_interrupts_between_epochs(data):
    imgs, _, ok = data
    spec = AspectSpec("placement", **TINY)
    calls = []
    result = train_aspect(
        spec,
        imgs[:100],
        None,
        ok[:100],
        None,
        TrainConfig(epochs=10, batch_size=50),
        should_stop=lambda: len(calls) >= 2,
        progress=lambda f, loss: calls.append(f),
    )
    assert result.stopped
    assert len(result.loss_curve) == 2


def test_saved_model_reloads_with_identical_scores(trained, data, tmp_path):
    _, result, _ = trained
    imgs, refs, _ = data
    save(result.model, tmp_path / "shape", metadata={"aspect": "shape"})
    again = load(tmp_path / "shape")
    a = predict(result.model, imgs[:64], refs[:64])
    b = predict(again, imgs[:64], refs[:64])
    assert np.array_equal(a, b)


def test_corrupt_or_missing_artifact_raises_artifact_error(trained, tmp_path):
    _, result, _ = trained
    with pytest.raises(ArtifactError):
        load(tmp_path / "nothing-here")
    folder = save(result.model, tmp_path / "m")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError):
        load(folder)
    folder = save(result.model, tmp_path / "m2")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError):
        load(folder)
    folder = save(result.model, tmp_path / "m3")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ArtifactError):
        load(folder)


def test_split_is_fixed_per_key_and_holds_out_about_a_fifth():
    sides = [split_for(f"ad-{i}", salt="p1") for i in range(5000)]
    assert sides == [split_for(f"ad-{i}", salt="p1") for i in range(5000)]
    assert 0.17 < sides.count("heldout") / 5000 < 0.23
    assert sides != [split_for(f"ad-{i}", salt="p2") for i in range(5000)]


def _planted_annotations(seed: int = 0):
    """Two careful annotators (5% errors) and three careless ones (40% errors); each item
    gets three of them, so the careless ones often hold the majority."""
    rng = np.random.default_rng(seed)
    error = {"ann": 0.05, "bea": 0.05, "cal": 0.4, "dev": 0.4, "eli": 0.4}
    truth = (rng.random(800) < 0.7).astype(int)
    anns = []
    for i, t in enumerate(truth):
        for name in rng.choice(list(error), 3, replace=False):
            flip = rng.random() < error[name]
            anns.append(Annotation(f"i{i}", name, "color", int(t != flip)))
    return truth, anns


def test_dawid_skene_recovers_planted_noisy_annotators():
    truth, anns = _planted_annotations()
    ds = dawid_skene(anns)["color"]
    mv = majority_vote(anns)["color"]
    idx = [int(k[1:]) for k in ds.items]
    ds_acc = (ds.label == truth[idx]).mean()
    mv_acc = (mv.label == truth[[int(k[1:]) for k in mv.items]]).mean()
    assert ds_acc > mv_acc + 0.03
    q = {k: v["weight"] for k, v in ds.annotator_quality.items()}
    assert min(q["ann"], q["bea"]) > 2 * max(q["cal"], q["dev"], q["eli"])
    # Confidence weights: items the model is sure about are right more often.
    sure = ds.weight > 0.8
    assert (ds.label[sure] == truth[idx][sure]).mean() > ds_acc


def test_gold_items_start_the_estimate_from_known_answers():
    truth, anns = _planted_annotations(seed=3)
    gold = {(f"i{i}", "color"): int(truth[i]) for i in range(100)}
    ds = dawid_skene(anns, gold=gold)["color"]
    by_item = ds.as_dict()
    assert all(by_item[f"i{i}"] == truth[i] for i in range(100))


def test_ensemble_scores_png_files_like_the_arrays_it_was_trained_on(trained, tmp_path):
    spec, result, _ = trained
    reg = AspectRegistry([spec])
    rng = np.random.default_rng(5)
    paths, ref_paths = [], []
    for i in range(10):
        arr = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    ref = np.zeros((SIZE, SIZE, 4), np.uint8)
    ref[8:24, 8:24] = (200, 30, 30, 255)
    Image.fromarray(ref, "RGBA").save(tmp_path / "ref.png")
    ref_paths = [tmp_path / "ref.png"] * 10
    save(result.model, tmp_path / "live")
    ens = Ensemble.load({"shape": tmp_path / "live"}, registry=reg, device="cpu")
    scores = ens.score_files(paths, ref_paths, batch_size=4)
    imgs = torch.from_numpy(np.stack([np.asarray(Image.open(p)).transpose(2, 0, 1) for p in paths]))
    # Training data goes through the same preprocessing as scoring does.
    ref_arr = load_reference_file(tmp_path / "ref.png", SIZE, "rgba")
    refs = torch.from_numpy(np.repeat(ref_arr[None], 10, axis=0))
    assert np.allclose(scores["shape"], predict(result.model, imgs, refs), atol=1e-6)


def test_a_registered_business_rule_rejects_without_touching_model_aspects():
    reg = default_registry()
    reg.register(AspectSpec("min_area", kind="rule", rule=min_product_area_rule(0.1)))
    assert [s.name for s in reg.models()] == ["shape", "placement", "color"]
    mask = np.zeros((100, 100), np.uint8)
    mask[:20, :20] = 1
    metadata = [{"product_area_share": product_area_share(mask)}, {"product_area_share": 0.3}]
    ens = Ensemble({}, registry=reg, device="cpu")
    assert ens.check_rules(metadata)["min_area"].tolist() == [False, True]
    th = gate.GateThresholds(aspects=["shape"], launch=0.5)
    d = gate.decide({"shape": 0.99}, th, rules={"min_area": False})
    assert (d.action, d.aspect) == ("reject", "min_area")
    assert gate.decide({"shape": 0.99}, th, rules={"min_area": True}).action == "launch"


def test_model_without_its_reference_input_refuses_to_score():
    model = AspectNet(AspectSpec("shape", reference="mask", **TINY).model_config())
    with pytest.raises(ValueError):
        model(torch.zeros(2, 3, SIZE, SIZE))


@pytest.mark.slow
def test_color_model_learns_from_simulated_reviewers_on_the_ad_world():
    """Realistic path: world ads -> noisy reviewer labels -> Dawid-Skene -> colour model,
    judged on held-out ads against the world's ground truth."""
    world = pytest.importorskip("labeling.world.composer")
    from labeling.world.reviewers import reviewer_pool
    from rewards.ml.images import image_to_array

    ads = list(world.generate_world(360, seed=11))
    reviewers = reviewer_pool(4, seed=2)
    anns = []
    for i, (_, ad) in enumerate(ads):
        for rev in reviewers[i % 2 :: 2]:  # two reviewers per ad
            lab = rev.label(ad.truth, item_key=str(i))
            anns.append(Annotation(i, rev.name, "color", int(lab["color"] == "ok")))
    targets = dawid_skene(anns)["color"]
    p_ok = targets.as_dict()
    imgs = torch.from_numpy(np.stack([image_to_array(ad.image, 48) for _, ad in ads]))
    y = np.array([p_ok[i] for i in range(len(ads))])
    truth = np.array([ad.truth["color"]["defect"] is None for _, ad in ads], dtype=int)
    spec = AspectSpec("color", input_size=48, channels=(16, 32, 32), stem_stride=2)
    result = train_aspect(
        spec, imgs[:280], None, y[:280], None, TrainConfig(epochs=8, batch_size=32), seed=0
    )
    from rewards.ml.metrics import auc

    assert result.loss_curve[-1] < result.loss_curve[0]
    assert auc(predict(result.model, imgs[280:]), truth[280:]) > 0.7


def test_a_mirror_averaged_model_scores_an_ad_and_its_mirror_alike(tmp_path):
    """test_time_flip: in eval mode the logit is the mean over the image and its mirror, so a
    mirrored ad (as usable as the original) gets the same score; it survives save/load and
    training still sees one view at a time."""
    from rewards.ml.model import AspectNetConfig

    torch.manual_seed(0)
    cfg = AspectNetConfig(input_size=32, channels=(8, 16), ref_mode="none", test_time_flip=True)
    model = AspectNet(cfg).eval()
    x = torch.rand(6, 3, 32, 32)
    both = model.score(x)
    assert torch.allclose(both, model.score(x.flip(-1)), atol=1e-6)
    plain = AspectNet(AspectNetConfig(**{**cfg.to_dict(), "test_time_flip": False})).eval()
    plain.load_state_dict(model.state_dict())
    one, mirrored = plain(x), plain(x.flip(-1))
    assert not torch.allclose(one, mirrored, atol=1e-4)  # the network alone is not symmetric
    assert torch.allclose(model(x), (one + mirrored) / 2, atol=1e-6)
    reloaded = load(save(model, tmp_path / "m"))
    assert torch.equal(reloaded.score(x), both)
    model.train()
    assert model(x).shape == (6,)
