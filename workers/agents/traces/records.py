"""Agent traces as item rows: what reviewers see (payload), how the trace is rebuilt for
scoring (recipe) and the planted ground truth (truth, never shown).

No Django imports here: these are plain dict conversions, used by the import service, the
generation job and the scorers alike.
"""

from __future__ import annotations

import json
from typing import Any

from workers.agents.ml.judge.detect import execution_failure
from workers.agents.ml.oracle import attribute
from workers.agents.ml.trace import Trace, parse_trace, to_chat
from workers.agents.ml.world import goal_reached

__all__ = ["item_trace", "pretty_json", "trace_payload", "trace_recipe", "trace_truth"]


def pretty_json(value: Any) -> str:
    """Arguments and observations as reviewers read them: indented JSON text."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def trace_payload(trace: Trace, *, agent: str, run: int = 0) -> dict[str, Any]:
    """What reviewers see: the task, the steps, the final answer, and the automatic
    execution-failure check per step (a hint, labeled as automatic on the page)."""
    return {
        "task": trace.instruction,
        "steps": [
            {
                "thought": step.thought,
                "tool": step.call.name,
                "arguments": step.call.arguments,
                "observation": step.observation,
                "auto": execution_failure(step),
            }
            for step in trace.steps
        ],
        "final_answer": trace.final_answer,
        "agent": agent,
        "task_id": trace.task.task_id if trace.task is not None else "",
        "run": run,
    }


def trace_recipe(trace: Trace, *, agent_version: int | None = None) -> dict[str, Any]:
    """How to rebuild the trace for scoring: the chat export with its task (whose goal is
    hidden from reviewers) and final state; the step labels live in ``truth``."""
    chat = to_chat(trace)
    chat["metadata"].pop("labels", None)
    return {"chat": chat, "agent_version": agent_version}


def trace_truth(trace: Trace) -> dict[str, Any]:
    """Planted per-step ground truth and the outcome, where the trace carries them."""
    truth: dict[str, Any] = {}
    if trace.labels is not None:
        truth["steps"] = list(trace.labels)
    if trace.task is not None:
        success = goal_reached(trace.task, trace.state)
        truth["outcome"] = "success" if success else "failure"
        if not success and trace.labels is not None:
            truth["attribution"] = attribute(trace.steps, trace.labels)
    for key in ("flaw", "planted_step"):
        if key in trace.meta:
            truth[key] = trace.meta[key]
    return truth


def item_trace(payload: dict[str, Any], recipe: dict[str, Any], truth: dict[str, Any]) -> Trace:
    """Rebuild the trace stored in an item (its ground-truth labels attached when known)."""
    trace = parse_trace(recipe["chat"])
    labels = truth.get("steps")
    if isinstance(labels, list) and len(labels) == len(trace.steps):
        trace.labels = list(labels)
    return trace
