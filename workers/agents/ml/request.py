"""What the user asked for, read from the instruction text alone (no hidden goal)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Request", "parse_request"]

_FIND = re.compile(
    r"find an? (?P<color>\w+) (?P<category>.+?) from (?P<brand>.+?) under \$(?P<max>\d+)"
)
_QTY = re.compile(r"add (\d+) to the cart")
_COUPON = re.compile(r"apply coupon (\w+)")
_SKU = re.compile(r"\b[A-Z]{2,}\d{3,}\b")


@dataclass(frozen=True)
class Request:
    kind: str
    color: str = ""
    category: str = ""
    brand: str = ""
    max_price: int = 0
    qty: int = 0
    coupon: str = ""
    skus: tuple[str, ...] = ()


def parse_request(instruction: str) -> Request:
    if instruction.startswith("which is cheaper"):
        return Request("compare", skus=tuple(_SKU.findall(instruction)))
    m = _FIND.search(instruction)
    if m is None:
        return Request("find")
    qty = _QTY.search(instruction)
    coupon = _COUPON.search(instruction)
    kind = "coupon" if coupon else "cart" if qty else "find"
    return Request(
        kind,
        color=m["color"],
        category=m["category"],
        brand=m["brand"],
        max_price=int(m["max"]),
        qty=int(qty.group(1)) if qty else 0,
        coupon=coupon.group(1) if coupon else "",
    )
