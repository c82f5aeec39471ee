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
    request_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The X-Request-ID of the request (or the job) that started it.",
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


class ModelVersion(models.Model):
    """The one registry of trained models: a saved model of one family (an aspect reward
    model, an image generator, a query-expansion language model, an agent policy) with its
    evaluation and where it stands.

    ``artifact`` is a folder under the artifact root in the library's own format, unique
    per version and never rewritten (``workers/versions.py`` writes it). ``slot`` names what
    has one live version inside a family: the aspect of a reward model, "" for families
    with a single live model. At most one version per (project, family, slot) is live.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired"
        # Its artifact failed the family's check when read back: it can never go live.
        REJECTED = "rejected", "Rejected"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    # Registered by the app that trains it (workers.versions.family_register).
    family = models.CharField(max_length=30)
    slot = models.CharField(
        max_length=50, blank=True, default="", help_text="The aspect of a reward model."
    )
    version = models.PositiveIntegerField()
    name = models.CharField(
        max_length=100,
        help_text="What made it: 'train', 'pretrain', 'sft', 'ppo', 'rl', 'pruned'…",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CANDIDATE)
    config = models.JSONField(default=dict, blank=True)
    artifact = models.CharField(max_length=500, help_text="Folder under the artifact root.")
    metrics = models.JSONField(default=dict, blank=True)
    label_snapshot = models.JSONField(
        default=dict, blank=True, help_text="Which labels it was trained on."
    )
    loss_curve = models.JSONField(default=list, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="promoted_model_versions",
    )
    promotion_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["project", "family", "slot", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "family", "slot", "version"], name="unique_version_per_slot"
            ),
            models.UniqueConstraint(
                fields=["project", "family", "slot"],
                condition=models.Q(status="live"),
                name="one_live_version_per_slot",
            ),
        ]

    def __str__(self) -> str:
        slot = f" {self.slot}" if self.slot else ""
        return f"{self.family}{slot} v{self.version} {self.name} ({self.status})"

    @property
    def aspect(self) -> str:
        """The aspect of a reward model (its slot), as the reward pages and jobs call it."""
        return self.slot


class Heartbeat(models.Model):
    """When a periodic sign of life was last seen: ``queue:<name>`` by a worker serving that
    queue, ``beat`` by the scheduler. Read by /readyz (jdreview/health.py); a table, not
    the cache, because the embedded default's cache is per process."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
