"""Job pages: a job's progress bar (polled by htmx), and a project's jobs with start forms."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from jdreview.access import project_for, projects_for, require_perm
from jdreview.http import AuthedHttpRequest
from jdreview.roles import PERM_MODELS
from workers import services
from workers.models import Job
from workers.params import ParamError, clean_params
from workers.registry import all_kinds

STARTABLE = {
    "seed_world": ["images", "seed"],
    "simulate_labels": ["reviewers", "labels", "seed"],
    "export": ["format"],
}


def _job_for(request: AuthedHttpRequest, job_id: int) -> Job:
    require_perm(request.user, PERM_MODELS)
    job = Job.objects.filter(pk=job_id, project__in=projects_for(request.user)).first()
    if job is None:
        raise Http404("no such job")
    return job


@require_GET
@login_required
def job_page(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    services.jobs_reap_stale()
    return render(request, "workers/job.html", {"job": _job_for(request, job_id)})


@require_GET
@login_required
def job_progress(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    services.jobs_reap_stale()
    return render(request, "workers/_progress.html", {"job": _job_for(request, job_id)})


@require_http_methods(["GET", "POST"])
@login_required
def project_jobs(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    error = ""
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in STARTABLE or kind not in all_kinds():
            error = f"unknown job kind {kind!r}"
        else:
            raw = {k: request.POST[k] for k in STARTABLE[kind] if request.POST.get(k)}
            try:
                params = clean_params(kind, raw)
            except ParamError as exc:
                error = str(exc)
            else:
                job = services.job_create(
                    kind=kind, params=params, project=project, user=request.user
                )
                messages.success(request, f"Started {job.kind} job #{job.pk}.")
                return redirect(reverse("workers:job", args=[job.pk]))
    services.jobs_reap_stale()
    return render(
        request,
        "workers/project_jobs.html",
        {
            "project": project,
            "jobs": project.jobs.all()[:50],
            "error": error,
            "kinds": {k: all_kinds()[k].title for k in STARTABLE},
        },
        status=400 if error else 200,
    )
