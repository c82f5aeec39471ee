from __future__ import annotations

import json
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.utils import html

from jdreview.jsonin import json_loads
from workers.models import Job
from workers.params import ParamField, params_json_schema
from workers.registry import offered_kinds


class JobOut(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "project_id",
            "params",
            "status",
            "progress",
            "metrics",
            "log_tail",
            "artifacts",
            "error",
            "queue",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]


class JobParamsField(serializers.DictField):
    """A job's parameters: their shape depends on the kind, so the kind checks them (in
    workers.services.job_start), not this field.

    In a form body (multipart or urlencoded) ``params`` is one field holding a JSON object:
    DRF's dict field would look only for ``params.<name>`` keys and silently start the job
    with its defaults when ``params`` is ``true`` or ``[1]``.
    """

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            raw = dictionary.get(self.field_name)
            try:
                return json_loads(raw) if isinstance(raw, str | bytes) else raw
            except ValueError:
                return raw  # not JSON, so not an object: to_internal_value refuses it
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> dict[Any, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("params must be a JSON object")
        return super().to_internal_value(data)


class JobParamsFieldSchema(OpenApiSerializerFieldExtension):
    """Documents each kind's parameters from its dataclass. They sit in ``x-params-by-kind``
    beside a plain object: the request schema stays one object (what a client may send,
    and what the fuzzer sends), the checks stay with the kinds."""

    target_class = JobParamsField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        kinds = offered_kinds()
        lines = [
            f"- {name}: "
            + (", ".join(_described(f) for f in kinds[name].fields) or "no parameters")
            for name in sorted(kinds)
        ]
        return {
            "type": "object",
            "additionalProperties": {},
            "description": "Parameters of the kind; absent ones take its defaults, and an "
            "unknown or out-of-range one is refused with a 400 naming it.\n\n" + "\n".join(lines),
            "x-params-by-kind": {
                name: params_json_schema(kinds[name].params) for name in sorted(kinds)
            },
        }


def _described(f: ParamField) -> str:
    what = {"int": "integer", "float": "number", "flag": "boolean"}.get(f.type, "")
    if f.type == "choice":
        what = "one of " + "/".join(f.choices)
    if f.type == "list":
        what = "list of " + "/".join(f.choices)
    if f.range_text:
        what += f" {f.range_text}"
    default = "" if f.default in (None, ()) else f", default {json.dumps(f.default)}"
    return f"{f.name} ({what}{default})"


class JobIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[])
    params = JobParamsField(required=False, default=dict)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read from the registry when asked, not at import: kinds register as apps load.
        self.fields["kind"].choices = sorted(offered_kinds())
