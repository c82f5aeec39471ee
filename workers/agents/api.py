"""REST API of this loop: trace import (JSON, JSON lines, or a multipart file)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jdreview.access import project_for
from jdreview.api import ERRORS, unusable_input
from jdreview.roles import PERM_DATA
from labeling.items import ImportError_
from labeling.serializers import ImportOut
from workers.agents.traces.services import TraceImportError, traces_import

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class TraceTextParser(BaseParser):
    """The body as text: JSON or JSON lines are told apart by the import itself."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> str:
        data = stream.read(MAX_IMPORT_BYTES + 1) if stream is not None else b""
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportError_([f"the import is over {MAX_IMPORT_BYTES // 2**20} MB; split it"])
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportError_(["the import is not UTF-8 text"]) from None


class TraceUploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="a .json or .jsonl file of traces")


def import_text(text: str, project: Any, user: Any = None) -> list[Any]:
    try:
        # The import parses the text itself, JSON nested inside strings too (tool-call
        # arguments), and stores what it read.
        with unusable_input("the import"):
            return traces_import(project=project, text=text, user=user)
    except TraceImportError as exc:
        raise ImportError_(exc.errors) from None


class TraceImportView(APIView):
    parser_classes = [MultiPartParser, TraceTextParser]

    @extend_schema(
        summary="Import agent traces",
        description=(
            "Traces in the OpenAI-style chat format (messages with tool_calls and tool "
            "results; see workers/agents/ml/FORMAT.md): one JSON object, a JSON list, "
            "or JSON lines, as the request body or as a multipart `file`. All-or-nothing: "
            "any error refuses the whole import and lists each problem by trace and field."
        ),
        request={
            "application/json": {
                "oneOf": [
                    {"type": "object"},
                    {"type": "array", "items": {"type": "object"}},
                ]
            },
            "application/x-ndjson": OpenApiTypes.STR,
            "multipart/form-data": TraceUploadIn,
        },
        # The route is a regex (for the optional slash): say the id is a number.
        parameters=[OpenApiParameter("project_id", int, OpenApiParameter.PATH)],
        responses={201: ImportOut, **ERRORS},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise serializers.ValidationError({"file": "upload a .json or .jsonl file"})
            if (upload.size or 0) > MAX_IMPORT_BYTES:
                raise ImportError_([f"the file is over {MAX_IMPORT_BYTES // 2**20} MB; split it"])
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ImportError_(["the file is not UTF-8 text"]) from None
        else:
            text = request.data if isinstance(request.data, str) else ""
        items = import_text(text, project, request.user)
        return Response(
            {"created": len(items), "item_ids": [i.pk for i in items]},
            status=status.HTTP_201_CREATED,
        )
