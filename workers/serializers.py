from __future__ import annotations

from typing import Any

from rest_framework import serializers

from workers.models import Job
from workers.registry import all_kinds


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
    kind = serializers.ChoiceField(choices=[])
    params = serializers.DictField(
        required=False, default=dict, help_text="checked by the job kind (workers/params.py)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read from the registry when asked, not at import: kinds register as apps load.
        self.fields["kind"].choices = sorted(all_kinds())
