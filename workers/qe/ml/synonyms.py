"""Dictionary baseline: expand each query word with the catalog terms it was seen with.

The dictionary is mined from the same click-log pairs the LM is fine-tuned on, which is how
a shop would build one without a model; it cannot know a word it never saw.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import pairwise

from .queries import SEP

_WORD = re.compile(r"[a-z0-9'\-]+")
_STOP = {"a", "for", "my", "who", "the", "gift", "present", "something", "to", "is", "and"}


def _grams(query: str) -> list[str]:
    words = [w for w in _WORD.findall(query.lower()) if w not in _STOP]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


class SynonymExpander:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    @classmethod
    def from_pairs(
        cls, pairs: Sequence[tuple[str, str]], min_count: int = 2, min_share: float = 0.6
    ) -> SynonymExpander:
        """Keep word -> term when the term is in at least ``min_share`` of that word's pairs."""
        seen: Counter[str] = Counter()
        with_term: dict[str, Counter[str]] = defaultdict(Counter)
        for query, expansion in pairs:
            terms = [t.strip() for t in expansion.split(SEP.strip()) if t.strip()]
            for g in set(_grams(query)):
                seen[g] += 1
                with_term[g].update(set(terms))
        table: dict[str, list[str]] = {}
        for g, n in seen.items():
            if n < min_count:
                continue
            keep = [t for t, c in with_term[g].most_common() if c / n >= min_share and t != g]
            if keep:
                table[g] = keep
        return cls(table)

    def expand(self, query: str, max_terms: int = 5) -> list[str]:
        terms: list[str] = []
        for g in _grams(query):
            for t in self.table.get(g, []):
                if t not in terms and t not in query.lower():
                    terms.append(t)
        return terms[:max_terms]
