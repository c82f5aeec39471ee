"""Dashboard panels contributed by each loop (image generation, query expansion, agents).

Each module in ``PANEL_MODULES`` has ``panel(project) -> Panel | None``; the dashboard
shows the panels that are not None under the project's launch-gate panel.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from jdreview.models import Project

PANEL_MODULES = ("workers.imagegen.panels", "workers.qe.panels", "workers.agents.panels")


@dataclass(frozen=True)
class Panel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def extra_panels(project: Project) -> list[Panel]:
    panels = []
    for name in PANEL_MODULES:
        made = importlib.import_module(name).panel(project)
        if made is not None:
            panels.append(made)
    return panels
