"""Search queries with known relevant products, click-log expansion pairs and corpora.

Every query is generated from a facet constraint (categories, colour, audience), so its
relevant skus are exactly the catalog products that satisfy it: relevance is known, not
judged. Splits:

* ``train``: head and long-tail queries built from "seen" surface forms; their canonical
  expansions are the click-log (query -> good expansion) pairs for fine-tuning.
* ``heldout``: long-tail queries, each with at least one surface form (synonym, colour word,
  recipient, activity) that never appears in a fine-tuning pair.
* ``log``: search-log queries with clicks (any surface form, never a held-out string); they
  feed domain pre-training and the RL query pool, which need relevance but no expansion.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labeling.world.catalog import TAXONOMY, CatalogProduct

from .vocab import (
    ACTIVITY_FORMS,
    AUDIENCE_FORMS,
    CANONICAL_AUDIENCE,
    CATEGORY_FORMS,
    COLOR_FORMS,
    forms,
)

SEP = " | "
_GENDERED = {c.name for c in TAXONOMY if c.audience}


@dataclass(frozen=True)
class Constraint:
    categories: tuple[str, ...]
    color: str | None = None
    audience: str | None = None

    def matches(self, p: CatalogProduct) -> bool:
        if p.category not in self.categories:
            return False
        if self.color and p.color != self.color:
            return False
        # Unisex categories (earbuds, tents) suit anyone; gendered ones must match.
        return not (
            self.audience
            and p.category in _GENDERED
            and p.attributes.get("audience") != self.audience
        )

    def expansion(self) -> tuple[str, ...]:
        """The canonical catalog words a good expansion adds (the click-log label)."""
        terms = list(self.categories[:3])
        if self.color:
            terms.append(self.color)
        if self.audience:
            terms.append(CANONICAL_AUDIENCE[self.audience])
        return tuple(terms)


@dataclass(frozen=True)
class Query:
    text: str
    kind: str  # head | synonym | attributes | intent | misspelling
    constraint: Constraint
    relevant: frozenset[str] = field(hash=False, compare=False)

    @property
    def expansion(self) -> tuple[str, ...]:
        return self.constraint.expansion()


@dataclass
class QuerySet:
    train: list[Query]
    heldout: list[Query]
    log: list[Query]
    log_clicks: list[tuple[str, str]]  # (query text, clicked product title) for pre-training


def format_expansion(terms: Iterable[str]) -> str:
    return SEP.join(terms)


def _misspell(word: str, rng: random.Random) -> str:
    """One keyboard slip: swap, drop or double a letter (never the first)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


class _Generator:
    def __init__(self, catalog: Sequence[CatalogProduct], rng: random.Random) -> None:
        self.catalog = catalog
        self.rng = rng
        self.by_category: dict[str, list[CatalogProduct]] = {}
        for p in catalog:
            self.by_category.setdefault(p.category, []).append(p)
        self.activities = {
            act: tuple(c.name for c in TAXONOMY if act in c.uses) for act in ACTIVITY_FORMS
        }

    def relevant(self, c: Constraint) -> frozenset[str]:
        return frozenset(
            p.sku for cat in c.categories for p in self.by_category.get(cat, []) if c.matches(p)
        )

    def pick(self, options: Iterable[str]) -> str:
        return self.rng.choice(list(options))

    def make(self, kind: str, seen: bool | None) -> tuple[str, Constraint]:
        """One query of ``kind``; ``seen`` False forces at least one unseen surface form."""
        r = self.rng
        cat = self.pick(CATEGORY_FORMS)
        color = self.pick(COLOR_FORMS) if r.random() < 0.4 else None
        gendered = cat in _GENDERED
        audience = self.pick(AUDIENCE_FORMS) if gendered and r.random() < 0.4 else None
        if kind == "head":
            words = [color or "", cat]
            if audience:
                words.insert(0, CANONICAL_AUDIENCE[audience])
            return " ".join(w for w in words if w), Constraint((cat,), color, audience)
        if kind == "misspelling":
            text = " ".join(_misspell(w, r) if len(w) > 3 else w for w in cat.split())
            if text == cat:
                text = _misspell(cat.replace(" ", ""), r)
            return (f"{color} {text}" if color else text), Constraint((cat,), color, None)
        if kind == "synonym":
            noun = self.pick(forms(CATEGORY_FORMS, cat, seen))
            col = (
                self.pick(forms(COLOR_FORMS, color, None if seen is False else True))
                if color
                else ""
            )
            text = f"{col} {noun}".strip()
            if audience:
                who = self.pick(forms(AUDIENCE_FORMS, audience, None if seen is False else True))
                text = f"{text} for {who}"
            return text, Constraint((cat,), color, audience)
        if kind == "attributes":
            # The category is said plainly; colour or recipient is said differently.
            color = color or self.pick(COLOR_FORMS)
            col = self.pick(forms(COLOR_FORMS, color, seen))
            text = f"{col} {cat}"
            if audience:
                who = self.pick(forms(AUDIENCE_FORMS, audience, True if seen else None))
                text = f"{text} for {who}"
            return text, Constraint((cat,), color, audience)
        # intent: "gift for a dad who runs" -> every category used for that activity.
        act = self.pick(ACTIVITY_FORMS)
        who_key = self.pick(AUDIENCE_FORMS)
        phrase = self.pick(forms(ACTIVITY_FORMS, act, seen))
        who = self.pick(forms(AUDIENCE_FORMS, who_key, None if seen is False else True))
        template = self.pick(
            ("gift for a {w} who {a}", "present for my {w} who {a}", "something for a {w} who {a}")
        )
        cats = tuple(sorted(self.activities[act], key=lambda c: c not in _GENDERED))
        # Drop categories with nothing for this recipient (no men's leggings in the catalog).
        cats = tuple(c for c in cats if self.relevant(Constraint((c,), None, who_key)))
        return template.format(w=who, a=phrase), Constraint(cats, None, who_key)


