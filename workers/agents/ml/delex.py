"""Delexicalization: the policy reads and writes slot tokens instead of entity values.

The tiny policy cannot learn to copy a brand or a SKU verbatim from its context in a few
hundred CPU steps; a slot token it can. As in delexicalized task-oriented dialogue systems,
values the request names become C_* tokens, and SKUs become P_n in order of first
appearance. The policy still decides everything that matters (which tool, which product,
what quantity, whether to retry, when to stop), and it can still write a literal value
(a misread colour, a guessed SKU); `lexicalize` maps its text back before parsing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from workers.agents.ml.request import parse_request

__all__ = ["Lexicon"]

_SKU = re.compile(r"\bSKU\d+\b")
_SLOT = re.compile(r"\b(?:P_\d+|C_[A-Z]+)\b")
MAX_SKU_SLOTS = 40


class Lexicon:
    """Slot map for one context: the instruction and the steps so far."""

    def __init__(self, instruction: str, steps: list[Any]) -> None:
        self.req = req = parse_request(instruction)
        self.sku_slot: dict[str, str] = {}
        for sku in req.skus:
            self._add_sku(sku)
        for s in steps:
            obs = s.observation
            for r in obs.get("results", []) if isinstance(obs.get("results"), list) else []:
                self._add_sku(r.get("sku", ""))
            if isinstance(obs.get("sku"), str):
                self._add_sku(obs["sku"])
        self.phrase_slot = {
            v: k
            for k, v in (
                ("C_BRAND", req.brand),
                ("C_CAT", req.category),
                ("C_COLOR", req.color),
                ("C_COUPON", req.coupon),
            )
            if v
        }
        self.values = {v: k for k, v in self.sku_slot.items()} | {
            v: k for k, v in self.phrase_slot.items()
        }
        self.values |= {"C_MAX": str(req.max_price), "C_QTY": str(req.qty)}

    def _add_sku(self, sku: str) -> None:
        if sku and sku not in self.sku_slot and len(self.sku_slot) < MAX_SKU_SLOTS:
            self.sku_slot[sku] = f"P_{len(self.sku_slot) + 1}"

    def text(self, s: str) -> str:
        """Replace SKUs and request phrases (longest first) with their slots."""
        s = _SKU.sub(lambda m: self.sku_slot.get(m.group(0), m.group(0)), s)
        for value in sorted(self.phrase_slot, key=len, reverse=True):
            s = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", self.phrase_slot[value], s)
        return s

    def field(self, value: Any) -> str:
        return self.text(str(value))

    def instruction(self, instruction: str) -> str:
        s = self.text(instruction)
        if self.req.max_price:
            s = s.replace(f"${self.req.max_price}", "$ C_MAX")
        if self.req.qty:
            s = s.replace(f"add {self.req.qty} to", "add C_QTY to")
        return s

    def arguments(self, args: Any) -> str:
        """JSON of the arguments with values replaced by slots (numbers as bare slots)."""
        if not isinstance(args, dict):
            return self.text(json.dumps(args))
        out = json.dumps(
            {k: self.text(v) if isinstance(v, str) else v for k, v in args.items()},
            separators=(",", ":"),
        )
        for key, slot, value in (
            ("max_price", "C_MAX", self.req.max_price),
            ("qty", "C_QTY", self.req.qty),
        ):
            if value:
                out = re.sub(rf'"{key}":{value}(?=[,}}])', f'"{key}":{slot}', out)
        return out

    def lexicalize(self, s: str) -> str:
        """Slots back to values; unknown slots stay as written (and fail downstream)."""
        return _SLOT.sub(lambda m: self.values.get(m.group(0), m.group(0)), s)
