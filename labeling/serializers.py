"""Input and output serializers of the labeling API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jdreview.api import id_field
from jdreview.jsonin import json_loads
from jdreview.models import Project
from jdreview.projects import PROJECT_SETTINGS
from labeling.models import Assignment, Item


class ProjectOut(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", *PROJECT_SETTINGS, "created_at"]


class ProjectIn(serializers.ModelSerializer):
    """The bounds of each setting are the model's validators (ModelSerializer reads them)."""

    class Meta:
        model = Project
        fields = list(PROJECT_SETTINGS)


class AnnotationFilterIn(serializers.Serializer):
    """The filters of the annotations list. One that is given must be valid, even empty:
    ``?since=`` is a mistake to report, not a filter to drop."""

    project = id_field(required=False)
    item = id_field(required=False)
    annotator = serializers.CharField(required=False, max_length=150, help_text="a username")
    since = serializers.DateTimeField(required=False, help_text="created at or after")
    gold = serializers.BooleanField(required=False)
    source = serializers.CharField(required=False, max_length=20, help_text="e.g. ui, api")


class ProductOut(serializers.Serializer):
    sku = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    cutout_url = serializers.SerializerMethodField()

    def get_cutout_url(self, product: Any) -> str | None:
        return product.cutout.url if product.cutout else None


class ItemOut(serializers.Serializer):
    """An item as a person may see it: never the world's recipe or ground truth.

    A plain Serializer, not a ModelSerializer: it is on the queue's hot path, and a
    ModelSerializer rebuilds its fields from the model on every instantiation."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    image_url = serializers.SerializerMethodField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    payload = serializers.JSONField()
    product = ProductOut(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_image_url(self, item: Item) -> str | None:
        return item.image.url if item.image else None


class ItemManagerOut(ItemOut):
    is_gold = serializers.BooleanField()
    done_count = serializers.IntegerField()
    claims = serializers.IntegerField()


@extend_schema_field(OpenApiTypes.STR)
class JSONTextField(serializers.Field):
    """A JSON object sent as text (multipart forms cannot nest)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            return data
        if not isinstance(data, str | bytes):
            raise serializers.ValidationError("must be a JSON object")
        try:
            value = json_loads(data) if data else {}
        except ValueError as exc:
            raise serializers.ValidationError(f"must be a JSON object ({exc})") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class ItemUploadIn(serializers.Serializer):
    image = serializers.FileField()
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    product_sku = serializers.CharField(required=False, allow_blank=True, max_length=64)
    payload = JSONTextField(required=False)
    gold_answer = JSONTextField(required=False)


class ManifestImportIn(serializers.Serializer):
    manifest = serializers.FileField(help_text="JSON lines, one item a line.")
    files = serializers.ListField(child=serializers.FileField(), required=False)


class LabelStudioImportIn(serializers.Serializer):
    tasks = serializers.FileField(help_text="Label Studio JSON task list.")
    files = serializers.ListField(child=serializers.FileField(), required=False)


class TaskOut(serializers.Serializer):
    assignment_id = serializers.IntegerField(source="pk")
    expires_at = serializers.DateTimeField()
    item = ItemOut()


class MarkIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=["point", "box"])
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField(required=False)
    h = serializers.FloatField(required=False)
    aspect = serializers.CharField(required=False)


class SubmitIn(serializers.Serializer):
    # Any JSON values: each item kind validates its own shape (a trace's steps are a list).
    values = serializers.DictField()
    marks = serializers.ListField(child=serializers.DictField(), required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    lead_time_ms = serializers.IntegerField(required=False, min_value=0)


class AnnotationOut(serializers.Serializer):
    """Plain Serializer for the same reason as ItemOut: submit answers with it."""

    id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    project_id = serializers.IntegerField()
    annotator = serializers.CharField(source="user.username")
    assignment_id = serializers.IntegerField(allow_null=True)
    values = serializers.JSONField()
    marks = serializers.JSONField()
    reason = serializers.CharField()
    lead_time_ms = serializers.IntegerField(allow_null=True)
    is_gold = serializers.BooleanField()
    gold_correct = serializers.BooleanField(allow_null=True)
    source = serializers.CharField()
    undone = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class AssignmentOut(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "item_id", "status", "expires_at"]


class ImportOut(serializers.Serializer):
    created = serializers.IntegerField()
    annotations = serializers.IntegerField(required=False)
    item_ids = serializers.ListField(child=serializers.IntegerField())
