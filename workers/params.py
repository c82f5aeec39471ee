"""Job parameters, declared by each job kind as a frozen dataclass.

A kind's fields are made with ``param()``: the default, the range or choices and the help
text sit on the field, next to the runner that reads it. This module turns what people
send (JSON from the API, strings from a form) into that dataclass, or a ParamError whose
message names the field; the pages render their start forms from the same fields.

Field types: ``int`` and ``float`` (with a range), ``str`` (one of ``choices``), ``bool``
(a flag), ``tuple[str, ...]`` (several of ``choices``). ``X | None`` with a default of None
means "not given": the runner decides (the live version, every query, a seed from the job).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

P = TypeVar("P")
SEED_MAX = 2**31 - 1  # seeds are stored and passed on as 32-bit integers
ROW_MAX = 2**31 - 1  # a parameter naming a row by its id (the runner checks the project)

_SPEC = "job_param"
# What a form may send for a flag (JSON also sends true/false, 1/0).
_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no")


class ParamError(ValueError):
    """Parameters a kind does not accept; the message names the field (a 400 for people)."""


@dataclass(frozen=True)
class _Spec:
    low: int | float | None
    high: int | float | None
    choices: tuple[str, ...]
    help: str
    label: str


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    help: str = "",
    label: str = "",
) -> Any:
    """A job parameter: its default, its range (both ends included) or choices, and the
    help text forms and the API schema show."""
    spec = _Spec(low, high, tuple(choices), help, label)
    return dataclasses.field(default=default, metadata={_SPEC: spec})


@dataclass(frozen=True)
class NoParams:
    """For kinds that take no parameters."""


@dataclass(frozen=True)
class ParamField:
    """One declared parameter, as validation and the forms see it."""

    name: str
    type: str  # "int", "float", "choice", "flag" or "list"
    default: Any
    optional: bool
    low: int | float | None
    high: int | float | None
    choices: tuple[str, ...]
    help: str
    label: str

    @property
    def input(self) -> str:
        """The form control: number, select, checkbox or checkboxes."""
        return {"choice": "select", "flag": "checkbox", "list": "checkboxes"}.get(
            self.type, "number"
        )

    @property
    def step(self) -> str:
        return "any" if self.type == "float" else "1"

    @property
    def range_text(self) -> str:
        def shown(v: float) -> str:
            return f"{v:g}" if self.type == "float" else str(v)

        low, high = self.low, self.high
        if low is not None and high is not None:
            return f"{shown(low)}–{shown(high)}"
        if low is not None:
            return f"at least {shown(low)}"
        if high is not None:
            return f"at most {shown(high)}"
        return ""

    def json_schema(self) -> dict[str, Any]:
        by_type: dict[str, dict[str, Any]] = {
            "int": {"type": "integer"},
            "float": {"type": "number"},
            "choice": {"type": "string", "enum": list(self.choices)},
            "flag": {"type": "boolean"},
            "list": {"type": "array", "items": {"type": "string", "enum": list(self.choices)}},
        }
        schema = by_type[self.type]
        if self.low is not None:
            schema["minimum"] = self.low
        if self.high is not None:
            schema["maximum"] = self.high
        if self.default is not None:
            schema["default"] = list(self.default) if self.type == "list" else self.default
        if self.help:
            schema["description"] = self.help
        return schema


def _kind_of(name: str, hint: Any, spec: _Spec) -> tuple[str, bool]:
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"parameter {name}: one type, or one type | None")
        hint = args[0]
    if hint is bool:
        return "flag", optional
    if hint is int or hint is float:
        return hint.__name__, optional
    if hint is str and spec.choices:
        return "choice", optional
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (str, ...) and spec.choices:
        return "list", optional
    raise TypeError(
        f"parameter {name}: int, float, bool, str with choices or tuple[str, ...] with "
        f"choices, not {hint!r}"
    )


_FIELDS: dict[type, tuple[ParamField, ...]] = {}


def params_fields(cls: type) -> tuple[ParamField, ...]:
    """The declared parameters of a kind's dataclass; a declaration the forms and checks
    cannot handle fails here, when the kind registers."""
    if cls not in _FIELDS:
        _FIELDS[cls] = _read_fields(cls)
    return _FIELDS[cls]


def _read_fields(cls: type) -> tuple[ParamField, ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_SPEC)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name}: declare it with param()")
        kind, optional = _kind_of(f.name, hints[f.name], spec)
        if kind in ("int", "float") and f.default is not None:
            low, high = spec.low, spec.high
            if (low is not None and f.default < low) or (high is not None and f.default > high):
                raise TypeError(f"{cls.__name__}.{f.name}: the default is out of its range")
        out.append(
            ParamField(
                name=f.name,
                type=kind,
                default=f.default,
                optional=optional,
                low=spec.low,
                high=spec.high,
                choices=spec.choices,
                help=spec.help,
                label=spec.label or f.name.replace("_", " "),
            )
        )
    return tuple(out)


def _between(f: ParamField, value: int | float) -> bool:
    return (f.low is None or f.low <= value) and (f.high is None or value <= f.high)


def _range_error(f: ParamField) -> ParamError:
    if f.low is None or f.high is None:
        return ParamError(f"{f.name} must be {f.range_text}")
    if f.type == "float":
        return ParamError(f"{f.name} must be between {f.low:g} and {f.high:g}")
    return ParamError(f"{f.name} must be between {f.low} and {f.high}")


def _convert(f: ParamField, value: Any) -> Any:
    """One value, checked; returned as JSON stores it."""
    if f.type == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ParamError(f"{f.name} must be a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # int(inf): JSON reads 1e400 as infinity
            raise ParamError(f"{f.name} must be a whole number") from None
        if not _between(f, number):
            raise _range_error(f)
        return number
    if f.type == "float":
        if isinstance(value, bool):
            raise ParamError(f"{f.name} must be a number")
        try:
            real = float(value)
        except (TypeError, ValueError, OverflowError):  # float() of a whole number past 1e308
            raise ParamError(f"{f.name} must be a number") from None
        if not _between(f, real):  # also refuses NaN
            raise _range_error(f)
        if not math.isfinite(real):
            raise ParamError(f"{f.name} must be a number")
        return real
    if f.type == "choice":
        if not isinstance(value, str) or value not in f.choices:
            raise ParamError(f"{f.name} must be one of {', '.join(f.choices)}")
        return value
    if f.type == "list":
        items = [v for v in value.split(",") if v] if isinstance(value, str) else value
        if (
            not isinstance(items, list | tuple)
            or not items
            or not all(isinstance(v, str) and v in f.choices for v in items)
        ):
            raise ParamError(f"{f.name} must be a list drawn from {', '.join(f.choices)}")
        return list(items)
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE:
        return True
    if isinstance(value, str) and value.lower() in _FALSE:
        return False
    raise ParamError(f"{f.name} must be true or false")


def params_clean(cls: type, raw: Any, *, kind: str) -> dict[str, Any]:
    """The parameters given, checked against ``cls`` and converted, as the job row stores
    them. Absent ones stay absent: the row says what was asked for; defaults fill the rest
    when the job runs."""
    if not isinstance(raw, Mapping):
        raise ParamError(f"parameters for {kind} must be an object")
    fields = params_fields(cls)
    clean: dict[str, Any] = {}
    for f in fields:
        if f.name in raw:
            value = raw[f.name]
            if value is None and f.optional:
                continue
            clean[f.name] = _convert(f, value)
    unknown = set(raw) - {f.name for f in fields}
    if unknown:
        raise ParamError(f"unknown parameters for {kind}: {', '.join(sorted(map(str, unknown)))}")
    return clean


def params_parse(cls: type[P], raw: Any, *, kind: str) -> P:
    """``raw`` checked (ParamError) and turned into the kind's dataclass."""
    clean = params_clean(cls, raw, kind=kind)
    lists = {f.name for f in params_fields(cls) if f.type == "list"}
    return cls(**{k: tuple(v) if k in lists else v for k, v in clean.items()})


def params_from_form(cls: type, data: Any) -> dict[str, Any]:
    """The declared parameters a submitted form filled in, as strings (an empty field means:
    the default). Other fields of the form (kind, csrf token, action) are not parameters."""
    raw: dict[str, Any] = {}
    for f in params_fields(cls):
        if f.type == "list":
            values = data.getlist(f.name) if hasattr(data, "getlist") else data.get(f.name)
            if values:
                raw[f.name] = values
        elif str(data.get(f.name, "")).strip() != "":
            raw[f.name] = data[f.name]
    return raw


def params_json_schema(cls: type) -> dict[str, Any]:
    """The JSON schema of a kind's parameters (for the API documentation)."""
    return {
        "type": "object",
        "properties": {f.name: f.json_schema() for f in params_fields(cls)},
        "additionalProperties": False,
    }
