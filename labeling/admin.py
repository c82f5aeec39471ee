from django.contrib import admin

from labeling.models import Annotation, Assignment, Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "kind",
        "source",
        "product",
        "is_gold",
        "claims",
        "done_count",
        "created_at",
    ]
    list_filter = ["project", "kind", "source", "is_gold"]
    search_fields = ["external_id", "product__sku", "image_sha256"]
    raw_id_fields = ["product"]
    # The image is checked and normalised by labeling.uploads on the way in, and its size
    # and hash follow from it: staff change images through the API, not here.
    readonly_fields = ["image", "image_sha256", "width", "height", "created_at"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "user", "project", "status", "created_at", "expires_at"]
    list_filter = ["status", "project"]
    search_fields = ["user__username"]
    raw_id_fields = ["item"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "item",
        "user",
        "project",
        "values",
        "is_gold",
        "gold_correct",
        "source",
        "undone",
        "created_at",
    ]
    list_filter = ["project", "source", "is_gold", "gold_correct", "undone"]
    search_fields = ["user__username", "reason"]
    raw_id_fields = ["item", "assignment"]
