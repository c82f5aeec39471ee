"""Projects, memberships, the product catalog and the activity log.

Roles are Django groups (see ``jdreview.roles``); what a role may do is a permission on
``Project``; which projects a person sees is ``Membership``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

# A project's queue settings are bounded: the API, the admin and any form refuse values
# outside these, and the queue clamps a stored one (a row from before the bounds) into them.
OVERLAP_MAX = 20
TTL_MIN_S, TTL_MAX_S = 30, 86_400


class Project(models.Model):
    class QueueOrder(models.TextChoices):
        RANDOM = "random", "Random"
        UNCERTAINTY = "uncertainty", "Ensemble uncertainty first"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(
        blank=True, help_text="Shown beside every item in the labeling page (plain text)."
    )
    overlap = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(OVERLAP_MAX)],
        help_text="How many different annotators label each item.",
    )
    gold_share = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of served items drawn from gold items (0 to 1).",
    )
    assignment_ttl_s = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(TTL_MIN_S), MaxValueValidator(TTL_MAX_S)],
        help_text="Seconds before an abandoned item goes back to the queue.",
    )
    queue_order = models.CharField(
        max_length=20, choices=QueueOrder.choices, default=QueueOrder.RANDOM
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("label_items", "Label items from the queue"),
            ("audit_launches", "Audit auto-launched ads"),
            ("view_dashboards", "View dashboards and statistics"),
            ("manage_models", "Train, promote and roll back models; run jobs"),
            ("manage_data", "Import items and export labels"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def assignment_ttl(self) -> timedelta:
        """How long a hold lasts, clamped to the bounds: a stored value past them (2**63 s
        is past what a date can hold) must not break the queue for everyone."""
        return timedelta(seconds=min(max(self.assignment_ttl_s, TTL_MIN_S), TTL_MAX_S))


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}"


class Product(models.Model):
    """A catalog product. World products carry a reference cut-out (RGBA PNG); the search
    catalog (query expansion) carries a description, which search indexes with the title."""

    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    price = models.FloatField(null=True, blank=True)
    category = models.CharField(max_length=100, db_index=True)
    brand = models.CharField(max_length=100, blank=True)
    color = models.CharField(max_length=50, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    cutout = models.ImageField(upload_to="cutouts/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"


class ActivityEvent(models.Model):
    """One state change of a project's data: who (a person, or a job: ``actor_job_id``),
    what (an action of ``jdreview.activity.ACTIONS``), which row, and the values before and
    after where they matter. Written by ``jdreview.activity.activity_record`` from the
    service that makes the change, in the change's own transaction.

    The job is an id, not a key: the core does not depend on the job machinery, and the
    log outlives a deleted job. ``actor_name`` keeps who it was after an account is gone.
    """

    # The indexes below lead with the project; a fourth on it alone would only cost inserts.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="activity", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    actor_job_id = models.PositiveBigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        # Every read is one project's log newest first, optionally of one person or one
        # action: each filter has an index that yields its rows already in that order.
        indexes = [
            models.Index(fields=["project", "created_at", "id"], name="activity_project_time"),
            models.Index(
                fields=["project", "actor", "created_at", "id"], name="activity_actor_time"
            ),
            models.Index(
                fields=["project", "action", "created_at", "id"], name="activity_action_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    @property
    def actor_label(self) -> str:
        """Who did it, for people: the account's name, or the job."""
        if self.actor_name:
            return self.actor_name
        if self.actor_job_id is not None:
            return f"job #{self.actor_job_id}"
        return "system"
