"""This loop's dashboard panel."""

from __future__ import annotations

from jdreview.models import Project
from jdreview.panels import Panel


def panel(project: Project) -> Panel | None:
    return None
