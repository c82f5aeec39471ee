from __future__ import annotations

from rest_framework import serializers

from workers.models import Job


class JobOut(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "project_id",
            "params",
            "status",
            "progress",
            "metrics",
            "log_tail",
            "artifacts",
            "error",
            "queue",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]


class JobIn(serializers.Serializer):
    kind = serializers.CharField(max_length=50)
    params = serializers.DictField(required=False, default=dict)
