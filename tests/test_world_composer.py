"""The benchmark world's ads: deterministic, recomposable, and each planted defect really
shows in the pixels. Pure Python; no database."""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from labeling.world import rules
from labeling.world.backgrounds import render_background
from labeling.world.colors import chroma_hue, delta_e, hue_distance, rgb_to_lab
from labeling.world.composer import (
    Layout,
    compose,
    compose_from_recipe,
    generate_world,
    paste_product,
    sample_spec,
    shown_product,
)
from labeling.world.oracle import has_contact_shadow, judge_generated, oracle_verdict
from labeling.world.products import (
    DEFAULT_ASSET_DIR,
    dominant_color,
    load_cutout,
    world_products,
)
from labeling.world.shapes import alpha_bbox

SIZE = 256


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def longest_side(mask: np.ndarray) -> float:
    x0, y0, x1, y1 = bbox(mask)
    return max(x1 - x0, y1 - y0) / mask.shape[0]


def touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def background_next_to(ad) -> np.ndarray:
    """Mean colour of a band around the product, above its base (where shadows fall)."""
    from scipy import ndimage

    mask = ad.product_mask
    ring = ndimage.binary_dilation(mask, iterations=12) & ~ndimage.binary_dilation(
        mask, iterations=3
    )
    ring[bbox(mask)[3] - 10 :] = False
    return np.asarray(ad.image)[ring].reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module")
def world():
    return list(generate_world(240, seed=11))


@pytest.fixture(scope="module")
def planted():
    """One composed ad per (defect kind, severity) on varied products, plus clean ones."""
    rng = np.random.default_rng(5)
    products = world_products()
    out = {}
    for aspect, kinds in rules.DEFECTS.items():
        for kind in kinds:
            for sev in (0.1, 0.5, 0.95):
                for rep in range(3):
                    p = products[int(rng.integers(len(products)))]
                    cutout = load_cutout(p)
                    spec = sample_spec(p, rng, cutout=cutout, defects={aspect: (kind, sev)})
                    out[(kind, sev, rep)] = (p, cutout, spec, compose(p, cutout, spec))
    for rep in range(12):
        p = products[int(rng.integers(len(products)))]
        cutout = load_cutout(p)
        spec = sample_spec(p, rng, cutout=cutout, defects={})
        out[("ok", 0.0, rep)] = (p, cutout, spec, compose(p, cutout, spec))
    return out


def of_kind(planted, kind):
    return [v for k, v in planted.items() if k[0] == kind]


def test_catalog_has_plausible_products_with_real_cutouts():
    products = world_products()
    assert 40 <= len(products) <= 60
    assert len({p.sku for p in products}) == len(products)
    assert len({p.category for p in products}) >= 10
    for p in products:
        assert (DEFAULT_ASSET_DIR / f"{p.asset}.webp").exists(), p.asset
        assert len(p.title.split()) >= 3 and p.brand in p.title
    apple = next(p for p in products if "Apples" in p.title)
    cut = load_cutout(apple)
    assert cut.mode == "RGBA" and cut.size == (256, 256)
    r, g, b = dominant_color(cut)
    assert r > g + 80 and r > b + 80  # the red apple reads as red


def test_load_cutout_returns_an_independent_copy():
    p = world_products()[0]
    a = load_cutout(p)
    a.paste((0, 0, 0, 0), (0, 0, 256, 256))
    assert np.asarray(load_cutout(p))[..., 3].max() == 255


def test_same_seed_gives_byte_identical_pngs_and_other_seeds_differ():
    first = [png_bytes(ad.image) for _, ad in generate_world(8, seed=3)]
    again = [png_bytes(ad.image) for _, ad in generate_world(8, seed=3)]
    other = [png_bytes(ad.image) for _, ad in generate_world(8, seed=4)]
    assert first == again
    assert first != other


def test_recipe_is_json_and_recomposes_the_same_pixels(world):
    for _, ad in world[:12]:
        recipe = json.loads(json.dumps(ad.recipe))
        again = compose_from_recipe(recipe)
        assert np.array_equal(np.asarray(again.image), np.asarray(ad.image))
        assert np.array_equal(again.product_mask, ad.product_mask)
        assert again.truth == ad.truth


def test_ads_are_rgb_with_mask_and_truth_for_every_aspect(world):
    for _, ad in world[:20]:
        assert ad.image.mode == "RGB" and ad.image.size == (SIZE, SIZE)
        assert ad.product_mask.shape == (SIZE, SIZE) and ad.product_mask.dtype == bool
        assert ad.product_mask.sum() > 100
        assert set(ad.truth) == set(rules.ASPECTS)
        defects = [t for t in ad.truth.values() if t["defect"]]
        assert ad.usable == (not defects)
        assert all(0 < t["severity"] <= 1 for t in defects)


