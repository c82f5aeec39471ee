"""Token/format-level reward: a well-formed, short list of distinct terms, ended by EOS."""

from __future__ import annotations

import re
from collections.abc import Sequence

_ALLOWED = re.compile(r"^[a-z0-9 '&.\-]+$")
MAX_TERMS = 5
MAX_WORDS_PER_TERM = 3


def format_reward(terms: Sequence[str], ended: bool) -> float:
    """1.0 for a clean list; -1.0 when malformed; penalties for repeats and length.

    Malformed = nothing parsed, not ended by EOS (the model rambled into the token limit),
    or characters a catalog term never has (a stray "query:" or punctuation soup).
    """
    if not terms or not ended:
        return -1.0
    if any(not _ALLOWED.match(t) for t in terms):
        return -1.0
    score = 1.0
    normalised = [t.lower() for t in terms]
    repeats = len(normalised) - len(set(normalised))
    score -= 0.5 * repeats / len(normalised)
    score -= 0.25 * max(0, len(terms) - MAX_TERMS)
    score -= 0.25 * sum(len(t.split()) > MAX_WORDS_PER_TERM for t in terms)
    return max(-1.0, score)
