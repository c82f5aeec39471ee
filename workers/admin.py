from django.contrib import admin

from workers.models import Job, ModelVersion


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "project",
        "status",
        "percent",
        "attempts",
        "queue",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind", "queue", "project"]
    search_fields = ["kind", "error"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    # Read-only here: promotion must go through model_version_promote (it checks the
    # artifact and swaps the live version atomically), not an edited status field.
    list_display = [
        "id",
        "project",
        "family",
        "slot",
        "version",
        "name",
        "status",
        "created_at",
        "promoted_at",
        "promoted_by",
    ]
    list_filter = ["family", "status", "project"]
    readonly_fields = [
        "status",
        "artifact",
        "config",
        "metrics",
        "label_snapshot",
        "loss_curve",
        "created_at",
        "promoted_at",
        "promoted_by",
    ]
    raw_id_fields = ["parent", "job"]