def test_world_mix_is_mostly_fine_with_every_defect_and_some_doubles(world):
    usable = sum(ad.usable for _, ad in world) / len(world)
    assert 0.45 <= usable <= 0.72
    kinds = Counter(t["defect"] for _, ad in world for t in ad.truth.values() if t["defect"])
    for aspect in rules.ASPECTS:
        assert any(kinds[k] for k in rules.DEFECTS[aspect]), aspect
    doubles = sum(sum(t["defect"] is not None for t in ad.truth.values()) == 2 for _, ad in world)
    assert doubles >= 3


def test_background_style_does_not_give_away_usability(world):
    by_style: dict[str, list[bool]] = {}
    for _, ad in world:
        by_style.setdefault(ad.recipe["spec"]["background"]["style"], []).append(ad.usable)
    overall = np.mean([ad.usable for _, ad in world])
    for style, flags in by_style.items():
        assert abs(np.mean(flags) - overall) < 0.15, style


def test_good_ads_are_centred_sized_grounded_and_stand_out(planted):
    for _p, cutout, spec, ad in of_kind(planted, "ok"):
        mask = ad.product_mask
        assert not touches_border(mask)
        assert rules.GOOD_SCALE[0] - 0.02 <= longest_side(mask) <= rules.GOOD_SCALE[1] + 0.02
        x0, _, x1, _ = bbox(mask)
        assert abs((x0 + x1) / 2 / SIZE - 0.5) < 0.06
        if spec.background.surface_y is not None:
            assert has_contact_shadow(np.asarray(ad.image), mask)
        bg = background_next_to(ad)
        assert delta_e(bg, dominant_color(cutout)) > 26
        chroma, hue = chroma_hue(bg)
        if chroma > 36:  # a bold background is fine only in a hue next to the product's
            assert hue_distance(hue, chroma_hue(dominant_color(cutout))[1]) < 75


def test_cut_by_canvas_product_leaves_the_canvas(planted):
    for *_, ad in of_kind(planted, "cut_by_canvas"):
        assert touches_border(ad.product_mask)
    for kind in ("ok", "off_centre", "too_large", "floating"):
        for *_, ad in of_kind(planted, kind):
            assert not touches_border(ad.product_mask), kind


def test_size_defects_change_the_products_size(planted):
    small_areas = [ad.product_mask.mean() for *_, ad in of_kind(planted, "too_small")]
    for *_, ad in of_kind(planted, "too_small"):
        assert longest_side(ad.product_mask) < 0.33
    for *_, ad in of_kind(planted, "too_large"):
        assert longest_side(ad.product_mask) > 0.84
    ok_areas = [ad.product_mask.mean() for *_, ad in of_kind(planted, "ok")]
    assert max(small_areas) < 0.33**2  # never more than its bounding square
    assert np.mean(ok_areas) > 3 * np.mean(small_areas)


def test_off_centre_product_sits_away_from_the_middle(planted):
    for *_, ad in of_kind(planted, "off_centre"):
        x0, y0, x1, y1 = bbox(ad.product_mask)
        off = max(abs((x0 + x1) / 2 / SIZE - 0.5), abs((y0 + y1) / 2 / SIZE - 0.5))
        assert off > 0.14


def test_floating_product_hovers_above_the_surface_without_contact_shadow(planted):
    for _, _, spec, ad in of_kind(planted, "floating"):
        surface = spec.background.surface_y * SIZE
        bottom = bbox(ad.product_mask)[3]
        assert surface - bottom > 0.04 * SIZE
        # Right under the product the background is untouched: no contact shadow.
        clean = np.clip(render_background(spec.background, SIZE), 0, 255)
        x0, _, x1, _ = bbox(ad.product_mask)
        band = np.asarray(ad.image, dtype=float)[bottom + 1 : bottom + 4, x0:x1]
        assert np.abs(band - clean[bottom + 1 : bottom + 4, x0:x1]).max() < 2.0


def test_low_contrast_background_is_close_to_the_products_colour(planted):
    for key, (_, cutout, _, ad) in planted.items():
        if key[0] == "low_contrast":
            assert delta_e(background_next_to(ad), dominant_color(cutout)) < 20


def test_clashing_background_is_loud_and_far_in_hue(planted):
    for key, (_, cutout, _, ad) in planted.items():
        if key[0] != "clashing":
            continue
        chroma, hue = chroma_hue(background_next_to(ad))
        assert chroma > 45
        p_chroma, p_hue = chroma_hue(dominant_color(cutout))
        if p_chroma >= rules.ACHROMATIC_CHROMA:
            assert hue_distance(hue, p_hue) > 90


