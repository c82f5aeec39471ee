"""JSON from outside (request bodies, uploaded import files): one strict reader.

Plain Python, no Django: the API's parser, the imports and the forms all read with
:func:`json_loads`, so a bound on nesting or on numbers is kept in one place.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Deeper than any record this API takes (a trace step's arguments are a few levels); past
# Python's recursion limit (~1,000) the parser itself would crash with a RecursionError.
MAX_JSON_DEPTH = 64


class JSONTooDeep(ValueError):
    pass


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0, ``[]`` is 1); stops
    counting once past ``limit``. A loop, not recursion: it is measuring what recursion
    cannot take."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack and deepest <= limit:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _finite(text: str) -> float:
    # 1e400 reads as infinity, which neither PostgreSQL's JSON nor a strict JSON answer has.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:30]} is out of range")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not a JSON number")


def json_loads(raw: str | bytes, encoding: str = "utf-8") -> Any:
    """JSON from outside: strict (no NaN or infinity, not even as 1e400), nested at most
    MAX_JSON_DEPTH deep. Raises ValueError (UnicodeDecodeError, JSONDecodeError,
    JSONTooDeep or an out-of-range number) with a message."""
    text = raw.decode(encoding) if isinstance(raw, bytes) else raw
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise JSONTooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise JSONTooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value
