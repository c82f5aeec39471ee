"""Ground-truth step labels from the world's hidden knowledge (not the learned scorer).

A step is judged on its own, in its context, as process supervision does:
- execution: arguments fail the tool's schema, or the tool answered with an error although
  the call was a sensible one (timeout, 5xx);
- reasoning: the call contradicts the task (a misread constraint, a product that does not
  meet it, a tool the plan does not need, a coupon before anything is in the cart);
- ok otherwise.
The scripted agent plants errors; this labels them, so planted and measured truth agree,
and the same oracle labels traces from the LM policies, whose errors nobody planted.
"""

from __future__ import annotations

import re
from typing import Any

from workers.agents.ml.tools import schema_errors
from workers.agents.ml.world import Task

__all__ = ["attribute", "first_error", "oracle_step_labels", "recovered"]

_WORD = re.compile(r"[a-z0-9]+")


def _has_words(query: str, phrase: str) -> bool:
    q = set(_WORD.findall(query.lower()))
    return all(w in q for w in _WORD.findall(phrase.lower()))


def _reasoning_error(task: Task, name: str, args: dict[str, Any], cart: dict[str, int]) -> bool:
    if name == "search":
        if task.kind == "compare":
            return True  # both SKUs are given; searching is the wrong plan
        return not (
            _has_words(args["query"], task.color)
            and _has_words(args["query"], task.brand)
            and _has_words(args["query"], task.category)
            and args.get("max_price") == task.max_price
        )
    if name == "product_details":
        if task.kind == "compare":
            return args["sku"] not in task.compare_skus
        return args["sku"] not in task.valid_skus
    if name == "add_to_cart":
        return (
            task.kind not in ("cart", "coupon")
            or args["sku"] not in task.valid_skus
            or args["qty"] != task.qty
            or args["sku"] in cart  # adding twice: lost track of the plan
        )
    if name == "apply_coupon":
        return task.kind != "coupon" or args["code"] != task.coupon or not cart
    return True


def oracle_step_labels(task: Task, steps: list[Any]) -> list[str]:
    labels: list[str] = []
    cart: dict[str, int] = {}
    for step in steps:
        name, args, obs = step.call.name, step.call.arguments, step.observation
        if schema_errors(name, args) is not None:
            labels.append("execution")
        elif _reasoning_error(task, name, args, cart):
            labels.append("reasoning")
        elif "error" in obs:
            labels.append("execution")
        else:
            labels.append("ok")
        if name == "add_to_cart" and "error" not in obs:
            cart = dict(obs.get("cart", {}))
    return labels


def recovered(steps: list[Any], i: int) -> bool:
    """An execution failure is recovered when the next step retries the same tool and works."""
    if i + 1 >= len(steps):
        return False
    nxt = steps[i + 1]
    return (
        nxt.call.name == steps[i].call.name
        and schema_errors(nxt.call.name, nxt.call.arguments) is None
        and "error" not in nxt.observation
    )


def first_error(labels: list[str]) -> int | None:
    return next((i for i, x in enumerate(labels) if x != "ok"), None)


def attribute(steps: list[Any], labels: list[str]) -> str | None:
    """Blame a failed run on reasoning or execution: its first unrecovered wrong step.

    With no wrong step visible the agent still failed (it stopped early, or answered
    wrongly from correct observations), which is a reasoning failure.
    """
    for i, lab in enumerate(labels):
        if lab == "execution" and recovered(steps, i):
            continue
        if lab != "ok":
            return lab
    return "reasoning"
