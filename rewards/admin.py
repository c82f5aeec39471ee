from django.contrib import admin

from rewards.models import Audit, Decision, Gate


@admin.register(Gate)
class GateAdmin(admin.ModelAdmin):
    list_display = [
        "project",
        "target",
        "confidence",
        "calibrated_at",
        "audit_launched_rate",
        "audit_other_rate",
        "retrain_after_labels",
    ]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["item", "project", "outcome", "driver", "decided_at"]
    list_filter = ["project", "outcome", "driver"]
    raw_id_fields = ["item"]


@admin.register(Audit)
class AuditAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "item",
        "project",
        "outcome",
        "status",
        "usable",
        "reviewer",
        "created_at",
        "decided_at",
    ]
    list_filter = ["project", "outcome", "status"]
    raw_id_fields = ["item"]
