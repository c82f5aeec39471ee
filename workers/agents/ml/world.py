"""Shopping tasks with a known goal state, seeded generation and a train / held-out split.

Four kinds, each a superset of the previous one's work except `compare`:
- find:    name a product meeting category, colour, brand and max price (cart stays empty);
- cart:    find it and add `qty` of it to the cart;
- coupon:  as cart, then apply the coupon code named in the instruction;
- compare: of two named SKUs, name the cheaper one.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from workers.agents.ml.tools import COUPONS, SearchIndex, ShopState

__all__ = ["Task", "World", "goal_reached", "load_catalog", "make_tasks", "split_tasks"]

KINDS = ("find", "cart", "coupon", "compare")


@dataclass(frozen=True)
class Task:
    task_id: str
    kind: str
    instruction: str
    category: str = ""
    color: str = ""
    brand: str = ""
    max_price: int = 0
    qty: int = 0
    coupon: str = ""
    compare_skus: tuple[str, ...] = ()
    valid_skus: frozenset[str] = field(default_factory=frozenset)  # the goal, hidden from agents

    @property
    def query(self) -> str:
        return f"{self.color} {self.brand} {self.category}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["compare_skus"] = list(self.compare_skus)
        d["valid_skus"] = sorted(self.valid_skus)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        d = dict(d)
        d["compare_skus"] = tuple(d.get("compare_skus") or ())
        d["valid_skus"] = frozenset(d.get("valid_skus") or ())
        return cls(**d)


def goal_reached(task: Task, final_state: ShopState) -> bool:
    """Did the run end in the state the user asked for?"""
    s = final_state
    if task.kind == "compare":
        return s.answer in task.valid_skus and not s.cart
    if task.kind == "find":
        # Buying what nobody asked for is a failure even when the answer is right.
        return s.answer in task.valid_skus and not s.cart and s.coupon is None
    cart_ok = (
        len(s.cart) == 1
        and next(iter(s.cart)) in task.valid_skus
        and next(iter(s.cart.values())) == task.qty
    )
    if task.kind == "cart":
        return cart_ok and s.coupon is None
    return cart_ok and s.coupon == task.coupon


def load_catalog(seed: int = 7, n: int = 6000) -> list[Any]:
    from labeling.world.catalog import build_catalog

    return build_catalog(seed=seed, n=n)


class World:
    """The catalog, its search index and the task generator."""

    def __init__(self, catalog: list[Any]) -> None:
        self.catalog = catalog
        self.index = SearchIndex(catalog)

    def valid_skus(self, category: str, color: str, brand: str, max_price: float) -> frozenset:
        return frozenset(
            p.sku
            for p in self.catalog
            if p.category == category
            and p.color == color
            and p.brand == brand
            and p.price <= max_price
        )

    def _find_like(self, rng: random.Random, kind: str, task_id: str) -> Task | None:
        p = rng.choice(self.catalog)
        max_price = math.ceil(p.price * rng.uniform(1.0, 1.4))
        valid = self.valid_skus(p.category, p.color, p.brand, max_price)
        query = f"{p.color} {p.brand} {p.category}"
        top = self.index.search(query, max_price)
        # Keep only tasks a careful agent can solve with the canonical search.
        if not top or top[0].sku not in valid:
            return None
        text = f"find a {p.color} {p.category} from {p.brand} under ${max_price}"
        qty, coupon = 0, ""
        if kind in ("cart", "coupon"):
            qty = rng.randint(1, 4)
            text += f" and add {qty} to the cart"
        if kind == "coupon":
            coupon = rng.choice(sorted(COUPONS))
            text += f", then apply coupon {coupon}"
        return Task(
            task_id=task_id,
            kind=kind,
            instruction=text,
            category=p.category,
            color=p.color,
            brand=p.brand,
            max_price=max_price,
            qty=qty,
            coupon=coupon,
            valid_skus=valid,
        )

    def _compare(self, rng: random.Random, task_id: str) -> Task | None:
        a = rng.choice(self.catalog)
        same = [p for p in self.catalog if p.category == a.category and p.price != a.price]
        b = rng.choice(same)
        cheaper = a if a.price < b.price else b
        text = f"which is cheaper, {a.sku} or {b.sku}? answer with the sku"
        return Task(
            task_id=task_id,
            kind="compare",
            instruction=text,
            category=a.category,
            compare_skus=(a.sku, b.sku),
            valid_skus=frozenset({cheaper.sku}),
        )

    def make_task(self, rng: random.Random, kind: str, task_id: str) -> Task:
        while True:
            t = (
                self._compare(rng, task_id)
                if kind == "compare"
                else self._find_like(rng, kind, task_id)
            )
            if t is not None:
                return t


def make_tasks(world: World, n: int, seed: int = 0) -> list[Task]:
    """`n` tasks, kinds in rotation, deterministic for a seed."""
    rng = random.Random(seed)
    return [world.make_task(rng, KINDS[i % len(KINDS)], f"t{seed}-{i}") for i in range(n)]


def split_tasks(tasks: list[Task], held_out: float = 0.25, seed: int = 0) -> tuple[list, list]:
    """Train / held-out split; held-out tasks never feed training or the step judge."""
    order = list(range(len(tasks)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(len(tasks) * held_out))
    test = sorted(order[:n_test])
    train = sorted(order[n_test:])
    return [tasks[i] for i in train], [tasks[i] for i in test]
