"""Errors whose message is meant for the person who sent the request.

A service raises a subclass (an import refused, an upload refused, a malformed annotation,
a queue conflict); the API answers it with its ``status`` and the message, plus the list
``errors`` where there is one. The API plumbing knows this class, not the apps that raise
it, so imports keep pointing down.
"""

from __future__ import annotations


class UserError(Exception):
    status = 400
    errors: list[str] | None = None