def test_shape_defects_change_the_product_itself(planted):
    for kind in ("distorted", "extended", "cropped"):
        for _, cutout, spec, _ad in of_kind(planted, kind):
            clean = np.asarray(cutout)[..., 3] > 128
            shown = shown_product(cutout, spec)
            alpha = np.asarray(shown)[..., 3] > 128
            ox0, oy0, ox1, oy1 = alpha_bbox(cutout, 128)
            if kind == "cropped":
                removed = 1 - alpha.sum() / clean.sum()
                assert removed > 0.1
                assert shown.size != (ox1 - ox0, oy1 - oy0) or removed > 0.1
            elif kind == "extended":
                # The attached part makes the product reach beyond its own outline.
                sx, sy = shown.size
                assert sx > (ox1 - ox0) * 1.1 or sy > (oy1 - oy0) * 1.1
            else:
                ratio_clean = (ox1 - ox0) / (oy1 - oy0)
                ratio_shown = shown.width / shown.height
                stretched = abs(np.log(ratio_shown / ratio_clean)) > np.log(1.2)
                assert stretched or spec.defect("shape").params["mode"] == "warp"
                if not stretched:
                    # A warp moves the outline: compare both at the same size.
                    a = np.asarray(shown.resize((64, 64)))[..., 3] > 128
                    b = np.asarray(cutout.crop((ox0, oy0, ox1, oy1)).resize((64, 64)))
                    iou = (a & (b[..., 3] > 128)).sum() / (a | (b[..., 3] > 128)).sum()
                    assert iou < 0.93


def test_higher_severity_means_a_worse_defect(planted):
    def small(key):
        return longest_side(planted[key][3].product_mask)

    assert small(("too_small", 0.95, 0)) < small(("too_small", 0.1, 0))

    def contrast(key):
        _, cutout, _, ad = planted[key]
        return delta_e(background_next_to(ad), dominant_color(cutout))

    assert np.mean([contrast(("low_contrast", 0.95, r)) for r in range(3)]) < np.mean(
        [contrast(("low_contrast", 0.1, r)) for r in range(3)]
    )


def test_judging_the_pixels_agrees_with_the_truth(world):
    agree = Counter()
    sample = world[:200]
    for product, ad in sample:
        judged = judge_generated(
            ad.image, ad.product_mask, load_cutout(product), ad.recipe["spec"]["layout"]
        )
        truth = oracle_verdict(ad.truth)
        for key in (*rules.ASPECTS, "usable"):
            agree[key] += judged[key] == truth[key]
    for key, count in agree.items():
        assert count / len(sample) >= 0.9, (key, count / len(sample))


def test_judge_flags_a_product_pasted_somewhere_else():
    # A generator that pastes the product away from the layout it reports gets no pass.
    product, ad = next(iter(generate_world(1, seed=0)))
    cutout = load_cutout(product)
    layout = dict(ad.recipe["spec"]["layout"])
    layout["cx"] += 0.15
    judged = judge_generated(ad.image, ad.product_mask, cutout, layout)
    assert judged["shape"] == "defect" and judged["usable"] == "no"


def test_oracle_verdict_follows_the_truth():
    truth = {
        "shape": {"defect": None, "severity": 0.0},
        "placement": {"defect": "floating", "severity": 0.4},
        "color": {"defect": None, "severity": 0.0},
    }
    assert oracle_verdict(truth) == {
        "shape": "ok",
        "placement": "defect",
        "color": "ok",
        "usable": "no",
    }
    truth["placement"] = {"defect": None, "severity": 0.0}
    assert oracle_verdict(truth)["usable"] == "yes"


def test_compose_at_another_size_scales_the_layout():
    product = world_products()[3]
    cutout = load_cutout(product)
    spec = sample_spec(product, np.random.default_rng(0), cutout=cutout, defects={})
    small, big = compose(product, cutout, spec, 128), compose(product, cutout, spec, 256)
    assert small.image.size == (128, 128)
    assert abs(small.product_mask.mean() - big.product_mask.mean()) < 0.02


def test_lab_round_trip_is_accurate():
    rgb = np.array([[12, 200, 90], [250, 250, 250], [128, 0, 255]], dtype=float)
    from labeling.world.colors import lab_to_rgb

    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)) - rgb).max() < 1.0


def test_pasting_an_intact_product_on_a_generated_background_passes_shape(world):
    # The generator's path: it makes a background, and the product is pasted as it is.
    product, ad = next((p, a) for p, a in world if a.truth["shape"]["defect"] is None)
    cutout = load_cutout(product)
    layout = ad.recipe["spec"]["layout"]
    background = Image.new("RGB", (SIZE, SIZE), (236, 236, 240))
    image, mask = paste_product(background, cutout, Layout(**layout))
    assert np.array_equal(mask, ad.product_mask)
    assert judge_generated(image, mask, cutout, layout)["shape"] == "ok"
    # The same paste with the product squashed is caught.
    squashed = cutout.resize((256, 160))
    image2, mask2 = paste_product(background, squashed, Layout(**layout))
    assert judge_generated(image2, mask2, cutout, layout)["shape"] == "defect"
