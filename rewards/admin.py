from django.contrib import admin

from rewards.models import Audit, Decision, Gate, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "aspect",
        "version",
        "status",
        "created_at",
        "promoted_at",
        "promoted_by",
    ]
    list_filter = ["project", "aspect", "status"]
    readonly_fields = ["artifact", "label_snapshot", "metrics", "loss_curve", "created_at"]


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
