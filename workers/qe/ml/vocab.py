"""How shoppers say things the catalog says differently.

Every surface form is tagged by list position: the first entry of each ``(seen, unseen)`` pair
may appear in fine-tuning pairs; ``unseen`` forms are kept out of them so the held-out
long-tail set measures generalisation. Domain pre-training logs and the RL query pool may
contain both (they carry clicks, not expansion labels).
"""

from __future__ import annotations

Forms = tuple[tuple[str, ...], tuple[str, ...]]  # (seen in fine-tuning, never in fine-tuning)

# fmt: off
CATEGORY_FORMS: dict[str, Forms] = {
    "running shoes": (("sneakers", "running trainers"), ("kicks", "jogging shoes")),
    "trail shoes": (("trail runners", "off-road shoes"), ("trail sneakers", "mountain runners")),
    "hiking boots": (("trekking boots", "walking boots"), ("mountain boots", "trek shoes")),
    "sandals": (("flip flops", "slides"), ("thongs", "beach shoes")),
    "slippers": (("house shoes", "indoor shoes"), ("mules", "scuffs")),
    "t-shirt": (("tee", "tshirt"), ("top", "crew neck")),
    "hoodie": (("sweatshirt", "hooded sweater"), ("pullover jumper", "hoody")),
    "rain jacket": (("raincoat", "waterproof jacket"), ("windbreaker", "rain shell")),
    "winter coat": (("parka", "puffer"), ("overcoat", "puffy jacket")),
    "leggings": (("yoga pants", "tights"), ("gym pants", "jeggings")),
    "socks": (("crew socks", "ankle socks"), ("hosiery", "sox")),
    "backpack": (("rucksack", "daypack"), ("knapsack", "book bag")),
    "duffel bag": (("gym bag", "holdall"), ("weekender", "sports bag")),
    "wallet": (("billfold", "purse"), ("money clip", "cardholder")),
    "phone case": (("phone cover", "mobile case"), ("cell cover", "bumper")),
    "wireless earbuds": (("earphones", "bluetooth earbuds"), ("airpods", "in-ear buds")),
    "headphones": (("headset", "over-ear headset"), ("cans", "studio monitors")),
    "smartwatch": (("fitness watch", "smart watch"), ("fitness tracker", "running watch")),
    "laptop sleeve": (("laptop case", "notebook sleeve"), ("computer pouch", "macbook cover")),
    "power bank": (("portable charger", "battery pack"), ("juice pack", "charging brick")),
    "coffee maker": (("coffee machine", "brewer"), ("espresso machine", "java maker")),
    "frying pan": (("skillet", "fry pan"), ("saute pan", "griddle")),
    "water bottle": (("drink bottle", "sports bottle"), ("flask", "canteen")),
    "chef knife": (("kitchen knife", "cooking knife"), ("cook's knife", "santoku")),
    "yoga mat": (("exercise mat", "fitness mat"), ("pilates mat", "workout mat")),
    "dumbbells": (("hand weights", "free weights"), ("barbell weights", "weight set")),
    "tent": (("camping tent", "shelter"), ("dome tent", "pop-up tent")),
    "sleeping bag": (("sleep sack", "camping bag"), ("bedroll", "mummy bag")),
    "bike helmet": (("cycling helmet", "bicycle helmet"), ("skid lid", "head protection")),
    "face moisturizer": (("face cream", "moisturiser"), ("day cream", "hydrating lotion")),
    "shampoo": (("hair wash", "hair cleanser"), ("cleansing bar", "hair soap")),
    "sunglasses": (("sunnies", "sun glasses"), ("shades", "aviators")),
    "building blocks": (("construction toy", "bricks"), ("lego", "stacking blocks")),
    "board game": (("tabletop game", "family game"), ("party game", "strategy game")),
    "desk lamp": (("reading lamp", "table lamp"), ("study light", "task light")),
    "throw blanket": (("throw", "couch blanket"), ("afghan", "snuggle blanket")),
}

COLOR_FORMS: dict[str, Forms] = {
    "black": (("jet black",), ("onyx", "ebony")),
    "white": (("snow white",), ("ivory", "off white")),
    "grey": (("gray",), ("charcoal", "slate")),
    "navy": (("navy blue",), ("dark blue", "midnight")),
    "blue": (("cobalt",), ("sky blue", "royal blue")),
    "red": (("scarlet",), ("crimson", "cherry")),
    "green": (("emerald",), ("forest", "kelly green")),
    "olive": (("army green",), ("khaki green", "military")),
    "beige": (("cream",), ("sand", "nude")),
    "pink": (("rose",), ("blush", "fuchsia")),
    "purple": (("violet",), ("lilac", "lavender")),
    "orange": (("tangerine",), ("coral", "rust")),
    "yellow": (("mustard",), ("lemon", "golden")),
    "brown": (("tan",), ("chocolate", "camel")),
}

AUDIENCE_FORMS: dict[str, Forms] = {
    "men": (("guys", "male", "dad"), ("husband", "boyfriend", "father")),
    "women": (("ladies", "female", "mom"), ("wife", "girlfriend", "mother")),
    "kids": (("children", "boys", "girls"), ("toddler", "son", "daughter")),
}

# Activity key (a `uses` value in the taxonomy) -> how people phrase it after "who ...".
ACTIVITY_FORMS: dict[str, Forms] = {
    "running": (("runs", "loves running"), ("jogs", "does marathons")),
    "hiking": (("hikes", "loves hiking"), ("treks", "goes trekking")),
    "camping": (("camps", "loves camping"), ("sleeps outdoors", "goes backpacking")),
    "cooking": (("cooks", "loves cooking"), ("bakes", "is a foodie")),
    "yoga": (("does yoga", "loves yoga"), ("does pilates", "meditates")),
    "cycling": (("cycles", "rides bikes"), ("bikes to work", "is a cyclist")),
    "travel": (("travels", "loves travel"), ("flies a lot", "is a globetrotter")),
    "commuting": (("commutes", "takes the train"), ("rides the subway", "drives to work")),
    "workout": (("works out", "goes to the gym"), ("lifts weights", "does crossfit")),
    "beach": (("loves the beach", "surfs"), ("sunbathes", "goes to the seaside")),
}
# fmt: on

CANONICAL_AUDIENCE = {"men": "men's", "women": "women's", "kids": "kids'"}


def forms(table: dict[str, Forms], key: str, seen: bool | None) -> tuple[str, ...]:
    """Surface forms for ``key``: only seen (True), only unseen (False) or all (None)."""
    seen_forms, unseen_forms = table[key]
    if seen is None:
        return seen_forms + unseen_forms
    return seen_forms if seen else unseen_forms


def unseen_words() -> set[str]:
    """Every surface form that must never appear in a fine-tuning pair."""
    out: set[str] = set()
    for table in (CATEGORY_FORMS, COLOR_FORMS, AUDIENCE_FORMS, ACTIVITY_FORMS):
        for _, unseen in table.values():
            out.update(unseen)
    return out
