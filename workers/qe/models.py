"""Settings of the query-expansion loop, one row per project (made on first write)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from jdreview.models import Project

# P(relevant) below which the serving guard drops an added term: the relevance model's own
# decision boundary (a logistic regression says "drifting" below 0.5).
GUARD_THRESHOLD_DEFAULT = 0.5


class QESettings(models.Model):
    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="qe_settings")
    guard_threshold = models.FloatField(
        default=GUARD_THRESHOLD_DEFAULT,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Added terms the term-relevance model rates below this P(relevant) are "
        "dropped before search (0: keep every term; 1: drop all but certain ones).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "query-expansion settings"
        verbose_name_plural = "query-expansion settings"

    def __str__(self) -> str:
        return f"query-expansion settings of {self.project}"
