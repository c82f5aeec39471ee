"""REST API of the labeling app. Input is validated here; every write calls a service."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jdreview.access import project_for, projects_for, require_perm
from jdreview.models import Project
from jdreview.roles import PERM_DASHBOARDS, PERM_DATA, PERM_LABEL, has_perm, is_admin
from labeling import exports, services
from labeling.items import (
    ImportError_,
    NewItem,
    check_gold_answer,
    check_upload,
    items_create,
    parse_manifest,
)
from labeling.labelstudio import labelstudio_import
from labeling.models import Annotation, Item
from labeling.serializers import (
    AnnotationOut,
    ErrorOut,
    ImportOut,
    ItemManagerOut,
    ItemUploadIn,
    LabelStudioImportIn,
    ManifestImportIn,
    ProjectIn,
    ProjectOut,
    SubmitIn,
    TaskOut,
)

ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut}


def _read_files(files: list[Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for f in files:
        out[f.name.rsplit("/", 1)[-1]] = f.read()
    return out


class ProjectListView(APIView):
    @extend_schema(responses={200: ProjectOut(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ProjectOut(projects_for(request.user), many=True).data)

    @extend_schema(request=ProjectIn, responses={201: ProjectOut, **ERRORS})
    def post(self, request: Request) -> Response:
        if not is_admin(request.user):
            raise PermissionDenied("only an admin can create projects")
        data = ProjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = Project.objects.create(**data.validated_data)
        return Response(ProjectOut(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    @extend_schema(responses={200: ProjectOut, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectOut(project_for(request.user, project_id)).data)


class ItemListView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={200: ItemManagerOut(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        items = Item.objects.filter(project=project).select_related("product").order_by("id")
        limit = min(int(request.query_params.get("limit", 100) or 100), 1000)
        offset = max(int(request.query_params.get("offset", 0) or 0), 0)
        return Response(ItemManagerOut(items[offset : offset + limit], many=True).data)

    @extend_schema(request=ItemUploadIn, responses={201: ItemManagerOut, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        data = ItemUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        upload = v["image"]
        try:
            gold = check_gold_answer(v.get("gold_answer"), "gold_answer")
        except ValueError as exc:
            raise serializers.ValidationError({"gold_answer": str(exc)}) from None
        new = NewItem(
            image=check_upload(upload.read(), upload.name),
            external_id=v.get("external_id", ""),
            payload=v.get("payload", {}),
            product_sku=v.get("product_sku", ""),
            is_gold=bool(gold),
            gold_answer=gold,
            filename=upload.name,
        )
        (item,) = items_create(project=project, new_items=[new])
        return Response(ItemManagerOut(item).data, status=status.HTTP_201_CREATED)


class ManifestImportView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request=ManifestImportIn, responses={201: ImportOut, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        manifest = request.FILES.get("manifest")
        if manifest is None:
            raise serializers.ValidationError({"manifest": "upload the JSON-lines manifest"})
        try:
            text = manifest.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ImportError_(["the manifest is not UTF-8 text"]) from None
        items = items_create(
            project=project,
            new_items=parse_manifest(text, _read_files(request.FILES.getlist("files"))),
        )
        return Response({"created": len(items), "item_ids": [i.pk for i in items]}, status=201)


class LabelStudioImportView(APIView):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(request=LabelStudioImportIn, responses={201: ImportOut, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        if request.content_type.startswith("application/json"):
            tasks, files = request.data, {}
        else:
            upload = request.FILES.get("tasks")
            if upload is None:
                raise serializers.ValidationError({"tasks": "upload the Label Studio JSON file"})
            try:
                tasks = json.loads(upload.read())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ImportError_([f"tasks: not valid JSON ({exc})"]) from None
            files = _read_files(request.FILES.getlist("files"))
        items, n = labelstudio_import(project=project, tasks=tasks, files=files, user=request.user)
        return Response(
            {"created": len(items), "annotations": n, "item_ids": [i.pk for i in items]},
            status=201,
        )


class NextTaskView(APIView):
    @extend_schema(responses={200: TaskOut, 204: None, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_LABEL)
        assignment = services.task_next(project=project, user=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TaskOut(assignment).data)


class SubmitView(APIView):
    @extend_schema(
        request=SubmitIn,
        responses={201: AnnotationOut, 200: AnnotationOut, 409: ErrorOut, **ERRORS},
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        require_perm(request.user, PERM_LABEL)
        data = SubmitIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        annotation, created = services.annotation_submit(
            assignment_id=assignment_id,
            user=request.user,
            values=v["values"],
            marks=v.get("marks"),
            reason=v.get("reason", ""),
            lead_time_ms=v.get("lead_time_ms"),
            source="api",
        )
        return Response(AnnotationOut(annotation).data, status=201 if created else 200)


class SkipView(APIView):
    @extend_schema(request=None, responses={204: None, 409: ErrorOut, **ERRORS})
    def post(self, request: Request, assignment_id: int) -> Response:
        require_perm(request.user, PERM_LABEL)
        services.task_skip(assignment_id=assignment_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UndoView(APIView):
    @extend_schema(request=None, responses={200: AnnotationOut, 404: ErrorOut, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_LABEL)
        undone = services.annotation_undo(project=project, user=request.user)
        if undone is None:
            raise Http404("nothing to undo")
        return Response(AnnotationOut(undone).data)


class AnnotationListView(ListAPIView):
    """Annotations you may see: your own, or (managers) all of your projects'."""

    serializer_class = AnnotationOut

    @extend_schema(
        parameters=[
            OpenApiParameter("project", int),
            OpenApiParameter("item", int),
            OpenApiParameter("annotator", str),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("gold", bool),
            OpenApiParameter("source", str),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Annotation]:
        user = self.request.user
        qs = Annotation.objects.filter(project__in=projects_for(user), undone=False)
        if not has_perm(user, PERM_DASHBOARDS):
            qs = qs.filter(user=user)
        p = self.request.query_params
        try:
            if p.get("project"):
                qs = qs.filter(project_id=int(p["project"]))
            if p.get("item"):
                qs = qs.filter(item_id=int(p["item"]))
        except ValueError:
            raise serializers.ValidationError("project and item must be numbers") from None
        if p.get("annotator"):
            qs = qs.filter(user__username=p["annotator"])
        if p.get("source"):
            qs = qs.filter(source=p["source"])
        if p.get("gold") in ("true", "false"):
            qs = qs.filter(is_gold=p["gold"] == "true")
        if p.get("since"):
            since = parse_datetime(p["since"])
            if since is None:
                raise serializers.ValidationError("since must be an ISO 8601 date-time")
            qs = qs.filter(created_at__gte=since)
        return qs.select_related("user").order_by("id")


class ExportView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(exports.FORMATS))],
        responses={200: OpenApiResponse(description="JSON lines, or Label Studio JSON"), **ERRORS},
    )
    def get(self, request: Request, project_id: int) -> Any:
        project = project_for(request.user, project_id, PERM_DATA)
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in exports.FORMATS:
            raise serializers.ValidationError({"format": f"one of {', '.join(exports.FORMATS)}"})
        if fmt == "labelstudio":
            response = Response(exports.export_labelstudio(project))
            response["Content-Disposition"] = f'attachment; filename="{project.slug}-ls.json"'
            return response
        writer = exports.export_jsonl if fmt == "jsonl" else exports.export_hf
        streaming = StreamingHttpResponse(writer(project), content_type="application/x-ndjson")
        streaming["Content-Disposition"] = f'attachment; filename="{project.slug}-{fmt}.jsonl"'
        return streaming
