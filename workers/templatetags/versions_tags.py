from __future__ import annotations

from collections.abc import Iterable

from django import template

from workers.models import ModelVersion
from workers.version_views import with_rollback as _with_rollback

register = template.Library()


@register.filter
def with_rollback(versions: Iterable[ModelVersion]) -> list[ModelVersion]:
    """``{% for v in versions|with_rollback %}``: each live version knows what a rollback
    would bring back (``v.rollback_to``)."""
    return _with_rollback(versions)
