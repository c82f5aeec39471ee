"""Pages of the query-expansion loop: try the live model, and the loop's model page
(versions with held-out scores, a button per training phase; making a version live or
rolling back is workers.version_views, for every family)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from jdreview.access import project_for
from jdreview.http import AuthedHttpRequest
from jdreview.roles import PERM_MODELS, has_perm
from workers import services
from workers.params import ParamError, params_from_form
from workers.qe.apps import FAMILY
from workers.qe.guard import GuardSettingError, guard_threshold, guard_threshold_set
from workers.qe.search import BackendUnavailable
from workers.qe.serving import (
    ModelLoading,
    NoLiveModel,
    QueryError,
    clean_query,
    expansion_for,
)
from workers.qe.training import SERVABLE
from workers.registry import get_kind
from workers.versions import live_version, versions_of

# Buttons on the loop page: job kind -> label. Parameters are the kinds' defaults.
STARTABLE = {
    "qe_catalog": "Store the search catalog",
    "qe_pretrain": "Phase 1: pre-train",
    "qe_sft": "Phase 2: fine-tune",
    "qe_ppo": "Phase 3: PPO",
    "qe_grpo": "Phase 3: GRPO",
    "qe_review_items": "Queue expansions for review",
    "qe_relevance": "Train the term-relevance model (RL reward, serving guard)",
}


@require_GET
@login_required
def expand_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    """A search box: the live expansion of ``q`` and the results with and without it."""
    project = project_for(request.user, project_id)
    raw = request.GET.get("q")
    context: dict[str, Any] = {
        "project": project,
        "q": raw or "",
        "answer": None,
        "error": "",
        **_guard_context(request, project),
    }
    status = 200
    if raw is not None:
        try:
            context["answer"] = expansion_for(project=project, query=clean_query(raw))
        except (QueryError, BackendUnavailable) as exc:
            context["error"], status = str(exc), 400
        except NoLiveModel as exc:
            context["error"], status = str(exc), 409
        except ModelLoading as exc:
            context["error"], status = str(exc), 503
    if request.htmx:
        # htmx swaps 2xx only; the message is inside the partial.
        return render(request, "qe/_expand_result.html", context)
    response = render(request, "qe/expand.html", context, status=status)
    if status == 503:
        response["Retry-After"] = str(ModelLoading.retry_after_s)
    return response


def _guard_context(request: AuthedHttpRequest, project: Any) -> dict[str, Any]:
    return {
        "threshold": guard_threshold(project),
        "can_set_threshold": has_perm(request.user, PERM_MODELS),
        "threshold_error": "",
    }


@require_POST
@login_required
def guard_setting(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    """Set the guard threshold (managers); a bad value is a 400 showing what was typed."""
    project = project_for(request.user, project_id, PERM_MODELS)
    raw = request.POST.get("threshold", "")
    try:
        value = guard_threshold_set(project=project, value=raw, user=request.user)
    except GuardSettingError as exc:
        context = {
            "project": project,
            "q": "",
            "answer": None,
            "error": "",
            **_guard_context(request, project),
            "threshold": raw,
            "threshold_error": str(exc),
        }
        return render(request, "qe/expand.html", context, status=400)
    messages.success(request, f"Guard threshold set to {value:g}.")
    return redirect(reverse("qe:expand", args=[project.pk]))


@require_GET
@login_required
def loop_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    from workers.qe.selectors import acceptance

    versions = versions_of(project, FAMILY)
    return render(
        request,
        "qe/loop.html",
        {
            "project": project,
            "versions": versions,
            # Only RL runs (PPO, GRPO) log reward components.
            "rl_versions": [v for v in versions if v.metrics.get("reward_components")],
            "live": live_version(project, FAMILY),
            "startable": STARTABLE,
            "servable": SERVABLE,
            "trainable": ("qe_pretrain", "qe_sft", "qe_ppo", "qe_grpo"),
            "acceptance": acceptance(project),
            "jobs": project.jobs.filter(kind__startswith="qe_")[:10],
            "can_manage": has_perm(request.user, PERM_MODELS),
        },
    )


@require_POST
@login_required
def start_job(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    kind = request.POST.get("kind", "")
    back = reverse("qe:loop", args=[project.pk])
    if kind not in STARTABLE:
        messages.error(request, f"unknown job kind {kind!r}")
        return redirect(back)
    raw = params_from_form(get_kind(kind).params, request.POST)
    try:
        job = services.job_start(project=project, kind=kind, params=raw, user=request.user)
    except ParamError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, f"Started {job.kind} job #{job.pk}.")
    return redirect(reverse("workers:job", args=[job.pk]))
