"""Features of one step in its context, from what the trace shows (never hidden ground truth).

The request is parsed from the instruction text; products are known only through earlier
observations. Consistency between the call, the request and those observations is what
separates a misread or a wrong conclusion from a sound step.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import numpy as np

from workers.agents.ml.request import Request, parse_request

__all__ = ["N_FEATURES", "Request", "parse_request", "step_features", "step_text"]

TOOLS = ("search", "product_details", "add_to_cart", "apply_coupon")
KINDS = ("find", "cart", "coupon", "compare")
N_HASH = 64
_WORD = re.compile(r"[a-z0-9]+")


def _has(text: str, phrase: str) -> float:
    words = set(_WORD.findall(text.lower()))
    return float(bool(phrase) and all(w in words for w in _WORD.findall(phrase.lower())))


def step_text(step: Any) -> str:
    return f"{step.thought} {step.call.name} {json.dumps(step.call.arguments)}".lower()


def _hash_bow(text: str) -> np.ndarray:
    v = np.zeros(N_HASH, dtype=np.float32)
    for w in _WORD.findall(text):
        v[zlib.crc32(w.encode()) % N_HASH] += 1.0
    return v / max(1.0, float(np.linalg.norm(v)))


def step_features(req: Request, steps: list[Any], i: int) -> np.ndarray:
    """Feature vector of step `i` given the request and steps before it."""
    step = steps[i]
    name = step.call.name
    args = step.call.arguments if isinstance(step.call.arguments, dict) else {}
    seen: dict[str, dict] = {}  # sku -> what earlier observations said about it
    cart: dict = {}
    searched = detailed = 0.0
    for prev in steps[:i]:
        obs = prev.observation
        if "error" in obs:
            continue
        for r in obs.get("results", []):
            seen.setdefault(r["sku"], r)
        if "sku" in obs:
            seen[obs["sku"]] = obs
            detailed = 1.0
        searched = max(searched, float("results" in obs))
        cart = obs.get("cart", cart)
    f: list[float] = [float(name == t) for t in TOOLS] + [float(req.kind == k) for k in KINDS]
    query = str(args.get("query", ""))
    is_search = float(name == "search")
    f += [
        is_search * _has(query, req.color),
        is_search * _has(query, req.brand),
        is_search * _has(query, req.category),
        is_search * float("max_price" in args),
        is_search * float(args.get("max_price") == req.max_price),
    ]
    sku = str(args.get("sku", ""))
    info = seen.get(sku)
    has_sku = float(bool(sku))
    f += [
        has_sku * float(info is None),
        has_sku * float(sku in req.skus),
        float(info is not None and info.get("color") == req.color),
        float(info is not None and info.get("brand") == req.brand),
        float(info is not None and info.get("price", 1e9) <= req.max_price),
        float(info is not None and info.get("category", req.category) == req.category),
        float(name == "add_to_cart" and args.get("qty") == req.qty),
        float(name == "add_to_cart" and sku in cart),
        float(name == "apply_coupon" and args.get("code") == req.coupon),
        float(name == "apply_coupon" and bool(cart)),
        searched,
        detailed,
        float(bool(cart)),
        min(i, 10) / 10.0,
    ]
    return np.concatenate([np.asarray(f, dtype=np.float32), _hash_bow(step_text(step))])


N_FEATURES = len(TOOLS) + len(KINDS) + 5 + 14 + N_HASH
