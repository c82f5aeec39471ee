"""Scripted shopping agent: a correct plan, plus planted flaws at known steps.

`good_action` is the careful agent's next move given the history; `run_scripted` runs it
against the tools and, when asked, plants one flaw:

reasoning: misread_constraint (wrong colour / brand / price cap / SKU), wrong_conclusion
(picks a search result that visibly breaks a constraint), wrong_plan (a tool the task does
not need, or the steps in the wrong order);
execution: malformed_arguments (schema-violating arguments), tool_error_not_retried (a 5xx
the agent does not retry), timeout (a timeout the agent does not retry).

Per-step ground truth comes from `oracle_step_labels`, and the planted step is recorded in
`trace.meta`, so tests can check the two agree.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any

from workers.agents.ml.oracle import oracle_step_labels
from workers.agents.ml.tools import COUPONS, ToolEnv
from workers.agents.ml.trace import Step, ToolCall, Trace
from workers.agents.ml.world import Task, World

__all__ = ["FLAWS", "Action", "good_action", "run_scripted", "scripted_traces"]

REASONING_FLAWS = ("misread_constraint", "wrong_conclusion", "wrong_plan")
EXECUTION_FLAWS = ("malformed_arguments", "tool_error_not_retried", "timeout")
FLAWS = REASONING_FLAWS + EXECUTION_FLAWS
GIVE_UP = "none"
MAX_RETRIES = 2


@dataclass(frozen=True)
class Action:
    """A tool call, or the final answer when `name == "final"` (answer in `arguments`)."""

    name: str
    arguments: Any
    thought: str = ""


def _ok(step: Step) -> bool:
    return "error" not in step.observation


def _last_ok(history: list[Step], name: str) -> Step | None:
    return next((s for s in reversed(history) if s.call.name == name and _ok(s)), None)


def good_action(task: Task, history: list[Step], alias: dict[str, str] | None = None) -> Action:
    """What a careful agent does next: retry transient failures, otherwise follow the plan.

    `alias` lets a flawed agent believe one SKU's details belong to another (a misread).
    """
    if history and not _ok(history[-1]):
        last = history[-1]
        streak = 0
        for s in reversed(history):
            if s.call.name == last.call.name and s.call.arguments == last.call.arguments:
                streak += 1
            else:
                break
        if streak <= MAX_RETRIES:
            return Action(last.call.name, last.call.arguments, "The tool failed; retrying.")
        return Action("final", GIVE_UP, "The tool keeps failing; I have to stop.")
    if task.kind == "compare":
        alias = alias or {}
        seen = {
            alias.get(s.observation["sku"], s.observation["sku"]): s.observation["price"]
            for s in history
            if _ok(s) and "sku" in s.observation
        }
        for sku in task.compare_skus:
            if sku not in seen:
                return Action("product_details", {"sku": sku}, f"Check the price of {sku}.")
        a, b = task.compare_skus
        cheaper = a if seen[a] < seen[b] else b
        return Action("final", cheaper, f"{cheaper} costs less.")
    found = _last_ok(history, "search")
    if found is None:
        args = {"query": task.query, "max_price": task.max_price}
        return Action("search", args, f"Search for {task.query} under ${task.max_price}.")
    details = _last_ok(history, "product_details")
    if details is None:
        results = found.observation["results"]
        if not results:
            return Action("final", GIVE_UP, "Nothing matches.")
        sku = results[0]["sku"]
        return Action("product_details", {"sku": sku}, f"{sku} looks right; check its details.")
    sku = details.observation["sku"]
    if task.kind in ("cart", "coupon") and _last_ok(history, "add_to_cart") is None:
        return Action("add_to_cart", {"sku": sku, "qty": task.qty}, f"Add {task.qty} of {sku}.")
    if task.kind == "coupon" and _last_ok(history, "apply_coupon") is None:
        return Action("apply_coupon", {"code": task.coupon}, f"Apply coupon {task.coupon}.")
    return Action("final", sku, f"{sku} meets every constraint.")


def _misread(task: Task, action: Action, rng: random.Random, world: World) -> Action:
    args = dict(action.arguments)
    if action.name == "search":
        choice = rng.choice(["color", "brand", "price"])
        if choice == "price":
            args["max_price"] = task.max_price * rng.choice([2, 3]) + rng.randint(1, 9)
            return Action("search", args, f"Search for {task.query} under ${args['max_price']}.")
        pool = sorted({getattr(p, choice) for p in world.catalog} - {getattr(task, choice)})
        wrong = rng.choice(pool)
        args["query"] = args["query"].replace(getattr(task, choice), wrong)
        return Action("search", args, f"Search for {args['query']}.")
    if action.name == "product_details":  # compare: transposed digits in the SKU
        sku = args["sku"]
        digits = list(sku[-2:])
        wrong = sku[:-2] + (digits[1] + digits[0] if digits[0] != digits[1] else "0" + digits[0])
        if wrong in world.index.by_sku and wrong not in task.compare_skus:
            return Action("product_details", {"sku": wrong}, f"Check the price of {wrong}.")
    if action.name == "add_to_cart":
        args["qty"] = task.qty + rng.choice([1, 2])
        return Action("add_to_cart", args, f"Add {args['qty']} of {args['sku']}.")
    return action


def _follow_misread(task: Task, history: list[Step], planted: int, action: Action) -> Action:
    """After a misread search, pick the result that fits the misread, not the task."""
    if action.name != "product_details" or task.kind == "compare":
        return action
    searched = history[planted].call.arguments
    found = _last_ok(history, "search")
    if found is None:
        return action
    for r in found.observation["results"]:
        fits_misread = (
            r["price"] > task.max_price
            or (r["color"].lower() in searched["query"].lower() and r["color"] != task.color)
            or (r["brand"] in searched["query"] and r["brand"] != task.brand)
        )
        if fits_misread:
            return Action("product_details", {"sku": r["sku"]}, f"{r['sku']} fits the request.")
    return action


def _flawed(task: Task, history: list[Step], flaw: str, rng: random.Random, world: World):
    """The flawed action at this point, or None when the flaw does not apply here."""
    good = good_action(task, history)
    if history and not _ok(history[-1]):
        return None
    if flaw == "wrong_plan" and task.kind == "find" and good.name == "final":
        if history and history[-1].call.name == "product_details":
            sku = history[-1].observation["sku"]
            return Action("add_to_cart", {"sku": sku, "qty": 1}, "Add it to the cart too.")
        return None
    if good.name == "final":
        return None
    if flaw == "misread_constraint":
        bad = _misread(task, good, rng, world)
        return bad if bad != good else None
    if flaw == "wrong_conclusion" and good.name == "product_details" and task.kind != "compare":
        last_search = _last_ok(history, "search")
        assert last_search is not None  # the plan only reaches product_details after a search
        results = last_search.observation["results"]
        wrong = [r for r in results if r["sku"] not in task.valid_skus]
        if wrong:
            r = rng.choice(wrong)
            return Action("product_details", {"sku": r["sku"]}, f"{r['sku']} fits the request.")
        return None
    if flaw == "wrong_plan":
        if task.kind == "compare" and good.name == "product_details":
            return Action("search", {"query": task.compare_skus[0]}, "Search for the first one.")
        if task.kind in ("cart", "coupon") and good.name == "add_to_cart":
            code = task.coupon or rng.choice(sorted(COUPONS))
            return Action("apply_coupon", {"code": code}, "Apply a coupon first to save money.")
        return None
    if flaw == "malformed_arguments" and good.name in ("add_to_cart", "product_details"):
        args = dict(good.arguments)
        if good.name == "add_to_cart":
            args["qty"] = rng.choice([str(task.qty), "two", None])
        else:
            args = {"id": args["sku"]}
        return Action(good.name, args, good.thought)
    return None


def run_scripted(
    world: World,
    task: Task,
    *,
    flaw: str | None = None,
    seed: int = 0,
    fail_prob: float = 0.08,
    max_steps: int = 12,
    good_twin: bool = False,
) -> Trace:
    """Run the scripted agent on one task; `flaw` plants one error (see module doc).

    `good_twin=True` runs the careful agent in the same weather as the flawed run (same
    seed, same forced failure, which it retries): the pair differs only by the flaw.
    """
    rng = random.Random(f"{seed}-{task.task_id}-{flaw}")
    forced: dict[int, str] = {}
    planted: int | None = None
    if flaw in ("tool_error_not_retried", "timeout"):
        planted = rng.randrange(2 if task.kind == "compare" else 2 + (task.kind != "find"))
        forced[planted] = "server_error" if flaw == "tool_error_not_retried" else "timeout"
    # Weather differs by task as well as by seed: one unlucky seed must not sink every task.
    env_seed = zlib.crc32(f"{seed}-{task.task_id}".encode())
    env = ToolEnv(world.index, seed=env_seed, fail_prob=fail_prob, forced_failures=forced)
    if good_twin:
        flaw, planted = None, None
    history: list[Step] = []
    final = GIVE_UP
    alias: dict[str, str] = {}
    for _ in range(max_steps):
        action = good_action(task, history, alias)
        if flaw in (*REASONING_FLAWS, "malformed_arguments") and planted is None:
            bad = _flawed(task, history, flaw, rng, world)
            if bad is not None:
                action, planted = bad, len(history)
                if task.kind == "compare" and flaw == "misread_constraint":
                    alias[bad.arguments["sku"]] = good_action(task, history).arguments["sku"]
        elif flaw == "misread_constraint" and planted is not None:
            action = _follow_misread(task, history, planted, action)
        if planted is not None and planted < len(history) and flaw in EXECUTION_FLAWS:
            # Execution flaws: the agent does not notice or fix the failure and stops.
            action = Action("final", GIVE_UP, "Done.")
        if flaw == "wrong_plan" and planted is not None and planted < len(history):
            action = Action("final", history[planted].call.arguments.get("sku", GIVE_UP), "Done.")
            if task.kind == "compare":
                action = Action("final", task.compare_skus[0], "Done.")
        if action.name == "final":
            final = action.arguments
            break
        obs = env.call(action.name, action.arguments)
        history.append(Step(action.thought, ToolCall(action.name, action.arguments), obs))
    env.state.answer = None if final == GIVE_UP else final
    if planted is None:
        flaw = None  # the flaw had no place to go in this run: it is a clean trace
    trace = Trace(
        instruction=task.instruction,
        steps=history,
        final_answer=f"Answer: {final}",
        state=env.state,
        task=task,
        labels=oracle_step_labels(task, history),
        meta={"flaw": flaw, "planted_step": planted, "seed": seed},
    )
    return trace


def scripted_traces(
    world: World, tasks: list[Task], *, flawed_share: float = 0.5, seed: int = 0
) -> list[Trace]:
    """One trace per task; a `flawed_share` of them with a random planted flaw."""
    rng = random.Random(seed)
    out = []
    for i, task in enumerate(tasks):
        flaws = [f for f in FLAWS if not (task.kind == "compare" and f == "wrong_conclusion")]
        flaw = rng.choice(flaws) if rng.random() < flawed_share else None
        out.append(run_scripted(world, task, flaw=flaw, seed=seed * 100_003 + i))
    return out
