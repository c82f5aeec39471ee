"""Shopping tools over the catalog, with JSON schemas and seeded, realistic failures.

A `ToolEnv` is one session: it owns the cart state of one task run. Failures (timeouts,
5xx) are drawn from a generator seeded per (run seed, call index), so two policies run on
the same task and seed meet the same infrastructure weather, call for call.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import jsonschema

__all__ = ["COUPONS", "TOOL_SCHEMAS", "SearchIndex", "ShopState", "ToolEnv", "schema_errors"]

COUPONS = {"SAVE10": 0.10, "WELCOME5": 0.05, "SPRING15": 0.15}
SEARCH_TOP_K = 5

TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "search": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "max_price": {"type": "number", "exclusiveMinimum": 0},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    "product_details": {
        "type": "object",
        "properties": {"sku": {"type": "string", "minLength": 1}},
        "required": ["sku"],
        "additionalProperties": False,
    },
    "add_to_cart": {
        "type": "object",
        "properties": {
            "sku": {"type": "string", "minLength": 1},
            "qty": {"type": "integer", "minimum": 1, "maximum": 20},
        },
        "required": ["sku", "qty"],
        "additionalProperties": False,
    },
    "apply_coupon": {
        "type": "object",
        "properties": {"code": {"type": "string", "minLength": 1}},
        "required": ["code"],
        "additionalProperties": False,
    },
}

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def schema_errors(tool: str, arguments: Any) -> str | None:
    """Why `arguments` are not valid for `tool`, or None when they are."""
    if tool not in TOOL_SCHEMAS:
        return f"unknown tool {tool!r}"
    validator = jsonschema.Draft202012Validator(TOOL_SCHEMAS[tool])
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    if not errors:
        return None
    e = errors[0]
    where = "/".join(str(p) for p in e.path) or "arguments"
    return f"{where}: {e.message}"


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class SearchIndex:
    """Token-overlap search over title, brand, colour and category (an inverted index)."""

    def __init__(self, catalog: list[Any]) -> None:
        self.by_sku = {p.sku: p for p in catalog}
        self._postings: dict[str, set[str]] = defaultdict(set)
        for p in catalog:
            for w in set(_words(f"{p.title} {p.brand} {p.color} {p.category}")):
                self._postings[w].add(p.sku)

    def search(self, query: str, max_price: float | None = None, k: int = SEARCH_TOP_K) -> list:
        scores: dict[str, int] = defaultdict(int)
        for w in set(_words(query)):
            for sku in self._postings.get(w, ()):
                scores[sku] += 1
        hits = [
            (-s, sku)
            for sku, s in scores.items()
            if max_price is None or self.by_sku[sku].price <= max_price
        ]
        hits.sort()  # best overlap first, then SKU order: deterministic
        return [self.by_sku[sku] for _, sku in hits[:k]]


def product_brief(p: Any) -> dict[str, Any]:
    return {"sku": p.sku, "title": p.title, "color": p.color, "brand": p.brand, "price": p.price}


@dataclass
class ShopState:
    """What the user can see after the run: the cart, the coupon and the agent's answer."""

    cart: dict[str, int] = field(default_factory=dict)
    coupon: str | None = None
    answer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cart": dict(self.cart), "coupon": self.coupon, "answer": self.answer}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShopState:
        return cls(cart=dict(d.get("cart") or {}), coupon=d.get("coupon"), answer=d.get("answer"))


class ToolEnv:
    """One task run's tools. `call` never raises: failures come back as error observations."""

    def __init__(
        self,
        index: SearchIndex,
        *,
        seed: int = 0,
        fail_prob: float = 0.08,
        forced_failures: dict[int, str] | None = None,
    ) -> None:
        self.index = index
        self.state = ShopState()
        self.seed = seed
        self.fail_prob = fail_prob
        self.forced = dict(forced_failures or {})
        self.n_calls = 0

    def _infra_failure(self, call_idx: int) -> str | None:
        if call_idx in self.forced:
            return self.forced[call_idx]
        rng = random.Random(self.seed * 1_000_003 + call_idx)
        if rng.random() < self.fail_prob:
            return rng.choice(["timeout", "server_error"])
        return None

    def call(self, tool: str, arguments: Any) -> dict[str, Any]:
        call_idx = self.n_calls
        self.n_calls += 1
        problem = schema_errors(tool, arguments)
        if problem is not None:
            return {"error": f"invalid arguments: {problem}", "code": 400}
        failure = self._infra_failure(call_idx)
        if failure == "timeout":
            return {"error": "timeout: the tool did not answer within 10 s", "code": 504}
        if failure == "server_error":
            return {"error": "503 service unavailable", "code": 503}
        return getattr(self, f"_{tool}")(**arguments)

    def _search(self, query: str, max_price: float | None = None) -> dict[str, Any]:
        return {"results": [product_brief(p) for p in self.index.search(query, max_price)]}

    def _product_details(self, sku: str) -> dict[str, Any]:
        p = self.index.by_sku.get(sku)
        if p is None:
            return {"error": f"unknown sku {sku}", "code": 404}
        return {**product_brief(p), "category": p.category, "material": p.material}

    def _add_to_cart(self, sku: str, qty: int) -> dict[str, Any]:
        if sku not in self.index.by_sku:
            return {"error": f"unknown sku {sku}", "code": 404}
        self.state.cart[sku] = self.state.cart.get(sku, 0) + qty
        return {"cart": dict(self.state.cart)}

    def _apply_coupon(self, code: str) -> dict[str, Any]:
        if not self.state.cart:
            return {"error": "cart is empty", "code": 409}
        if code not in COUPONS:
            return {"error": f"invalid coupon {code}", "code": 422}
        self.state.coupon = code
        return {"coupon": code, "discount": COUPONS[code]}


def observation_text(obs: dict[str, Any]) -> str:
    return json.dumps(obs, sort_keys=True)
