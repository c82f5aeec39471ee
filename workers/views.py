"""Job pages: a job's progress bar (polled by htmx), and a project's jobs with a start form
for every kind, rendered from the kind's parameters.

These GET views only read: stale jobs are failed by beat (workers.tasks.reap_stale_jobs,
every minute), never by a page load or a progress poll.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from jdreview.access import project_for, projects_for, require_perm
from jdreview.http import AuthedHttpRequest
from jdreview.roles import PERM_DATA, PERM_MODELS, has_perm
from workers import services
from workers.models import Job, ModelVersion
from workers.params import ParamError, params_from_form
from workers.registry import offered_kinds
from workers.versions import family_page


def _job_for(request: AuthedHttpRequest, job_id: int) -> Job:
    require_perm(request.user, PERM_MODELS)
    job = Job.objects.filter(pk=job_id, project__in=projects_for(request.user)).first()
    if job is None:
        raise Http404("no such job")
    return job


def _made(request: AuthedHttpRequest, job: Job) -> list[tuple[str, str]]:
    """Links to what a finished job made that this person may open: the model versions it
    registered (on their family's page) and its export file (people who manage data)."""
    if job.project is None or not job.is_finished:
        return []
    links: list[tuple[str, str]] = []
    for v in ModelVersion.objects.filter(job=job, project=job.project).order_by("pk"):
        page = family_page(v.family)
        if page is None:
            continue
        name, by_id = page
        try:
            url = reverse(name, args=[job.project.pk, v.pk] if by_id else [job.project.pk])
        except NoReverseMatch:
            continue
        links.append((str(v), url))
    artifacts = job.artifacts if isinstance(job.artifacts, dict) else {}
    file = artifacts.get("file")
    if isinstance(file, str) and file and has_perm(request.user, PERM_DATA):
        links.append((file.rsplit("/", 1)[-1], reverse("media", args=[file])))
    return links


def _job_context(request: AuthedHttpRequest, job_id: int) -> dict[str, object]:
    job = _job_for(request, job_id)
    return {"job": job, "made": _made(request, job)}


@require_GET
@login_required
def job_page(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    return render(request, "workers/job.html", _job_context(request, job_id))


@require_GET
@login_required
def job_progress(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    return render(request, "workers/_progress.html", _job_context(request, job_id))


@require_http_methods(["GET", "POST"])
@login_required
def project_jobs(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    kinds = offered_kinds()
    error = ""
    kind = ""
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        job_kind = kinds.get(kind)
        raw = params_from_form(job_kind.params, request.POST) if job_kind else {}
        try:
            if job_kind is None:  # an unknown kind, or one only the app starts
                raise ParamError(f"unknown job kind {kind!r}")
            job = services.job_start(project=project, kind=kind, params=raw, user=request.user)
        except ParamError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Started {job.kind} job #{job.pk}.")
            return redirect(reverse("workers:job", args=[job.pk]))
    return render(
        request,
        "workers/project_jobs.html",
        {
            "project": project,
            "jobs": project.jobs.all()[:50],
            "error": error,
            "kinds": sorted(kinds.values(), key=lambda k: k.name),
            "open_kind": kind,
        },
        status=400 if error else 200,
    )
