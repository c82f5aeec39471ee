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
from workers.qe.guard import GuardSettingError, parse_threshold
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


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 1})
class ThresholdField(serializers.Field):
    """The guard threshold for this answer, checked by ``parse_threshold`` (no NaN)."""

    def to_internal_value(self, data: Any) -> float:
        try:
            return parse_threshold(data)
        except GuardSettingError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> Any:
        return value


class ExpandIn(serializers.Serializer):
    project = id_field()
    query = QueryField()
    backend = serializers.ChoiceField(choices=BACKENDS, required=False)
    threshold = ThresholdField(
        required=False,
        help_text="guard threshold for this answer (0..1); default: the project's setting",
    )


class ProductHit(serializers.Serializer):
    sku = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    color = serializers.CharField()


class VersionRef(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    name = serializers.CharField()


class ScoredTerm(serializers.Serializer):
    term = serializers.CharField()
    score = serializers.FloatField(
        allow_null=True, help_text="P(relevant) from the term-relevance model; null: unchecked"
    )


class GuardOut(serializers.Serializer):
    active = serializers.BooleanField(help_text="false: no live term-relevance model")
    threshold = serializers.FloatField()
    version = VersionRef(allow_null=True)
    note = serializers.CharField(allow_blank=True)


class ExpandOut(serializers.Serializer):
    query = serializers.CharField()
    version = VersionRef()
    backend = serializers.CharField()
    terms = serializers.ListField(
        child=serializers.CharField(), help_text="every term the model added"
    )
    kept = ScoredTerm(many=True, help_text="added terms the guard kept (searched)")
    dropped = ScoredTerm(many=True, help_text="added terms the guard dropped as drifting")
    guard = GuardOut()
    expanded_query = serializers.CharField(help_text="the query and the kept terms")
    results = ProductHit(many=True)
    results_unguarded = ProductHit(many=True, help_text="with every added term")
    results_without = ProductHit(many=True)
    cached = serializers.BooleanField()


class ExpandView(APIView):
    @extend_schema(
        request=ExpandIn,
        responses={200: ExpandOut, **ERRORS, 409: ErrorOut, 503: ErrorOut},
        description="Expand a search query with the project's live query-expansion model, "
        "drop added terms the live term-relevance model rates below the guard threshold, "
        "and return the results with the kept terms, with every term and without any. "
        "Any project member may ask.",
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
                threshold=data.validated_data.get("threshold"),
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
