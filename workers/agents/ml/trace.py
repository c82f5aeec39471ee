"""Trace format (task + steps + final answer + state) and OpenAI-style chat import/export.

`parse_trace` is the one import path: it accepts a dict or JSON text in the chat format
documented in FORMAT.md and raises `TraceFormatError` naming the problem and its position.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from workers.agents.ml.tools import TOOL_SCHEMAS, ShopState
from workers.agents.ml.world import Task

__all__ = ["Step", "ToolCall", "Trace", "TraceFormatError", "parse_trace", "to_chat"]

SYSTEM_PROMPT = (
    "You are a shopping assistant. Use the tools search, product_details, add_to_cart and "
    "apply_coupon to do what the user asks, then answer."
)
LABELS = ("ok", "reasoning", "execution")


class TraceFormatError(ValueError):
    """An imported trace is not in the documented format; the message says where."""


@dataclass
class ToolCall:
    name: str
    arguments: Any  # parsed JSON; may violate the tool's schema (an execution failure)
    call_id: str = ""


@dataclass
class Step:
    thought: str
    call: ToolCall
    observation: dict[str, Any]


@dataclass
class Trace:
    instruction: str
    steps: list[Step] = field(default_factory=list)
    final_answer: str = ""
    state: ShopState = field(default_factory=ShopState)
    task: Task | None = None
    labels: list[str] | None = None  # per-step ground truth: ok / reasoning / execution
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. planted flaw kind and step


def to_chat(trace: Trace) -> dict[str, Any]:
    """Export to the OpenAI-style chat format; task, state and labels go under metadata."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": trace.instruction},
    ]
    for i, step in enumerate(trace.steps):
        call_id = step.call.call_id or f"call_{i}"
        messages.append(
            {
                "role": "assistant",
                "content": step.thought,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": step.call.name,
                            "arguments": json.dumps(step.call.arguments),
                        },
                    }
                ],
            }
        )
        messages.append(
            {"role": "tool", "tool_call_id": call_id, "content": json.dumps(step.observation)}
        )
    messages.append({"role": "assistant", "content": trace.final_answer})
    metadata: dict[str, Any] = {"state": trace.state.to_dict(), **trace.meta}
    if trace.task is not None:
        metadata["task"] = trace.task.to_dict()
    if trace.labels is not None:
        metadata["labels"] = list(trace.labels)
    return {"messages": messages, "metadata": metadata}


def _need(obj: dict, key: str, where: str, kind: type | tuple = str) -> Any:
    if key not in obj:
        raise TraceFormatError(f"{where}: missing field {key!r}")
    if not isinstance(obj[key], kind):
        raise TraceFormatError(f"{where}.{key}: expected {_kind_name(kind)}")
    return obj[key]


def _kind_name(kind: type | tuple) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {str: "string", list: "list", dict: "object"}.get(k, k.__name__) for k in kinds
    )


def _parse_call(tc: Any, where: str) -> ToolCall:
    if not isinstance(tc, dict):
        raise TraceFormatError(f"{where}: expected object")
    call_id = _need(tc, "id", where)
    if tc.get("type", "function") != "function":
        raise TraceFormatError(f"{where}.type: expected 'function', got {tc['type']!r}")
    fn = _need(tc, "function", where, dict)
    name = _need(fn, "name", f"{where}.function")
    if name not in TOOL_SCHEMAS:
        known = ", ".join(sorted(TOOL_SCHEMAS))
        raise TraceFormatError(f"{where}.function.name: unknown tool {name!r} (known: {known})")
    raw = _need(fn, "arguments", f"{where}.function")
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as e:
        raise TraceFormatError(f"{where}.function.arguments: not valid JSON ({e.msg})") from e
    return ToolCall(name=name, arguments=args, call_id=call_id)


def parse_trace(obj_or_text: dict[str, Any] | str) -> Trace:
    """Validate and import one trace in the chat format (dict or JSON text)."""
    obj: Any = obj_or_text
    if isinstance(obj_or_text, str | bytes):
        try:
            obj = json.loads(obj_or_text)
        except json.JSONDecodeError as e:
            raise TraceFormatError(
                f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
            ) from e
    if not isinstance(obj, dict):
        raise TraceFormatError("trace: expected a JSON object with a 'messages' list")
    messages = _need(obj, "messages", "trace", list)
    trace = Trace(instruction="")
    pending: dict[str, ToolCall] = {}  # call id -> call, waiting for its tool result
    thoughts: dict[str, str] = {}
    final: str | None = None
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise TraceFormatError(f"{where}: expected object")
        role = _need(m, "role", where)
        if role == "system":
            continue
        if role == "user":
            content = _need(m, "content", where)
            if not trace.instruction:
                trace.instruction = content
            continue
        if role == "assistant":
            content = m.get("content") or ""
            if not isinstance(content, str):
                raise TraceFormatError(f"{where}.content: expected string")
            calls = m.get("tool_calls") or []
            if not isinstance(calls, list):
                raise TraceFormatError(f"{where}.tool_calls: expected list")
            if not calls:
                final = content
            for j, tc in enumerate(calls):
                call = _parse_call(tc, f"{where}.tool_calls[{j}]")
                if call.call_id in pending:
                    raise TraceFormatError(
                        f"{where}.tool_calls[{j}].id: duplicate {call.call_id!r}"
                    )
                pending[call.call_id] = call
                thoughts[call.call_id] = content if j == 0 else ""
            continue
        if role == "tool":
            call_id = _need(m, "tool_call_id", where)
            if call_id not in pending:
                raise TraceFormatError(
                    f"{where}: tool result for {call_id!r} has no matching tool call before it"
                )
            content = _need(m, "content", where)
            try:
                observation = json.loads(content)
            except json.JSONDecodeError:
                observation = {"text": content}  # free-text tool output is allowed
            if not isinstance(observation, dict):
                observation = {"value": observation}
            call = pending.pop(call_id)
            trace.steps.append(Step(thoughts.pop(call_id), call, observation))
            continue
        raise TraceFormatError(f"{where}.role: unknown role {role!r}")
    if not trace.instruction:
        raise TraceFormatError("messages: no 'user' message with the task")
    if pending:
        raise TraceFormatError(f"messages: tool call(s) without a result: {sorted(pending)}")
    trace.final_answer = final or ""
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise TraceFormatError("metadata: expected object")
    if "state" in meta:
        state = meta["state"]
        try:
            if not isinstance(state, dict):
                raise TypeError("expected object")
            trace.state = ShopState.from_dict(state)
        except (TypeError, ValueError) as e:
            raise TraceFormatError(f"metadata.state: {e}") from e
    if "task" in meta:
        try:
            if not isinstance(meta["task"], dict):
                raise TypeError("expected object")
            trace.task = Task.from_dict(meta["task"])
        except (TypeError, ValueError) as e:
            raise TraceFormatError(f"metadata.task: {e}") from e
    if "labels" in meta:
        labels = meta["labels"]
        if (
            not isinstance(labels, list)
            or len(labels) != len(trace.steps)
            or any(x not in LABELS for x in labels)
        ):
            raise TraceFormatError(
                f"metadata.labels: expected {len(trace.steps)} of {list(LABELS)}"
            )
        trace.labels = list(labels)
    trace.meta = {k: v for k, v in meta.items() if k not in ("state", "task", "labels")}
    return trace