_LONG_TAIL = ("synonym", "attributes", "intent", "misspelling")


def build_queries(
    catalog: Sequence[CatalogProduct],
    seed: int = 7,
    n_train: int = 1600,
    n_heldout: int = 300,
    n_log: int = 2400,
) -> QuerySet:
    """Generate the three query splits; deterministic for a catalog and a seed."""
    rng = random.Random(seed)
    gen = _Generator(catalog, rng)

    def draw(n: int, kinds: Sequence[str], seen: bool | None, taken: set[str]) -> list[Query]:
        out: list[Query] = []
        tries = 0
        while len(out) < n and tries < n * 50:
            tries += 1
            kind = rng.choice(kinds)
            text, constraint = gen.make(kind, seen)
            if text in taken:
                continue
            relevant = gen.relevant(constraint)
            if not relevant:
                continue
            taken.add(text)
            out.append(Query(text, kind, constraint, relevant))
        return out

    taken: set[str] = set()
    heldout = draw(n_heldout, ("synonym", "attributes", "intent"), False, taken)
    # Misspellings are fresh random slips, so they are unseen by construction.
    heldout += draw(n_heldout // 6, ("misspelling",), None, taken)
    train = draw(n_train // 5, ("head",), True, taken)
    train += draw(n_train - len(train), _LONG_TAIL, True, taken)
    log = draw(n_log, ("head", *_LONG_TAIL), None, taken)

    clicks: list[tuple[str, str]] = []
    by_sku = {p.sku: p for p in catalog}
    for q in log:
        for sku in rng.sample(sorted(q.relevant), min(2, len(q.relevant))):
            clicks.append((q.text, by_sku[sku].title))
    return QuerySet(train=train, heldout=heldout, log=log, log_clicks=clicks)


def rl_split(qs: QuerySet) -> tuple[list[Query], list[Query]]:
    """(validation queries, RL query pool), both from the click log (relevance known from
    clicks, no expansion labels). The fine-tuning queries stay out of the pool: SFT already
    imitates their expansions, and RL's gain is in the log's other surface forms (with
    them in the pool, held-out recall stayed at SFT's). The validation slice picks the
    PPO checkpoint; the held-out evaluation set is never touched."""
    val = qs.log[: max(1, len(qs.log) // 10)]
    return val, qs.log[len(val) :]


def sft_pairs(
    queries: Sequence[Query], approved: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """(query, expansion text) pairs for fine-tuning; reviewer-approved pairs are appended."""
    pairs = [(q.text, format_expansion(q.expansion)) for q in queries]
    pairs += [(q, e) for q, e in approved]
    return pairs


def pretraining_corpus(catalog: Sequence[CatalogProduct], qs: QuerySet) -> list[str]:
    """Domain text: titles, descriptions and search-log clicks (no expansion labels)."""
    texts = [p.title for p in catalog] + [p.description for p in catalog]
    texts += [f"query: {q}\nclicked: {title}" for q, title in qs.log_clicks]
    return texts


def simulated_term_ratings(
    queries: Sequence[Query], seed: int = 7, error_rate: float = 0.05
) -> list[tuple[str, str, bool]]:
    """Reviewer ratings (query, term, relevant) of candidate terms, with rater noise.

    Good terms are the query's canonical expansion; bad ones are another query's terms (a
    plausible-looking drift). Stands in for real ratings until the Django side sends them.
    """
    rng = random.Random(seed)
    pool = sorted({t for q in queries for t in q.expansion})
    ratings: list[tuple[str, str, bool]] = []
    for q in queries:
        good = set(q.expansion)
        for term in q.expansion[:2]:
            ratings.append((q.text, term, rng.random() >= error_rate))
        bad = rng.choice(pool)
        if bad not in good:
            ratings.append((q.text, bad, rng.random() < error_rate))
    return ratings
