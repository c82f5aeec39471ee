"""Background colours chosen relative to the product's dominant colour.

Good backgrounds are calm (low chroma) and far from the product's colour; "clashing" ones are
loud and near the complementary hue; "low contrast" ones sit close to the product's colour.
Every choice is measured after gamut clipping, so the rules in rules.py hold on real pixels.
"""

from __future__ import annotations

import numpy as np

from labeling.world import rules
from labeling.world.colors import (
    chroma_hue,
    delta_e,
    hue_distance,
    lab_to_rgb,
    lch_to_rgb,
    rgb_to_lab,
)

Color = list[int]


def _rgb(lab: np.ndarray) -> Color:
    return [round(v) for v in lab_to_rgb(lab)]


def _shift_l(rgb: Color, dl: float, dh: float = 0.0, chroma_gain: float = 1.0) -> Color:
    lab = rgb_to_lab(rgb)
    c, h = float(np.hypot(lab[1], lab[2])), float(np.degrees(np.arctan2(lab[2], lab[1])))
    return list(lch_to_rgb(float(np.clip(lab[0] + dl, 3, 98)), c * chroma_gain, h + dh))


def bold_palette(dom: tuple[int, int, int], rng: np.random.Generator) -> list[Color] | None:
    """A loud background in a hue next to the product's, far from it in lightness.

    Bold single-hue ads are fine design; they exist so that "loud background" alone never
    means "clashing": a judge has to compare the background's hue with the product's.
    """
    chroma, hue = chroma_hue(dom)
    if chroma < rules.BOLD_MIN_PRODUCT_CHROMA:
        return None
    light = rgb_to_lab(dom)[0]
    for _ in range(12):
        h = hue + rng.choice([-1.0, 1.0]) * rng.uniform(12, 40)
        lum = rng.uniform(20, 40) if light > 55 else rng.uniform(72, 90)
        c1 = list(lch_to_rgb(lum, rng.uniform(45, 80), h))
        dl = rng.uniform(8, 12) * (1 if lum < 50 else -1)
        cols = [
            c1,
            _shift_l(c1, dl, rng.uniform(-6, 6)),
            _shift_l(c1, -dl * 0.5, rng.uniform(-10, 10)),
        ]
        measured = [chroma_hue(c) for c in cols]
        if (
            all(hue_distance(hh, hue) <= rules.BOLD_MAX_HUE_GAP for _, hh in measured)
            and all(delta_e(c, dom) >= rules.GOOD_MIN_DE for c in cols)
            and delta_e(cols[0], cols[1]) >= 8
        ):
            return cols
    return None


def good_palette(dom: tuple[int, int, int], rng: np.random.Generator) -> list[Color]:
    _, hue = chroma_hue(dom)
    if rng.random() < rules.BOLD_SHARE:
        bold = bold_palette(dom, rng)
        if bold is not None:
            return bold
    best, best_score = None, -1.0
    for _ in range(24):
        # Real product ads are mostly light and airy; dark and mid tones are the minority.
        mode = rng.choice(["light", "pastel", "mid", "dark"], p=[0.35, 0.35, 0.15, 0.15])
        if mode == "light":
            lch = (rng.uniform(88, 97), rng.uniform(2, 12), rng.uniform(0, 360))
        elif mode == "pastel":
            h = hue + rng.choice([180.0, 40.0, -40.0, 120.0, -120.0]) + rng.uniform(-15, 15)
            lch = (rng.uniform(74, 90), rng.uniform(12, 26), h)
        elif mode == "mid":
            lch = (rng.uniform(52, 68), rng.uniform(4, 22), rng.uniform(0, 360))
        else:
            lch = (rng.uniform(16, 30), rng.uniform(3, 20), rng.uniform(0, 360))
        c1 = list(lch_to_rgb(*lch))
        dl = rng.uniform(8, 14) * (-1 if lch[0] > 55 else 1)
        c2 = _shift_l(c1, dl, rng.uniform(-8, 8))
        c3 = _shift_l(c1, -dl * 0.5, rng.uniform(15, 30), 1.1)
        cols = [c1, c2, c3]
        des = [delta_e(c, dom) for c in cols]
        ok_chroma = all(chroma_hue(c)[0] <= rules.GOOD_MAX_CHROMA for c in cols)
        score = min(des[0] - rules.GOOD_MIN_DE, min(des) - rules.GOOD_MIN_DE_ANY)
        if ok_chroma and score >= 0 and delta_e(c1, c2) >= 8:
            return cols
        if ok_chroma and score > best_score:
            best, best_score = cols, score
    # Extremely rare: fall back to the better of near-white and near-black.
    if best is None or best_score < 0:
        white, black = [236, 236, 238], [34, 34, 38]
        c1 = white if delta_e(white, dom) > delta_e(black, dom) else black
        best = [
            c1,
            _shift_l(c1, -10 if c1 is white else 10),
            _shift_l(c1, -5 if c1 is white else 5),
        ]
    return best


def low_contrast_palette(
    dom: tuple[int, int, int], severity: float, rng: np.random.Generator
) -> list[Color]:
    target = rules.lerp(rules.LOW_DE, severity)
    base = rgb_to_lab(dom)
    for _ in range(20):
        u = rng.normal(size=3) * np.array([1.6, 1.0, 1.0])  # mostly a lightness change
        u /= np.linalg.norm(u)
        c1, c2 = _rgb(base + target * u), _rgb(base - target * u)
        v = rng.normal(size=3)
        c3 = _rgb(base + target * 0.8 * v / np.linalg.norm(v))
        if all(delta_e(c, dom) <= rules.LOW_DE[0] + 1 for c in (c1, c2, c3)):
            return [c1, c2, c3]
        target *= 0.85  # gamut clipping moved us away; aim closer
    return [list(dom), list(dom), list(dom)]


def clashing_palette(
    dom: tuple[int, int, int], severity: float, rng: np.random.Generator
) -> list[Color]:
    chroma, hue = chroma_hue(dom)
    achromatic = chroma < rules.ACHROMATIC_CHROMA
    best, best_c = None, -1.0
    for attempt in range(30):
        # Some complements (cyan opposite red) are dull in sRGB: widen the search around the
        # complement step by step until a loud enough colour is found.
        spread = max(rules.CLASH_HUE_JITTER * (1 - severity), 3.0 * attempt)
        jitter = min(spread, 65.0) * rng.uniform(-1, 1)
        h = rng.uniform(0, 360) if achromatic else hue + 180 + jitter
        c1 = list(lch_to_rgb(rng.uniform(50, 78), 80 + 40 * severity, h))
        # The second and accent tones keep as much of the loudness as the gamut allows.
        c2 = max((_shift_l(c1, d) for d in (-10.0, 10.0)), key=lambda c: chroma_hue(c)[0])
        accents = [_shift_l(c1, 0, d) for d in (-30.0, -15.0, 15.0, 30.0)]
        accents = [
            c for c in accents if achromatic or hue_distance(chroma_hue(c)[1], hue) >= 110
        ] or [c2]
        c3 = max(accents, key=lambda c: chroma_hue(c)[0])
        cs = [chroma_hue(c) for c in (c1, c2, c3)]
        min_c = min(c for c, _ in cs)
        far = achromatic or all(hue_distance(hh, hue) >= 110 for _, hh in cs)
        if far and min_c >= rules.CLASH_MIN_CHROMA and delta_e(c1, dom) > rules.GOOD_MIN_DE:
            return [c1, c2, c3]
        if far and min_c > best_c:
            best, best_c = [c1, c2, c3], min_c
    return best or [[0, 255, 0], [0, 220, 0], [0, 255, 120]]
