"""The launch gate of each project, per-image decisions, audits. The reward models
themselves are versions in the one model registry (``workers.ModelVersion``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jdreview.models import Project
from labeling.models import Item


class Gate(models.Model):
    """A project's launch gate: its target, its calibrated thresholds, and audit sampling."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="gate")
    target = models.FloatField(default=0.98, help_text="Usable rate among launched images.")
    confidence = models.FloatField(default=0.95, help_text="Confidence of the lower bound.")
    thresholds = models.JSONField(default=dict, blank=True)
    calibration = models.JSONField(default=dict, blank=True, help_text="Curve and summary.")
    model_versions = models.JSONField(
        default=dict, blank=True, help_text="aspect → version it was calibrated with"
    )
    calibrated_at = models.DateTimeField(null=True, blank=True)
    audit_launched_rate = models.FloatField(default=0.1)
    audit_other_rate = models.FloatField(default=0.03)
    retrain_after_labels = models.PositiveIntegerField(
        default=500, help_text="Retrain when this many new labels have arrived."
    )

    def __str__(self) -> str:
        return f"gate of {self.project}"

    @property
    def chart_launch(self) -> float | None:
        """The launch threshold of the population the stored curve is of (the largest
        calibrated one: ``calibration["primary"]``), for the trade-off chart's point."""
        primary = self.calibration.get("primary") or ""
        return (self.calibration.get("populations") or {}).get(primary, {}).get("launch")


class Decision(models.Model):
    """The ensemble's scores for an image and what the gate decided."""

    class Outcome(models.TextChoices):
        LAUNCH = "launch", "Launch"
        REVIEW = "review", "Human review"
        REJECT = "reject", "Reject"

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="decision")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="decisions")
    scores = models.JSONField(help_text="aspect → P(defect-free)")
    model_versions = models.JSONField(help_text="aspect → version id used")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, db_index=True)
    driver = models.CharField(max_length=50, blank=True, help_text="Aspect that decided it.")
    reason = models.CharField(max_length=300, blank=True)
    decided_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.item}: {self.outcome}"


class Audit(models.Model):
    """An ops reviewer's check of a gate decision, sampled at a known rate."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        OVERRIDDEN = "overridden", "Overridden"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="audits")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audits")
    outcome = models.CharField(max_length=10, choices=Decision.Outcome.choices)
    sample_rate = models.FloatField(help_text="Probability with which it was sampled.")
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    usable = models.BooleanField(null=True, blank=True, help_text="The reviewer's verdict.")
    values = models.JSONField(default=dict, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="held_audits",
    )
    held_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(status="pending"), name="one_pending_audit_per_item"
            ),
        ]

    def __str__(self) -> str:
        return f"audit of {self.item} ({self.status})"
