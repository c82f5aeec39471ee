"""Pages of this loop: the agent-evaluation overview (import, generate, score, train, the
per-trace scores) and the base vs DPO vs explicit comparison, with the policy versions
(made live or rolled back by workers.version_views, as every family's are).

Function views; a page renders whole, or just its table partial for htmx; every form also
works as a plain POST.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from jdreview.access import project_for, require_perm
from jdreview.http import AuthedHttpRequest
from jdreview.models import Project
from jdreview.roles import PERM_DASHBOARDS, PERM_DATA, PERM_MODELS, has_perm
from labeling.models import Item
from workers import services as job_services
from workers.agents import selectors
from workers.agents.apps import KIND as TRACE_KIND
from workers.agents.traces.services import TraceImportError, traces_import
from workers.params import ParamError, params_from_form
from workers.registry import all_kinds

PAGE_SIZE = 25
# The jobs this page starts; their form fields are the kinds' parameters.
JOB_KINDS = (
    "agent_generate_traces",
    "agent_score",
    "agent_train_base",
    "agent_train_dpo",
    "agent_train_explicit",
)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _scores_page(request: AuthedHttpRequest, project: Project) -> dict[str, Any]:
    job = selectors.latest_scores(project)
    items = Item.objects.filter(project=project, kind=TRACE_KIND).only(
        "id", "payload", "done_count", "source"
    )
    page = Paginator(items.order_by("id"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = selectors.score_rows(job, list(page.object_list)) if job else []
    return {"score_job": job, "page": page, "rows": rows}


def _overview(
    request: AuthedHttpRequest,
    project: Project,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"project": project, **_scores_page(request, project)}
    if request.htmx and request.GET.get("page"):
        return render(request, "agents/_traces.html", context)
    job = context["score_job"]
    kinds = all_kinds()
    context.update(
        counts=selectors.trace_counts(project),
        agents=selectors.agent_rows(job.metrics) if job else [],
        history=selectors.score_jobs(project),
        versions=selectors.policy_versions(project),
        titles={k: kinds[k].title for k in JOB_KINDS},
        errors=errors or [],
    )
    return render(request, "agents/overview.html", context, status=status)


@require_GET
@login_required
def overview(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_DASHBOARDS)
    return _overview(request, project)


@require_POST
@login_required
def trace_import(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_DATA)
    require_perm(request.user, PERM_DASHBOARDS)  # the page it answers with
    upload = request.FILES.get("file")
    text = request.POST.get("text", "")
    errors: list[str] = []
    if upload is not None:
        if (upload.size or 0) > MAX_UPLOAD_BYTES:
            errors = [f"the file is over {MAX_UPLOAD_BYTES // 2**20} MB; split it"]
        else:
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                errors = ["the file is not UTF-8 text"]
    if not errors:
        try:
            items = traces_import(project=project, text=text, user=request.user)
        except TraceImportError as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Imported {len(items)} traces into the review queue.")
            return redirect(reverse("agents:overview", args=[project.pk]))
    return _overview(request, project, errors=["Nothing was imported.", *errors], status=400)


@require_POST
@login_required
def job_start(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    require_perm(request.user, PERM_DASHBOARDS)
    kind = request.POST.get("kind", "")
    if kind not in JOB_KINDS:
        return _overview(request, project, errors=[f"unknown job kind {kind!r}"], status=400)
    params = params_from_form(all_kinds()[kind].params, request.POST)
    try:
        job = job_services.job_start(project=project, kind=kind, params=params, user=request.user)
    except ParamError as exc:
        return _overview(request, project, errors=[str(exc)], status=400)
    messages.success(request, f"Started {job.kind} job #{job.pk}.")
    return redirect(reverse("workers:job", args=[job.pk]))


@require_GET
@login_required
def trace_detail(request: AuthedHttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """One trace with the scorers' step labels beside each reviewer's verdicts and notes
    (the world's ground truth stays hidden here too)."""
    project = project_for(request.user, project_id, PERM_DASHBOARDS)
    item = get_object_or_404(Item, pk=item_id, project=project, kind=TRACE_KIND)
    job = selectors.latest_scores(project)
    return render(
        request,
        "agents/trace.html",
        {"project": project, "item": item, **selectors.trace_review(item, job)},
    )


@require_GET
@login_required
def compare(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_DASHBOARDS)
    rows = selectors.comparison(project)
    present = {r["label"] for r in rows}
    kinds = all_kinds()
    return render(
        request,
        "agents/compare.html",
        {
            "project": project,
            "rows": rows,
            # The policies not trained yet, each explained with the button that trains it.
            "missing": [name for name in ("dpo", "explicit") if name not in present],
            "titles": {k: kinds[k].title for k in JOB_KINDS},
            "versions": selectors.policy_versions(project),
            "can_manage": has_perm(request.user, PERM_MODELS),
        },
    )
