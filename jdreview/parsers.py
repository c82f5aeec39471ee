"""Request parsers, kept apart from jdreview.api: DRF reads DEFAULT_PARSER_CLASSES while
``rest_framework.views`` is first imported, so the module it names must not import that."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

from jdreview.jsonin import json_loads


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a bound on nesting, for every JSON endpoint at once."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return json_loads(stream.read() if stream is not None else b"", encoding)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
