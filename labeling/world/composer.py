"""Compose ad images with known ground truth: a product cut-out on a background, with
planted shape / placement / colour defects, and the recipe to recompose it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from labeling.world import rules
from labeling.world.backgrounds import (
    STYLES,
    SURFACE_STYLES,
    Background,
    add_shadow,
    render_background,
)
from labeling.world.palette import clashing_palette, good_palette, low_contrast_palette
from labeling.world.products import WorldProduct, dominant_color, load_cutout, world_products
from labeling.world.rules import ASPECTS, DEFECTS, lerp
from labeling.world.shapes import EXTEND_PARTS, apply_shape_defect, trim


@dataclass
class Layout:
    cx: float  # centre of the shown product's bounding box, fraction of width
    cy: float  # ... of height
    scale: float  # longest side of that box, fraction of the canvas side


@dataclass
class Defect:
    aspect: str
    kind: str
    severity: float
    params: dict = field(default_factory=dict)


@dataclass
class AdSpec:
    background: Background
    layout: Layout
    defects: list[Defect] = field(default_factory=list)
    # contact (grounded), soft (drop shadow on a plain background), detached (on the floor
    # below a floating product) or none.
    shadow: str = "none"

    def defect(self, aspect: str) -> Defect | None:
        return next((d for d in self.defects if d.aspect == aspect), None)


@dataclass
class ComposedAd:
    image: Image.Image
    product_mask: np.ndarray
    recipe: dict
    truth: dict
    usable: bool


def spec_from_dict(d: dict) -> AdSpec:
    return AdSpec(
        background=Background(**d["background"]),
        layout=Layout(**d["layout"]),
        defects=[Defect(**x) for x in d["defects"]],
        shadow=d["shadow"],
    )


def truth_of(spec: AdSpec) -> dict:
    out = {}
    for aspect in ASPECTS:
        d = spec.defect(aspect)
        out[aspect] = {"defect": d.kind if d else None, "severity": d.severity if d else 0.0}
    return out


def shown_product(cutout: Image.Image, spec: AdSpec) -> Image.Image:
    """The product as it appears (shape defect applied), trimmed to its bounding box."""
    d = spec.defect("shape")
    return apply_shape_defect(cutout, d.kind if d else None, d.params if d else {})


def place(obj: Image.Image, layout: Layout, size: int) -> tuple[Image.Image, int, int]:
    """Resize a trimmed RGBA object to the layout's scale; return it and its top-left corner.

    This is the one paste rule: the generator's pipeline and the oracle use it too.
    """
    longest = max(2, round(layout.scale * size))
    k = longest / max(obj.size)
    tw, th = max(1, round(obj.width * k)), max(1, round(obj.height * k))
    # Premultiplied resize, or transparent pixels bleed dark fringes into the edges.
    resized = obj.convert("RGBa").resize((tw, th), Image.Resampling.BILINEAR).convert("RGBA")
    return resized, round(layout.cx * size - tw / 2), round(layout.cy * size - th / 2)


def paste_product(
    background: Image.Image, cutout: Image.Image, layout: Layout
) -> tuple[Image.Image, np.ndarray]:
    """Paste an intact product on a (generated) background: the image and its product mask.

    For generators that only make the background; judge_generated expects exactly this paste.
    """
    size = background.width
    obj, x, y = place(trim(cutout), layout, size)
    image = background.convert("RGB").copy()
    image.paste(obj, (x, y), obj)
    return image, _mask_on_canvas(np.asarray(obj.getchannel("A")), x, y, size)


def _mask_on_canvas(alpha: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    h, w = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(size, x + w), min(size, y + h)
    if x0 < x1 and y0 < y1:
        mask[y0:y1, x0:x1] = alpha[y0 - y : y1 - y, x0 - x : x1 - x] > 127
    return mask


def compose(
    product: WorldProduct, cutout: Image.Image, spec: AdSpec, size: int = 256
) -> ComposedAd:
    obj, x, y = place(shown_product(cutout, spec), spec.layout, size)
    canvas = render_background(spec.background, size)
    w, h = obj.size
    bottom = y + h
    bg = spec.background
    if spec.shadow == "contact":
        rx = 0.42 * w + 2
        ry = max(3.5, 0.2 * rx)
        add_shadow(canvas, x + w / 2, bottom - 0.3 * ry, rx, ry, 0.6)
    elif spec.shadow == "soft":
        rx = 0.5 * w + 2
        add_shadow(canvas, x + w / 2, bottom + 2, rx, max(4.0, 0.25 * rx), 0.32)
    elif spec.shadow == "detached" and bg.surface_y is not None:
        floor = bg.surface_y + (0.035 if bg.style == "scene" else 0.06)
        rx = 0.4 * w + 2
        add_shadow(canvas, x + w / 2, floor * size, rx, max(3.5, 0.2 * rx), 0.4)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    image.paste(obj, (x, y), obj)
    mask = _mask_on_canvas(np.asarray(obj.getchannel("A")), x, y, size)
    truth = truth_of(spec)
    recipe = recipe_for(product, spec, size)
    usable = all(t["defect"] is None for t in truth.values())
    return ComposedAd(image=image, product_mask=mask, recipe=recipe, truth=truth, usable=usable)


def recipe_for(product: WorldProduct, spec: AdSpec, size: int = 256) -> dict:
    """What :func:`compose_from_recipe` needs to make the ad again, as JSON-able data."""
    return {"sku": product.sku, "asset": product.asset, "size": size, "spec": asdict(spec)}


def compose_from_recipe(recipe: dict, asset_dir: str | Path | None = None) -> ComposedAd:
    """Recompose an ad exactly from its recipe (pixels identical to the original)."""
    product = next(p for p in world_products() if p.sku == recipe["sku"])
    cutout = load_cutout(product, asset_dir)
    return compose(product, cutout, spec_from_dict(recipe["spec"]), recipe["size"])


# --- sampling ---------------------------------------------------------------------------


def _shape_params(kind: str, sev: float, dom, rng: np.random.Generator) -> dict:
    if kind == "distorted":
        if rng.random() < 0.5:
            f = lerp(rules.STRETCH, sev)
            return {
                "mode": "stretch",
                "factor": f if rng.random() < 0.5 else 1 / f,
                "axis": str(rng.choice(["x", "y"])),
            }
        return {
            "mode": "warp",
            "amplitude": lerp(rules.WARP_AMPLITUDE, sev),
            "cycles": float(rng.uniform(1.2, 2.4)),
            "phase": float(rng.uniform(0, 2 * math.pi)),
        }
    if kind == "extended":
        return {
            "part": str(rng.choice(EXTEND_PARTS)),
            "length": lerp(rules.EXTEND_LENGTH, sev),
            "color": list(dom),
            "side": str(rng.choice(["left", "right"])),
        }
    base = float(rng.choice([90.0, 0.0, 180.0, 45.0, 135.0]))
    return {"angle": base + float(rng.uniform(-20, 20)), "fraction": lerp(rules.CROP_FRACTION, sev)}


def _palette(kind: str | None, sev: float, dom, rng) -> list[list[int]]:
    if kind == "clashing":
        return clashing_palette(dom, sev, rng)
    if kind == "low_contrast":
        return low_contrast_palette(dom, sev, rng)
    return good_palette(dom, rng)


def _draw_defects(style: str, defect_rate: float, rng) -> list[tuple[str, str, float]]:
    if rng.random() >= defect_rate:
        return []
    n = 2 if rng.random() < 0.18 else 1
    out = []
    for aspect in rng.choice(ASPECTS, size=n, replace=False):
        kinds = DEFECTS[str(aspect)]
        if aspect == "placement" and style not in SURFACE_STYLES:
            kinds = tuple(k for k in kinds if k != "floating")  # nothing to float above
        sev = float(np.round(rng.uniform(*rules.SEVERITY_RANGE), 3))
        out.append((str(aspect), str(rng.choice(kinds)), sev))
    return out


def sample_spec(
    product: WorldProduct,
    rng: np.random.Generator,
    defect_rate: float = 0.45,
    cutout: Image.Image | None = None,
    asset_dir: str | Path | None = None,
    defects: dict[str, tuple[str, float]] | None = None,
) -> AdSpec:
    """Draw a realistic ad: most are fine; defects in every aspect, sometimes two at once.

    The background style is drawn before the defects and independently of them, so the style
    says nothing about whether the image is usable. `defects` ({aspect: (kind, severity)})
    asks for exactly those defects instead of drawing them (for demos and tests).
    """
    cutout = cutout if cutout is not None else load_cutout(product, asset_dir)
    dom = dominant_color(cutout)
    if defects is not None:
        floating = defects.get("placement", ("", 0.0))[0] == "floating"
        style = str(rng.choice(SURFACE_STYLES if floating else STYLES))
        drawn = dict(defects)
    else:
        style = str(rng.choice(STYLES))
        drawn = {a: (k, s) for a, k, s in _draw_defects(style, defect_rate, rng)}
    planted = []
    if "shape" in drawn:
        k, s = drawn["shape"]
        planted.append(Defect("shape", k, s, _shape_params(k, s, dom, rng)))
    ckind, csev = drawn.get("color", (None, 0.0))
    colors = _palette(ckind, csev, dom, rng)
    if ckind:
        planted.append(Defect("color", ckind, csev, {}))
    bg = Background(style=style, colors=colors, seed=int(rng.integers(2**31)))
    if style == "gradient":
        bg.angle = float(rng.uniform(45, 135))
    elif style == "scene":
        bg.angle = float(rng.uniform(0.3, 0.7) * 360)
    spec = AdSpec(background=bg, layout=Layout(0.5, 0.5, 0.5), defects=planted)
    pkind, psev = drawn.get("placement", (None, 0.0))
    obj = shown_product(cutout, spec)
    aspect_wh = obj.width / obj.height
    _sample_layout(spec, aspect_wh, pkind, psev, rng)
    if pkind:
        spec.defects.append(Defect("placement", pkind, psev, {}))
    return spec


def _sample_layout(spec: AdSpec, aspect_wh: float, kind: str | None, sev: float, rng) -> None:
    """Fill spec.layout, spec.shadow and the surface lines for the placement outcome."""
    bg = spec.background
    surfaced = bg.style in SURFACE_STYLES
    u = rng.uniform

    def dims(scale: float) -> tuple[float, float]:
        return (scale, scale / aspect_wh) if aspect_wh >= 1 else (scale * aspect_wh, scale)

    scale = {
        None: u(*rules.GOOD_SCALE),
        "off_centre": u(0.44, 0.52),
        "too_small": lerp(rules.SMALL_SCALE, sev),
        "too_large": lerp(rules.LARGE_SCALE, sev),
        "cut_by_canvas": u(0.5, 0.72),
        "floating": u(0.44, 0.56),
    }[kind]
    w, h = dims(scale)
    cx = 0.5 + u(-rules.GOOD_MAX_OFFSET, rules.GOOD_MAX_OFFSET)
    cy = 0.5 + u(-rules.GOOD_MAX_OFFSET, rules.GOOD_MAX_OFFSET)
    if kind == "too_large":
        cx = cy = 0.5
    elif kind == "off_centre":
        off = lerp(rules.OFF_OFFSET, sev)
        # Keep the whole product on the canvas: an off-centre product is not a cut one.
        direction = rng.choice(["x", "y", "xy"]) if not surfaced else "x"
        if "x" in direction:
            w_max = 2 * (0.5 - off - 0.02)
            if w > w_max:
                scale *= w_max / w
                w, h = dims(scale)
            cx = 0.5 + off * rng.choice([-1.0, 1.0])
        if "y" in direction:
            h_max = 2 * (0.5 - off - 0.02)
            if h > h_max:
                scale *= h_max / h
                w, h = dims(scale)
            cy = 0.5 + off * rng.choice([-1.0, 1.0])
    elif kind == "cut_by_canvas":
        frac = lerp(rules.CUT_FRACTION, sev)
        side = rng.choice(["left", "right"] if surfaced else ["left", "right", "top", "bottom"])
        if side in ("left", "right"):
            cx = w / 2 - frac * w if side == "left" else 1 - w / 2 + frac * w
        else:
            cy = h / 2 - frac * h if side == "top" else 1 - h / 2 + frac * h

    if not surfaced:
        spec.shadow = "soft" if rng.random() < 0.5 else "none"
    elif kind == "floating":
        surface = u(0.64, 0.76)
        gap = lerp(rules.FLOAT_GAP, sev)
        h_max = surface - gap - 0.04
        if h > h_max:
            scale *= h_max / h
            w, h = dims(scale)
        cy = surface - gap - h / 2
        bg.surface_y = surface
        if bg.style == "scene":
            bg.front_y = min(0.97, surface + u(0.12, 0.18))
        spec.shadow = "detached" if rng.random() < 0.5 else "none"
    else:
        # Grounded: the product's bottom rests on the floor / table top, with a contact shadow.
        bottom = 0.5 + h / 2 if kind == "too_large" else min(0.93, 0.5 + h / 2 + u(0.0, 0.08))
        if bg.style == "studio":
            bg.surface_y = float(min(u(0.5, 0.68), bottom - 0.06))
        else:
            bg.surface_y = float(min(u(0.55, 0.75), bottom - u(0.035, 0.07)))
            bg.front_y = min(0.985, bottom + u(0.03, 0.08))
        cy = bottom - h / 2  # cut_by_canvas on a surface only leaves by the left or right
        spec.shadow = "contact"
    spec.layout = Layout(cx=float(cx), cy=float(cy), scale=float(scale))


def world_specs(
    n: int,
    seed: int,
    asset_dir: str | Path | None = None,
    defect_rate: float = 0.45,
) -> Iterator[tuple[WorldProduct, Image.Image, AdSpec]]:
    """The n ads' products, cut-outs and specs, deterministic for a seed: sampling is cheap
    and sequential, composing (:func:`compose`) is the cost and may run anywhere."""
    rng = np.random.default_rng(seed)
    products = world_products()
    for _ in range(n):
        product = products[int(rng.integers(len(products)))]
        cutout = load_cutout(product, asset_dir)
        yield product, cutout, sample_spec(product, rng, defect_rate, cutout=cutout)


def generate_world(
    n: int,
    seed: int,
    asset_dir: str | Path | None = None,
    defect_rate: float = 0.45,
    size: int = 256,
) -> Iterator[tuple[WorldProduct, ComposedAd]]:
    """n ads, deterministic for a seed (same seed: byte-identical images)."""
    for product, cutout, spec in world_specs(n, seed, asset_dir, defect_rate):
        yield product, compose(product, cutout, spec, size)
