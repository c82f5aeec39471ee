"""This loop's dashboard panel: per generator version, the oracle usable rate and reward on
the held-out set, RL flags, pruning depth and throughput."""

from __future__ import annotations

from jdreview.loops import Panel
from jdreview.models import Project
from labeling.models import Item
from workers.imagegen.selectors import panel_rows


def panel(project: Project) -> Panel | None:
    rows = panel_rows(project)
    if not rows:
        return None
    generated = Item.objects.filter(project=project, source=Item.Source.GENERATED)
    return Panel(
        title="Ad-image generator",
        template="imagegen/_panel.html",
        context={
            "rows": rows,
            "generated": generated.count(),
            "launched": generated.filter(decision__outcome="launch").count(),
        },
    )
