"""Automatic execution-failure detection: no learning needed, the tools say so."""

from __future__ import annotations

from typing import Any

from workers.agents.ml.tools import schema_errors

__all__ = ["execution_failure", "schema_failure"]


def schema_failure(step: Any) -> str | None:
    """Why the call's arguments break the tool's JSON schema (or the tool is unknown)."""
    return schema_errors(step.call.name, step.call.arguments)


def execution_failure(step: Any) -> str | None:
    """A reason when the step failed to execute: bad arguments or an error result."""
    problem = schema_failure(step)
    if problem is not None:
        return f"arguments: {problem}"
    if "error" in step.observation:
        return f"tool error: {step.observation['error']}"
    return None
