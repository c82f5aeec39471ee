"""The numbers that define each defect, shared by the composer (which plants defects) and the
oracle (which judges images). The composer samples strictly inside its ranges; the oracle's
thresholds sit in the gap between "fine" and "defect" ranges, so the two agree by design.

Geometry is in fractions of the canvas side; "scale" is the longest side of the product's
bounding box. Colour distances are CIELAB ΔE76; chroma is CIELAB chroma.
"""

from __future__ import annotations

DEFECTS = {
    "shape": ("distorted", "extended", "cropped"),
    "placement": ("floating", "off_centre", "too_small", "too_large", "cut_by_canvas"),
    "color": ("clashing", "low_contrast"),
}
# The world plants and judges the aspects it has defects for (the product brief's three).
ASPECTS = tuple(DEFECTS)
SEVERITY_RANGE = (0.05, 1.0)

# --- placement -------------------------------------------------------------------------
GOOD_SCALE = (0.46, 0.68)
GOOD_MAX_OFFSET = 0.035  # |centre - 0.5| for a well-centred product
SMALL_SCALE = (0.31, 0.15)  # severity 0 -> 1
LARGE_SCALE = (0.86, 0.975)
OFF_OFFSET = (0.16, 0.26)
CUT_FRACTION = (0.12, 0.42)  # share of the product's width / height outside the canvas
FLOAT_GAP = (0.05, 0.2)  # product bottom above the surface line
ORACLE_SMALL = 0.385
ORACLE_LARGE = 0.78
ORACLE_OFFSET = 0.1
ORACLE_FLOAT_GAP = 0.02
CONTACT_SHADOW_RATIO = 0.86  # band under the product / surroundings, mean RGB

# --- colour ----------------------------------------------------------------------------
GOOD_MIN_DE = 34.0  # main background colour vs product dominant colour
GOOD_MIN_DE_ANY = 29.0  # every background tone
GOOD_MAX_CHROMA = 30.0
BOLD_SHARE = 0.2  # good ads on a loud background in a hue next to the product's
BOLD_MIN_PRODUCT_CHROMA = 25.0
BOLD_MAX_HUE_GAP = 60.0
LOW_DE = (17.0, 4.0)  # severity 0 -> 1
CLASH_MIN_CHROMA = 56.0
CLASH_HUE_JITTER = 35.0  # degrees around the exact complement, at severity 0
ACHROMATIC_CHROMA = 15.0  # below this a product has no hue to clash with; any loud hue clashes
ORACLE_LOW_DE = 23.0
ORACLE_CLASH_CHROMA = 44.0
ORACLE_CLASH_HUE = 95.0

# --- shape -----------------------------------------------------------------------------
# Shape defects must read at 96x96 even for a product seen in one pose only, so the
# mildest ones are already clear to a person who knows the product.
STRETCH = (1.45, 2.1)
WARP_AMPLITUDE = (0.07, 0.15)
EXTEND_LENGTH = (0.25, 0.6)
CROP_FRACTION = (0.18, 0.45)
ORACLE_SHAPE_IOU = 0.93
ORACLE_SHAPE_PIXEL_DIFF = 12.0  # mean |RGB| difference on product pixels


def lerp(bounds: tuple[float, float], t: float) -> float:
    lo, hi = bounds
    return lo + (hi - lo) * t
