"""REST API of the labeling app. Input is validated here; every write calls a service."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jdreview.access import project_for, projects_for, require_perm
from jdreview.api import (
    ERRORS,
    Conflict,
    ErrorOut,
    PageIn,
    page_from,
    unusable_input,
)
from jdreview.jsonin import json_loads
from jdreview.models import Project
from jdreview.parsers import JSONParser
from jdreview.projects import project_create
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
    AnnotationFilterIn,
    AnnotationOut,
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


def _read_files(files: list[Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for f in files:
        out[f.name.rsplit("/", 1)[-1]] = f.read()
    return out


class ProjectListView(APIView):
    @extend_schema(responses={200: ProjectOut(many=True), 401: ERRORS[401], 503: ERRORS[503]})
    def get(self, request: Request) -> Response:
        return Response(ProjectOut(projects_for(request.user), many=True).data)

    @extend_schema(request=ProjectIn, responses={201: ProjectOut, **ERRORS, 409: ErrorOut})
    def post(self, request: Request) -> Response:
        if not is_admin(request.user):
            raise PermissionDenied("only an admin can create projects")
        data = ProjectIn(data=request.data)
        if not data.is_valid():
            # A slug already taken is a conflict with what is stored, not a bad request.
            slug_errors = data.errors.get("slug", [])
            if set(data.errors) == {"slug"} and all(e.code == "unique" for e in slug_errors):
                raise Conflict(f"slug: {slug_errors[0]}")
            raise serializers.ValidationError(data.errors)
        try:
            project = project_create(project=Project(**data.validated_data), by=request.user)
        except IntegrityError:  # the same slug, created a moment ago by someone else
            raise Conflict("slug: project with this slug already exists.") from None
        return Response(ProjectOut(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    @extend_schema(responses={200: ProjectOut, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectOut(project_for(request.user, project_id)).data)


class ItemListView(APIView):
    # Multipart only: an urlencoded form cannot carry the image.
    parser_classes = [MultiPartParser]

    @extend_schema(parameters=[PageIn], responses={200: ItemManagerOut(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        limit, offset = page_from(request)
        items = Item.objects.filter(project=project).select_related("product").order_by("id")
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
        with unusable_input("the item"):
            (item,) = items_create(project=project, new_items=[new], user=request.user)
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
        files = _read_files(request.FILES.getlist("files"))
        with unusable_input("the manifest"):
            items = items_create(
                project=project, new_items=parse_manifest(text, files), user=request.user
            )
        return Response({"created": len(items), "item_ids": [i.pk for i in items]}, status=201)


LABEL_STUDIO_TASKS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "object", "additionalProperties": True},
    "description": "Label Studio tasks, each with a data.image",
}


class LabelStudioImportView(APIView):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(
        description="Label Studio tasks: the JSON task list as the body, or as a multipart "
        "`tasks` file with the images it names as `files`.",
        request={
            "application/json": LABEL_STUDIO_TASKS,
            "multipart/form-data": LabelStudioImportIn,
        },
        responses={201: ImportOut, **ERRORS},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, PERM_DATA)
        if request.content_type.startswith("application/json"):
            tasks, files = request.data, {}
        else:
            upload = request.FILES.get("tasks")
            if upload is None:
                raise serializers.ValidationError({"tasks": "upload the Label Studio JSON file"})
            try:
                tasks = json_loads(upload.read())
            except ValueError as exc:
                raise ImportError_([f"tasks: not valid JSON ({exc})"]) from None
            files = _read_files(request.FILES.getlist("files"))
        with unusable_input("the tasks"):
            items, n = labelstudio_import(
                project=project, tasks=tasks, files=files, user=request.user
            )
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
        parameters=[AnnotationFilterIn], responses={200: AnnotationOut(many=True), **ERRORS}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Annotation]:
        user = self.request.user
        filters = AnnotationFilterIn(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = Annotation.objects.filter(project__in=projects_for(user), undone=False)
        if not has_perm(user, PERM_DASHBOARDS):
            qs = qs.filter(user=user)
        if "project" in f:
            qs = qs.filter(project_id=f["project"])
        if "item" in f:
            qs = qs.filter(item_id=f["item"])
        if "annotator" in f:
            qs = qs.filter(user__username=f["annotator"])
        if "source" in f:
            qs = qs.filter(source=f["source"])
        if "gold" in f:
            qs = qs.filter(is_gold=f["gold"])
        if "since" in f:
            qs = qs.filter(created_at__gte=f["since"])
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
        exports.export_record(project=project, fmt=fmt, user=request.user)
        if fmt == "labelstudio":
            response = Response(exports.export_labelstudio(project))
            response["Content-Disposition"] = f'attachment; filename="{project.slug}-ls.json"'
            return response
        writer = exports.export_jsonl if fmt == "jsonl" else exports.export_hf
        streaming = StreamingHttpResponse(writer(project), content_type="application/x-ndjson")
        streaming["Content-Disposition"] = f'attachment; filename="{project.slug}-{fmt}.jsonl"'
        return streaming
