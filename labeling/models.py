"""Reviewable items, their queue assignments and the annotations people make."""

from __future__ import annotations

import random

from django.conf import settings
from django.db import models
from django.db.models import Q

from jdreview.models import Product, Project

# Items no person has judged: nobody labeled them and they are not gold (whose answer is
# known). The launch gate decides only these; the others are the reviewers' to decide.
UNJUDGED = Q(done_count=0, is_gold=False)


def _random_priority() -> float:
    return random.random()


# The review kind of this app; a loop's kinds are named in the loop's folder (its apps.py)
# and registered with labeling.kinds, so no list of kinds is kept here.
AD_IMAGE = "ad_image"


class Item(models.Model):
    class Source(models.TextChoices):
        WORLD = "world", "Benchmark world"
        UPLOAD = "upload", "Upload"
        IMPORT = "import", "Import"
        GENERATED = "generated", "Generated"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(
        max_length=20, default=AD_IMAGE, help_text="A review kind registered in labeling.kinds."
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOAD)
    external_id = models.CharField(max_length=200, blank=True, default="")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    image = models.ImageField(upload_to="items/%Y/%m/", blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # What annotators may see (prompt, title, query text, trace...).
    payload = models.JSONField(default=dict, blank=True)
    # Ground truth of the benchmark world: how the item was made and its true verdicts.
    # Never rendered to annotators; used by benchmarks, the oracle and the demo.
    recipe = models.JSONField(default=dict, blank=True)
    truth = models.JSONField(default=dict, blank=True)
    # Where the product was found in the image by the shape aspect's alignment
    # ({"box": [x, y, w, h], "ref": cut-out file, "version": rewards.ml.align.VERSION}),
    # kept when the image is scored so that retraining crops instead of searching again.
    located = models.JSONField(default=dict, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(default=dict, blank=True)
    # Slots taken: active assignments plus submitted annotations. The queue claims a slot
    # with a conditional UPDATE (claims < overlap), which is what keeps an item from going
    # to more annotators than the project's overlap.
    claims = models.PositiveIntegerField(default=0)
    # False once the launch gate has launched or rejected the item without a human: it
    # then leaves the annotators' queue (ops see a sample of those in the audit queue).
    queued = models.BooleanField(default=True)
    done_count = models.PositiveIntegerField(default=0)
    # Queue order, ascending: random by default; the reward models may lower it for
    # uncertain items (active learning).
    priority = models.FloatField(default=_random_priority)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["project", "queued", "is_gold", "claims", "priority"], name="queue_idx"
            ),
            # Every image request is checked against the item that owns the file.
            models.Index(fields=["image"], name="item_image_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=~Q(external_id=""),
                name="unique_external_id_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} #{self.pk}"


class Assignment(models.Model):
    """One person's hold on one item. There is at most one row per (item, user)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="one_assignment_per_item_user")
        ]
        indexes = [
            models.Index(fields=["user", "project", "status"], name="assignment_user_idx"),
            models.Index(fields=["project", "status", "expires_at"], name="assignment_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.item} ({self.status})"


class Annotation(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    values = models.JSONField(help_text="Per-aspect verdicts, e.g. {'shape': 'ok', ...}.")
    marks = models.JSONField(default=list, blank=True, help_text="Points/boxes in image pixels.")
    reason = models.TextField(blank=True)
    lead_time_ms = models.PositiveIntegerField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_correct = models.BooleanField(null=True, blank=True)
    source = models.CharField(max_length=20, default="ui")
    undone = models.BooleanField(default=False)
    undone_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Idempotent submit: one live annotation per assignment.
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(undone=False) & Q(assignment__isnull=False),
                name="one_live_annotation_per_assignment",
            )
        ]
        indexes = [
            models.Index(fields=["project", "user", "created_at"], name="annotation_user_idx"),
            models.Index(fields=["item", "undone"], name="annotation_item_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.item}"
