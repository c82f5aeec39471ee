"""This loop's dashboard panel: local and end-to-end scores per agent version and over
time, pass^k, and the split of failures into reasoning and execution."""

from __future__ import annotations

from jdreview.loops import Panel
from jdreview.models import Project
from workers.agents import selectors

HISTORY_RUNS = 10


def panel(project: Project) -> Panel | None:
    if not selectors.has_traces(project) and not selectors.policy_versions(project):
        return None
    runs = selectors.score_jobs(project, limit=HISTORY_RUNS)
    history = [
        {"at": job.finished_at, "agent": agent, "local": s.get("local"), "e2e": s.get("e2e")}
        for job in runs
        for agent, s in (job.metrics.get("agents") or {}).items()
    ]
    latest = runs[0] if runs else None
    return Panel(
        title="Agent evaluation",
        template="agents/_panel.html",
        context={
            "latest": latest,
            "agents": selectors.agent_rows(latest.metrics) if latest else [],
            "versions": selectors.comparison(project),
            "history": history,
        },
    )
