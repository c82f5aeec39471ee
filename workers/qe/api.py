"""``POST /api/expand``: the live model's expansion and results for one query."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jdreview.access import project_for
from jdreview.api import ERRORS, ErrorOut, id_field
from workers.qe.search import BACKENDS, BackendUnavailable
from workers.qe.serving import (
    MAX_QUERY_CHARS,
    ModelLoading,
    NoLiveModel,
    QueryError,
    clean_query,
    expansion_for,
)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS})
class QueryField(serializers.Field):
    """The query text, checked by ``clean_query`` (one set of messages for API and page)."""

    def to_internal_value(self, data: Any) -> str:
        try:
            return clean_query(data)
        except QueryError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> Any:
        return value


class ExpandIn(serializers.Serializer):
    project = id_field()
    query = QueryField()
    backend = serializers.ChoiceField(choices=BACKENDS, required=False)


class ProductHit(serializers.Serializer):
    sku = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    color = serializers.CharField()


class VersionRef(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    name = serializers.CharField()


class ExpandOut(serializers.Serializer):
    query = serializers.CharField()
    version = VersionRef()
    backend = serializers.CharField()
    terms = serializers.ListField(child=serializers.CharField())
    expanded_query = serializers.CharField()
    results = ProductHit(many=True)
    results_without = ProductHit(many=True)
    cached = serializers.BooleanField()


class ExpandView(APIView):
    @extend_schema(
        request=ExpandIn,
        responses={200: ExpandOut, **ERRORS, 409: ErrorOut, 503: ErrorOut},
        description="Expand a search query with the project's live query-expansion model "
        "and return the results with and without the expansion. Any project member may ask.",
    )
    def post(self, request: Request) -> Response:
        data = ExpandIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_for(request.user, data.validated_data["project"])
        try:
            answer = expansion_for(
                project=project,
                query=data.validated_data["query"],
                backend=data.validated_data.get("backend"),
            )
        except BackendUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except NoLiveModel as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except ModelLoading as exc:
            return Response(
                {"detail": str(exc)},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(exc.retry_after_s)},
            )
        return Response(ExpandOut(answer).data)
