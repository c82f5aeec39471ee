"""Every long job is a row: the UI polls it for a progress bar, metrics and a log tail."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jdreview.models import Project


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=50, db_index=True)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0)
    metrics = models.JSONField(default=dict, blank=True)
    log_tail = models.TextField(blank=True)
    artifacts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    queue = models.CharField(max_length=20, default="cpu")
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid running it")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the dispatcher last sent it to the broker again (the first send "
        "follows creation).",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return round(self.progress * 100)


class PipelineVersion(models.Model):
    """A saved model of one of the long pipelines: an image generator, a query-expansion
    language model, an agent policy. Reward models (per aspect, behind the launch gate)
    have their own registry in ``rewards``; these are what the workers train and serve.

    ``artifact`` is a folder under the artifact root in the library's own format
    (``save_pretrained``). At most one version per (project, family) is live: the one the
    app serves (expansions, generated ads, the agent under evaluation).
    """

    class Family(models.TextChoices):
        GENERATOR = "generator", "Image generator"
        QUERY_EXPANSION = "query_expansion", "Query-expansion model"
        AGENT_POLICY = "agent_policy", "Agent policy"

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pipeline_versions")
    family = models.CharField(max_length=30, choices=Family.choices)
    version = models.PositiveIntegerField()
    name = models.CharField(
        max_length=100, help_text="What made it: 'pretrain', 'sft', 'ppo', 'rl', 'pruned'…"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CANDIDATE)
    config = models.JSONField(default=dict, blank=True)
    artifact = models.CharField(max_length=500, help_text="Folder under the artifact root.")
    metrics = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "family", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "family", "version"], name="unique_pipeline_version"
            ),
            models.UniqueConstraint(
                fields=["project", "family"],
                condition=models.Q(status="live"),
                name="one_live_pipeline_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_family_display()} v{self.version} {self.name} ({self.status})"
