"""This loop's dashboard panel: held-out recall@10 / precision@10 per version and phase,
reward components over RL training, reviewers' acceptance of expansion terms."""

from __future__ import annotations

from jdreview.loops import Panel
from jdreview.models import Project
from workers.qe.apps import FAMILY, KIND
from workers.qe.charts import reward_svg
from workers.qe.selectors import acceptance
from workers.versions import versions_of


def panel(project: Project) -> Panel | None:
    versions = versions_of(project, FAMILY)
    has_items = project.items.filter(kind=KIND).exists()
    if not versions and not has_items:
        return None
    rl = [v for v in versions if v.metrics.get("reward_components")]
    return Panel(
        title="Query expansion",
        template="qe/_panel.html",
        context={
            "versions": versions,
            "rl_versions": rl,
            "charts": [
                (v, reward_svg(v.metrics.get("curve", []), list(v.metrics["reward_components"])))
                for v in rl[:3]
            ],
            "acceptance": acceptance(project),
        },
    )
