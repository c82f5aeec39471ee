"""Synthetic product catalog for search, query expansion and agent tools.

Titles are assembled from a small e-commerce taxonomy (category, brand, colour, material,
category-specific attributes), so every product's facets are known exactly and query
relevance can be computed from them rather than judged. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["BRANDS", "COLORS", "TAXONOMY", "CatalogProduct", "Category", "build_catalog"]


@dataclass(frozen=True)
class CatalogProduct:
    sku: str
    title: str
    description: str
    category: str
    brand: str
    color: str
    material: str
    price: float
    attributes: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Category:
    name: str  # canonical catalog wording, used in titles ("running shoes")
    department: str
    materials: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]]  # facet -> values; first facet goes in the title
    price: tuple[float, float]
    audience: tuple[str, ...] = ()  # "men", "women", "kids" when the category is gendered
    uses: tuple[str, ...] = ()  # activities named in descriptions ("running", "trail")


# The catalog speaks "merchant English": canonical nouns only. Colloquial words, synonyms
# and intents live in the query generator, which is what makes expansion necessary.
# fmt: off
TAXONOMY: tuple[Category, ...] = (
    Category("running shoes", "footwear", ("mesh", "knit", "synthetic"),
             {"feature": ("lightweight", "cushioned", "breathable", "waterproof")},
             (39, 179), ("men", "women", "kids"), ("running", "marathon", "road")),
    Category("trail shoes", "footwear", ("mesh", "leather", "synthetic"),
             {"feature": ("waterproof", "grippy", "lightweight")},
             (59, 199), ("men", "women"), ("hiking", "trail", "running")),
    Category("hiking boots", "footwear", ("leather", "suede", "nylon"),
             {"feature": ("waterproof", "insulated", "ankle support")},
             (69, 249), ("men", "women"), ("hiking", "walking", "outdoor")),
    Category("sandals", "footwear", ("leather", "rubber", "cork"),
             {"feature": ("adjustable", "cushioned", "slip-on")},
             (15, 89), ("men", "women", "kids"), ("beach", "summer")),
    Category("slippers", "footwear", ("wool", "fleece", "suede"),
             {"feature": ("memory foam", "non-slip", "slip-on")},
             (12, 59), ("men", "women", "kids"), ("indoor", "home")),
    Category("t-shirt", "apparel", ("cotton", "polyester", "linen"),
             {"fit": ("slim fit", "regular fit", "oversized")},
             (9, 49), ("men", "women", "kids"), ("everyday", "workout")),
    Category("hoodie", "apparel", ("cotton", "fleece", "polyester"),
             {"fit": ("zip-up", "pullover", "oversized")},
             (25, 99), ("men", "women", "kids"), ("everyday", "winter")),
    Category("rain jacket", "apparel", ("nylon", "polyester", "gore-tex"),
             {"feature": ("waterproof", "packable", "hooded")},
             (39, 229), ("men", "women", "kids"), ("hiking", "travel", "commuting")),
    Category("winter coat", "apparel", ("wool", "down", "polyester"),
             {"feature": ("insulated", "hooded", "long")},
             (79, 399), ("men", "women", "kids"), ("winter", "cold weather")),
    Category("leggings", "apparel", ("spandex", "cotton", "nylon"),
             {"feature": ("high-waisted", "squat-proof", "pocketed")},
             (15, 89), ("women", "kids"), ("yoga", "workout", "running")),
    Category("socks", "apparel", ("cotton", "wool", "bamboo"),
             {"feature": ("cushioned", "ankle", "crew")},
             (5, 29), ("men", "women", "kids"), ("running", "hiking", "everyday")),
    Category("backpack", "bags", ("nylon", "canvas", "polyester", "leather"),
             {"capacity": ("20l", "30l", "40l")},
             (25, 189), (), ("school", "travel", "hiking")),
    Category("duffel bag", "bags", ("canvas", "nylon", "leather"),
             {"capacity": ("40l", "60l", "90l")},
             (29, 159), (), ("gym", "travel")),
    Category("wallet", "bags", ("leather", "canvas", "carbon fiber"),
             {"style": ("bifold", "trifold", "card holder")},
             (12, 99), ("men", "women"), ("everyday",)),
    Category("phone case", "electronics", ("silicone", "leather", "polycarbonate"),
             {"model": ("iphone 15", "iphone 14", "galaxy s24", "pixel 8")},
             (9, 59), (), ("protection",)),
    Category("wireless earbuds", "electronics", ("plastic", "aluminum"),
             {"feature": ("noise cancelling", "water resistant", "long battery")},
             (29, 249), (), ("running", "commuting", "workout")),
    Category("headphones", "electronics", ("plastic", "aluminum", "leather"),
             {"feature": ("noise cancelling", "over-ear", "foldable")},
             (39, 399), (), ("travel", "music", "gaming")),
    Category("smartwatch", "electronics", ("aluminum", "stainless steel", "plastic"),
             {"feature": ("gps", "heart rate", "sleep tracking")},
             (79, 499), (), ("running", "fitness", "swimming")),
    Category("laptop sleeve", "electronics", ("neoprene", "felt", "leather"),
             {"size": ("13 inch", "14 inch", "16 inch")},
             (15, 69), (), ("commuting", "travel")),
    Category("power bank", "electronics", ("plastic", "aluminum"),
             {"capacity": ("10000mah", "20000mah", "26800mah")},
             (19, 99), (), ("travel", "camping")),
    Category("coffee maker", "kitchen", ("stainless steel", "plastic", "glass"),
             {"style": ("drip", "pour-over", "espresso")},
             (25, 399), (), ("morning", "office")),
    Category("frying pan", "kitchen", ("cast iron", "stainless steel", "ceramic", "nonstick"),
             {"size": ("8 inch", "10 inch", "12 inch")},
             (15, 129), (), ("cooking",)),
    Category("water bottle", "kitchen", ("stainless steel", "plastic", "glass"),
             {"capacity": ("500ml", "750ml", "1l")},
             (8, 49), (), ("gym", "hiking", "school")),
    Category("chef knife", "kitchen", ("stainless steel", "carbon steel", "ceramic"),
             {"size": ("6 inch", "8 inch", "10 inch")},
             (19, 199), (), ("cooking",)),
    Category("yoga mat", "sports", ("rubber", "tpe", "cork", "pvc"),
             {"thickness": ("4mm", "6mm", "8mm")},
             (15, 119), (), ("yoga", "pilates", "workout")),
    Category("dumbbells", "sports", ("cast iron", "rubber", "neoprene"),
             {"weight": ("5 lb", "10 lb", "20 lb", "adjustable")},
             (15, 299), (), ("strength training", "home gym")),
    Category("tent", "sports", ("nylon", "polyester", "canvas"),
             {"capacity": ("2 person", "4 person", "6 person")},
             (59, 499), (), ("camping", "backpacking")),
    Category("sleeping bag", "sports", ("down", "polyester", "nylon"),
             {"rating": ("summer", "3 season", "winter")},
             (29, 299), (), ("camping", "backpacking")),
    Category("bike helmet", "sports", ("polycarbonate", "eps foam"),
             {"feature": ("mips", "ventilated", "led light")},
             (25, 199), ("men", "women", "kids"), ("cycling", "commuting")),
    Category("face moisturizer", "beauty", ("cream", "gel", "lotion"),
             {"skin": ("dry skin", "oily skin", "sensitive skin")},
             (8, 89), (), ("skincare",)),
    Category("shampoo", "beauty", ("liquid", "bar"),
             {"hair": ("curly hair", "dry hair", "oily hair")},
             (5, 39), (), ("haircare",)),
    Category("sunglasses", "accessories", ("acetate", "metal", "polycarbonate"),
             {"lens": ("polarized", "mirrored", "gradient")},
             (15, 249), ("men", "women", "kids"), ("beach", "driving", "running")),
    Category("building blocks", "toys", ("plastic", "wood"),
             {"pieces": ("100 piece", "500 piece", "1000 piece")},
             (12, 149), (), ("kids", "creative play")),
    Category("board game", "toys", ("cardboard", "wood"),
             {"players": ("2 player", "4 player", "party")},
             (15, 79), (), ("family", "game night")),
    Category("desk lamp", "home", ("metal", "plastic", "wood"),
             {"feature": ("dimmable", "usb charging", "clamp")},
             (19, 119), (), ("office", "reading", "study")),
    Category("throw blanket", "home", ("fleece", "wool", "cotton", "sherpa"),
             {"size": ("50x60", "60x80", "king size")},
             (19, 129), (), ("sofa", "bedroom")),
)
# fmt: on

BRANDS: dict[str, tuple[str, ...]] = {
    "footwear": ("Strideon", "Northpeak", "Velora", "Kestrel", "Altura"),
    "apparel": ("Loomwell", "Northpeak", "Velora", "Harbor & Pine", "Urbanist"),
    "bags": ("Carryall", "Northpeak", "Fieldcraft", "Urbanist"),
    "electronics": ("Sonaro", "Voltix", "Pulsewave", "Nimbus"),
    "kitchen": ("Hearthline", "Brewmaster", "Copperleaf", "Nimbus"),
    "sports": ("Ironform", "Northpeak", "Kestrel", "Trailhead"),
    "beauty": ("Dewdrop", "Purelle", "Botanica"),
    "accessories": ("Solaris", "Velora", "Kestrel"),
    "toys": ("Brickworks", "Playnest", "Tinkerly"),
    "home": ("Hearthline", "Lumen", "Cozyden"),
}

COLORS: tuple[str, ...] = (
    "black",
    "white",
    "grey",
    "navy",
    "blue",
    "red",
    "green",
    "olive",
    "beige",
    "pink",
    "purple",
    "orange",
    "yellow",
    "brown",
)

_ACRONYMS = {"led", "eps", "usb", "gps", "mips", "tpe", "pvc"}
_AUDIENCE_WORD = {"men": "Men's", "women": "Women's", "kids": "Kids'"}
_DESCRIPTION = (
    "{Brand} {category} made of {material}, {facet}. Designed for {use}; in {color}.",
    "The {color} {category} from {brand} is {facet} and made from {material}. Ideal for {use}.",
    "{Facet} {material} {category} by {brand}. A {color} pick for {use}.",
)


def _display(word: str) -> str:
    if word in _ACRONYMS:
        return word.upper()
    if word[0].isdigit():  # "20l" -> "20L", "10000mah" -> "10000mAh"
        return word.replace("mah", "mAh").replace("l", "L") if word.endswith(("l", "mah")) else word
    return word[0].upper() + word[1:]


def _title(cat: Category, brand: str, color: str, material: str, attrs: dict, audience: str) -> str:
    facet_key = next(iter(cat.attributes))
    parts = [brand]
    if audience:
        parts.append(_AUDIENCE_WORD[audience])
    parts += [attrs[facet_key], material, cat.name]
    words = " ".join(parts).split(" ")
    title = " ".join(_display(w) for w in words)
    return f"{title}, {color.title()}"


def build_catalog(seed: int = 7, n: int = 6000) -> list[CatalogProduct]:
    """Return `n` products drawn from the taxonomy; the same seed gives the same catalog."""
    rng = random.Random(seed)
    products: list[CatalogProduct] = []
    for i in range(n):
        # Round-robin over categories keeps every category populated even for small n.
        cat = TAXONOMY[i % len(TAXONOMY)]
        brand = rng.choice(BRANDS[cat.department])
        color = rng.choice(COLORS)
        material = rng.choice(cat.materials)
        attrs = {key: rng.choice(values) for key, values in cat.attributes.items()}
        audience = rng.choice(cat.audience) if cat.audience else ""
        if audience:
            attrs["audience"] = audience
        attrs["department"] = cat.department
        use = rng.choice(cat.uses) if cat.uses else "everyday use"
        attrs["use"] = use
        lo, hi = cat.price
        price = round(rng.uniform(lo, hi), 0) - 0.01
        facet = attrs[next(iter(cat.attributes))]
        template = rng.choice(_DESCRIPTION)
        description = template.format(
            Brand=brand,
            brand=brand,
            category=cat.name,
            material=material,
            facet=facet,
            Facet=facet.capitalize(),
            use=use,
            color=color,
        )
        products.append(
            CatalogProduct(
                sku=f"SKU{i:05d}",
                title=_title(cat, brand, color, material, attrs, audience),
                description=description,
                category=cat.name,
                brand=brand,
                color=color,
                material=material,
                price=float(price),
                attributes=attrs,
            )
        )
    return products
