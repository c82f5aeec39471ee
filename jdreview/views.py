"""Home, project overview, the managers' statistics page and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRefresh

from jdreview.access import project_for, projects_for, require_perm
from jdreview.demo_jobs import demo_progress_for
from jdreview.http import AuthedHttpRequest
from jdreview.loops import Loop, all_loops
from jdreview.models import Project
from jdreview.panels import extra_panels
from jdreview.roles import PERM_DASHBOARDS, has_perm, user_roles
from labeling import stats

# The projects list's orderings: the GET value, what the menu says, the ORM ordering.
PROJECT_ORDERS = {
    "name": ("Name", ("name", "pk")),
    "newest": ("Newest first", ("-created_at", "-pk")),
    "left": ("Most left to label", ("-n_open", "name", "pk")),
}


@require_GET
@login_required
def home(request: AuthedHttpRequest) -> HttpResponse:
    preparing = demo_progress_for(request.user)
    if request.GET.get("part") == "preparation":  # the preparation block's htmx poll
        if preparing is None or not preparing.pending:
            return HttpResponseClientRefresh()  # done: the whole page, with its new counts
        return render(request, "_demo_progress.html", {"preparing": preparing})
    query = request.GET.get("q", "").strip()[:200]
    order = request.GET.get("order", "name")
    if order not in PROJECT_ORDERS:
        order = "name"  # an old or hand-made link still shows the list, in the default order
    projects = projects_for(request.user)
    if query:
        projects = projects.filter(name__icontains=query)
    projects = projects.annotate(
        n_items=Count("items", distinct=True),
        n_open=Count("items", filter=Q(items__done_count=0), distinct=True),
        # Only ad images are gated, so only projects with some have audits to do.
        n_ad_images=Count("items", filter=Q(items__kind="ad_image"), distinct=True),
    ).order_by(*PROJECT_ORDERS[order][1])
    return render(
        request,
        "home.html",
        {
            "projects": projects,
            "roles": user_roles(request.user),
            "preparing": preparing,
            "query": query,
            "order": order,
            "orders": [(value, label) for value, (label, _) in PROJECT_ORDERS.items()],
        },
    )


@dataclass(frozen=True)
class ProjectLoops:
    """What a project takes part in: the ad-image review and launch gate (labeling and
    rewards, where new projects start) and the registered loops that are active."""

    images: bool
    loops: list[Loop]


def _loops(project: Project) -> ProjectLoops:
    kinds = set(project.items.values_list("kind", flat=True).distinct())
    families = set(project.model_versions.values_list("family", flat=True).distinct())
    images = "ad_image" in kinds or "aspect_reward" in families or not (kinds or families)
    return ProjectLoops(
        images=images, loops=[loop for loop in all_loops() if loop.is_active(kinds, families)]
    )


@require_GET
@login_required
def project_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id)
    counts = project.items.aggregate(
        items=Count("id"),
        labeled=Count("id", filter=Q(done_count__gt=0)),
        gold=Count("id", filter=Q(is_gold=True)),
        ad_images=Count("id", filter=Q(kind="ad_image")),
    )
    loops = _loops(project)
    context = {"project": project, "counts": counts, "loops": loops}
    if loops.images and has_perm(request.user, PERM_DASHBOARDS):
        from rewards.audits import gate_for
        from rewards.charts import tradeoff_svg
        from rewards.selectors import gate_metrics

        gate = gate_for(project)
        context["gate"] = gate
        context["gate_metrics"] = gate_metrics(project)
        context["chart"] = tradeoff_svg(
            gate.calibration.get("curve", []), gate.target, gate.chart_launch
        )
    return render(request, "project.html", context)


@require_GET
@login_required
def project_stats(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_DASHBOARDS)
    return render(
        request,
        "stats.html",
        {
            "project": project,
            "agreement": stats.agreement(project),
            "annotators": stats.annotator_stats(project),
        },
    )


@require_GET
@login_required
def dashboard(request: AuthedHttpRequest) -> HttpResponse:
    require_perm(request.user, PERM_DASHBOARDS)
    from rewards import selectors as reward_selectors

    panels = []
    for p in projects_for(request.user):
        panel = {
            "project": p,
            "agreement": stats.agreement(p),
            "annotators": stats.annotator_stats(p),
            "extra": extra_panels(p),
        }
        if _loops(p).images:
            panel.update(
                gate=reward_selectors.gate_metrics(p),
                gate_by_day=reward_selectors.gate_metrics_by_day(p, limit=14),
                versions=reward_selectors.versions_by_aspect(p),
            )
        panels.append(panel)
    return render(request, "dashboard.html", {"panels": panels})
