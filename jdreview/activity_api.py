"""``GET /api/projects/{id}/activity/``: a project's activity log, read-only, newest first,
with the page's filters, paginated like the other lists (``limit`` and ``offset``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from jdreview.access import project_for
from jdreview.activity import (
    ACTIONS,
    PERM_ACTIVITY,
    activity_events,
    activity_filter_parse,
    event_record,
)
from jdreview.api import ERRORS
from jdreview.models import ActivityEvent


class ActivityOut(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True, help_text="the person's username")
    actor_job_id = serializers.IntegerField(allow_null=True, help_text="the job that did it")
    action = serializers.CharField()
    object_type = serializers.CharField(help_text="e.g. annotation, audit, modelversion, job")
    object_id = serializers.IntegerField(allow_null=True)
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    detail = serializers.JSONField()

    def to_representation(self, instance: ActivityEvent) -> dict[str, Any]:
        return event_record(instance)


FILTERS = [
    OpenApiParameter("actor", OpenApiTypes.STR, description="a username"),
    OpenApiParameter("action", OpenApiTypes.STR, enum=sorted(ACTIONS)),
    OpenApiParameter(
        "since", OpenApiTypes.STR, description="a date (YYYY-MM-DD) or ISO date and time"
    ),
    OpenApiParameter(
        "until",
        OpenApiTypes.STR,
        description="a date (up to the end of that day) or ISO date and time (before it)",
    ),
]


class ActivityListView(ListAPIView):
    """The project's log, for those who may read it (others: 403, or 404 for a project
    they are not a member of)."""

    serializer_class = ActivityOut

    @extend_schema(parameters=FILTERS, responses={200: ActivityOut(many=True), **ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ActivityEvent]:
        project = project_for(self.request.user, self.kwargs["project_id"], PERM_ACTIVITY)
        return activity_events(project, activity_filter_parse(self.request.query_params))
