"""The benchmark world: products, composed ad images with known defects, an oracle and
simulated reviewers. Plain Python (numpy, Pillow, scipy); no Django, no torch.

Names are imported lazily so that `labeling.world.catalog` and friends stay cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AdSpec": "composer",
    "ComposedAd": "composer",
    "Defect": "composer",
    "Layout": "composer",
    "compose": "composer",
    "compose_from_recipe": "composer",
    "paste_product": "composer",
    "generate_world": "composer",
    "sample_spec": "composer",
    "spec_from_dict": "composer",
    "judge_generated": "oracle",
    "oracle_verdict": "oracle",
    "DEFAULT_ASSET_DIR": "products",
    "WorldProduct": "products",
    "dominant_color": "products",
    "load_cutout": "products",
    "world_products": "products",
    "SimulatedReviewer": "reviewers",
    "reviewer_pool": "reviewers",
    "ASPECTS": "rules",
    "DEFECTS": "rules",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
