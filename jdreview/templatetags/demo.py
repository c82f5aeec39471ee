"""``{% demo_preparing project %}``: on a loop's page, a line saying the project's demo data
is being prepared (with its progress and a link to the job) until its part of the
``seed_demo`` job is done (jdreview.demo_jobs). Renders nothing once the demo is ready, or
on a site with no demo. ``{% demo_preparing project "imagegen" %}`` waits on one loop's
part only."""

from __future__ import annotations

from typing import Any

from django import template

from jdreview.demo_jobs import demo_progress_for
from jdreview.models import Project

register = template.Library()


@register.inclusion_tag("_preparing.html", takes_context=True)
def demo_preparing(context: dict[str, Any], project: Project, part: str = "") -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not isinstance(project, Project):
        return {}
    progress = demo_progress_for(user)
    if progress is None:
        return {}
    waiting = [
        p
        for p in progress.parts
        if p.project_id == project.pk and p.status != "done" and (not part or p.name == part)
    ]
    if not waiting:
        return {}
    return {"part": waiting[0], "job": progress.job, "link": progress.job_visible}
