"""Trace import/export in the chat format: round trips and clear errors on bad input."""

from __future__ import annotations

import copy
import json

import pytest

from workers.agents.ml.scripted import run_scripted
from workers.agents.ml.trace import TraceFormatError, parse_trace, to_chat
from workers.agents.ml.world import World, goal_reached, load_catalog, make_tasks


@pytest.fixture(scope="module")
def world() -> World:
    return World(load_catalog())


@pytest.fixture(scope="module")
def chat(world: World) -> dict:
    task = make_tasks(world, 3, seed=5)[2]  # a coupon task: four tool calls
    return to_chat(run_scripted(world, task, seed=1, fail_prob=0.0))


def test_export_then_import_keeps_steps_state_and_goal(world: World, chat: dict) -> None:
    trace = parse_trace(json.dumps(chat))
    assert [s.call.name for s in trace.steps] == [
        "search",
        "product_details",
        "add_to_cart",
        "apply_coupon",
    ]
    assert trace.labels == ["ok"] * 4
    assert trace.task is not None and goal_reached(trace.task, trace.state)
    assert to_chat(trace) == chat


def _broken(chat: dict, edit) -> dict:
    bad = copy.deepcopy(chat)
    edit(bad)
    return bad


def test_it_rejects_bad_json_with_line_and_column() -> None:
    with pytest.raises(TraceFormatError, match=r"invalid JSON at line 1 column \d+"):
        parse_trace('{"messages": [}')


def test_it_rejects_an_unknown_tool_naming_the_message(chat: dict) -> None:
    def edit(c):
        c["messages"][2]["tool_calls"][0]["function"]["name"] = "checkout"

    with pytest.raises(TraceFormatError, match=r"messages\[2\].*unknown tool 'checkout'"):
        parse_trace(_broken(chat, edit))


def test_it_rejects_missing_fields(chat: dict) -> None:
    with pytest.raises(TraceFormatError, match=r"trace: missing field 'messages'"):
        parse_trace({"msgs": []})

    def no_role(c):
        del c["messages"][1]["role"]

    with pytest.raises(TraceFormatError, match=r"messages\[1\]: missing field 'role'"):
        parse_trace(_broken(chat, no_role))

    def no_name(c):
        del c["messages"][4]["tool_calls"][0]["function"]["name"]

    with pytest.raises(
        TraceFormatError, match=r"messages\[4\]\.tool_calls\[0\]\.function: missing"
    ):
        parse_trace(_broken(chat, no_name))


def test_it_rejects_arguments_that_are_not_json(chat: dict) -> None:
    def edit(c):
        c["messages"][2]["tool_calls"][0]["function"]["arguments"] = "{query: socks"

    with pytest.raises(TraceFormatError, match=r"arguments: not valid JSON"):
        parse_trace(_broken(chat, edit))


def test_it_rejects_a_tool_result_without_a_call(chat: dict) -> None:
    def edit(c):
        c["messages"][3]["tool_call_id"] = "call_99"

    with pytest.raises(TraceFormatError, match=r"messages\[3\]: tool result for 'call_99' has no"):
        parse_trace(_broken(chat, edit))


def test_schema_breaking_arguments_import_as_steps_not_format_errors(chat: dict) -> None:
    def edit(c):
        c["messages"][6]["tool_calls"][0]["function"]["arguments"] = '{"sku": "SKU1"}'

    trace = parse_trace(_broken(chat, edit))
    assert trace.steps[2].call.arguments == {"sku": "SKU1"}
