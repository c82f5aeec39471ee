from django.contrib import admin

from workers.models import Job


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
