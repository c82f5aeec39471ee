"""What the generator jobs read from the project: training ads, products and their cut-outs,
and the fixed held-out set of (product, seed) pairs every version is judged on.

Called inside job runners only (it imports the world composer and torch lazily).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from PIL import Image

from jdreview.models import Product, Project
from labeling.models import AD_IMAGE, Item

if TYPE_CHECKING:
    from workers.imagegen.ml.train import GenData

# The held-out set: every third catalog product with a cut-out (by SKU), up to this many,
# each with the same seeds. Fixed per catalog, so every version of every generator is
# judged on the same ads.
HELDOUT_PRODUCTS = 12
HELDOUT_SEEDS = (10_001, 10_002)


class GeneratorDataError(ValueError):
    """The project has nothing to train on or generate for (said plainly on the job page)."""


@dataclass
class ProductSet:
    products: list[Product]
    titles: list[str]
    cutouts: list[Image.Image]
    seeds: list[int]


def text_cache_dir() -> Path:
    return Path(settings.ARTIFACT_ROOT) / "cache" / "minilm"


def product_cutout(product: Product) -> Image.Image:
    if not product.cutout:
        raise GeneratorDataError(f"product {product.sku} has no reference cut-out to generate from")
    try:
        with Image.open(product.cutout.path) as im:
            return im.convert("RGBA")
    except (OSError, ValueError) as exc:
        raise GeneratorDataError(f"the cut-out of product {product.sku} cannot be read") from exc


def catalog_products() -> list[Product]:
    """Products a generator can place: those with a reference cut-out."""
    return list(Product.objects.exclude(cutout="").order_by("sku"))


def heldout_set() -> ProductSet:
    products = catalog_products()[::3][:HELDOUT_PRODUCTS]
    if not products:
        raise GeneratorDataError("the catalog has no product with a cut-out")
    cutouts = {p.pk: product_cutout(p) for p in products}
    pairs = [(p, s) for p in products for s in HELDOUT_SEEDS]
    return ProductSet(
        products=[p for p, _ in pairs],
        titles=[p.title for p, _ in pairs],
        cutouts=[cutouts[p.pk] for p, _ in pairs],
        seeds=[s for _, s in pairs],
    )


def rl_products() -> ProductSet:
    """RL trains on the products outside the held-out set (a held-out score on products
    the run optimised for would hide overfitting)."""
    held = {p.pk for p in catalog_products()[::3][:HELDOUT_PRODUCTS]}
    products = [p for p in catalog_products() if p.pk not in held]
    if not products:
        raise GeneratorDataError("the catalog has no product outside the held-out set")
    titles = [p.title for p in products]
    return ProductSet(products, titles, [product_cutout(p) for p in products], [])


def training_ads(project: Project, *, images: int, seed: int) -> tuple[list[Any], str]:
    """Up to ``images`` usable ads as (product, ComposedAd) pairs, and where they came from.

    The project's own world images when it has enough (recomposed from their recipes, which
    gives the product mask with the pixels); otherwise fresh ads from the world composer."""
    from labeling.world.composer import compose_from_recipe

    rows = list(
        Item.objects.filter(
            project=project, source=Item.Source.WORLD, kind=AD_IMAGE, truth__usable=True
        )
        .exclude(recipe={})
        .order_by("pk")
        .values_list("recipe", flat=True)[:images]
    )
    if len(rows) >= min(images, 32):
        by_sku = {p.sku: p for p in _world_products()}
        ads = []
        for recipe in rows:
            ad = compose_from_recipe(recipe, settings.EMOJI_ASSET_DIR)
            ads.append((by_sku[recipe["sku"]], ad))
        return ads, f"{len(ads)} usable world images of this project"
    from workers.imagegen.ml.world_data import world_ads

    # About half the world's ads are usable: compose twice as many and keep those.
    fresh = [
        (p, a)
        for p, a in world_ads(2 * images, seed=seed, asset_dir=settings.EMOJI_ASSET_DIR)
        if a.usable
    ][:images]
    if not fresh:
        raise GeneratorDataError("no usable world ads to train on")
    return fresh, f"{len(fresh)} usable ads freshly composed from the world (seed {seed})"


def _world_products() -> list[Any]:
    from labeling.world.products import world_products

    return world_products()


def split_data(data: GenData, every: int = 5) -> tuple[GenData, GenData]:
    """(train, held-out): every ``every``-th example is held out for the denoising loss."""
    import torch

    from workers.imagegen.ml.train import GenData

    idx = torch.arange(len(data))
    held, train = idx[idx % every == 0], idx[idx % every != 0]

    def pick(i: torch.Tensor) -> GenData:
        return GenData(data.target[i], data.known[i], data.mask[i], data.text[i])

    return pick(train), pick(held)


def generator_data(project: Project, *, images: int, seed: int, resolution: int) -> tuple:
    """(train GenData, held-out GenData, description of the source)."""
    from workers.imagegen.ml.world_data import world_training_data

    ads, source = training_ads(project, images=images, seed=seed)
    data = world_training_data(ads, resolution, cache_dir=text_cache_dir())
    train, held = split_data(data)
    return train, held, source
