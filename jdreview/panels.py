"""Dashboard panels contributed by the loops: each registered loop (jdreview.loops) names a
``panel(project) -> Panel | None``; the dashboard shows the panels that are not None under
the project's launch-gate panel."""

from __future__ import annotations

from jdreview.loops import Panel, all_loops, resolve
from jdreview.models import Project


def extra_panels(project: Project) -> list[Panel]:
    panels = []
    for loop in all_loops():
        if not loop.panel:
            continue
        made = resolve(loop.panel)(project)
        if made is not None:
            panels.append(made)
    return panels
