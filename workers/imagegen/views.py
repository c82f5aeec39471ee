"""Pages of the image generator: versions (train, refine, prune; made live or rolled back
by workers.version_views, as every family's are), one version with its RL report or
pruning analysis (ε can be changed and the analysis rerun here,
without training), side-by-side comparison, and product pages that ask for ads.

Jobs are started through workers.services.job_start (the same checks as the jobs API);
nothing heavy runs in a request.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from jdreview.access import project_for
from jdreview.http import AuthedHttpRequest
from jdreview.models import Project
from jdreview.roles import PERM_DASHBOARDS, PERM_MODELS, has_perm
from workers import services as job_services
from workers.imagegen import charts, selectors
from workers.imagegen.evaluation import sample_file, samples_of
from workers.params import ParamError, params_from_form
from workers.registry import get_kind

# The job kind each start action runs; its form fields are the kind's parameters.
ACTIONS = {"train": "generator_train", "rl": "generator_rl", "prune": "generator_prune"}


def _start(
    request: AuthedHttpRequest, project: Project, kind: str, raw: dict[str, Any]
) -> HttpResponse | str:
    """Start a job from form values: a redirect to its page, or the error to show."""
    try:
        version = get_kind(kind).params_clean(raw).get("version")
        # The runner checks the version too; here the person hears it before a job exists.
        if version is not None:
            try:
                selectors.generator_version(project, version)
            except Http404:
                return "that generator version does not belong to this project"
        job = job_services.job_start(project=project, kind=kind, params=raw, user=request.user)
    except ParamError as exc:
        return str(exc)
    messages.success(request, f"Started {kind} job #{job.pk}.")
    return redirect(reverse("workers:job", args=[job.pk]))


def _generators_context(project: Project) -> dict[str, Any]:
    versions = selectors.generator_versions(project)
    return {
        "project": project,
        "versions": versions,
        "default_a": versions[1].pk if len(versions) > 1 else None,
        "default_b": versions[0].pk if versions else None,
    }


@require_http_methods(["GET", "POST"])
@login_required
def generators_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action in ACTIONS:
            kind = ACTIONS[action]
            raw = params_from_form(get_kind(kind).params, request.POST)
            started = _start(request, project, kind, raw)
            if not isinstance(started, str):
                return started
            error = started
        else:
            error = f"unknown action {action!r}"
    context = {**_generators_context(project), "error": error}
    return render(request, "imagegen/generators.html", context, status=400 if error else 200)


def _eps_from(request: AuthedHttpRequest) -> tuple[float | None, str]:
    raw = request.GET.get("eps", "").strip()
    if not raw:
        return None, ""
    try:
        return get_kind("generator_prune").params_clean({"eps": raw})["eps"], ""
    except ParamError as exc:
        return None, str(exc)


@require_GET
@login_required
def version_page(request: AuthedHttpRequest, project_id: int, version_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    version = selectors.generator_version(project, version_id)
    eps, error = _eps_from(request)
    pruning = selectors.pruning_view(version, eps)
    rl = version.metrics.get("rl")
    context = {
        "project": project,
        "version": version,
        "rl": rl,
        "pruning": pruning,
        "pr": version.metrics.get("pruning"),
        "error": error,
        "samples": samples_of(version),
        "pruning_chart": charts.pruning_svg(
            pruning.influence, pruning.smoothed, pruning.critical, pruning.remove
        )
        if pruning
        else "",
        "reward_chart": charts.curve_svg(rl["train_rewards"], "RL step: mean reward of the batch")
        if rl
        else "",
        "loss_chart": charts.curve_svg(
            version.metrics.get("loss_curve") or [], "training step: denoising loss"
        ),
    }
    template = "imagegen/_pruning.html" if request.htmx and pruning else "imagegen/version.html"
    return render(request, template, context, status=400 if error else 200)


@require_GET
@login_required
def sample_image(
    request: AuthedHttpRequest, project_id: int, version_id: int, index: int
) -> FileResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    version = selectors.generator_version(project, version_id)
    path = sample_file(version, index)
    if path is None:
        raise Http404("no such sample")
    return FileResponse(path.open("rb"), content_type="image/png")


@require_GET
@login_required
def compare_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    """Two versions' ads for the same held-out products and seeds, side by side (the ads
    were generated and saved when each version was)."""
    project = project_for(request.user, project_id, PERM_MODELS)
    versions = selectors.generator_versions(project)
    a_id, b_id = request.GET.get("a", ""), request.GET.get("b", "")
    if not a_id or not b_id:
        context = {"project": project, "versions": versions, "pairs": [], "error": ""}
        if len(versions) >= 2:
            context.update(a=versions[1], b=versions[0])
        return render(request, "imagegen/compare.html", context)
    a = selectors.generator_version(project, a_id)
    b = selectors.generator_version(project, b_id)
    left = {(s["sku"], s["seed"]): s for s in samples_of(a)}
    pairs = [(left[k], s) for s in samples_of(b) if (k := (s["sku"], s["seed"])) in left]
    return render(
        request,
        "imagegen/compare.html",
        {"project": project, "versions": versions, "a": a, "b": b, "pairs": pairs, "error": ""},
    )


@require_GET
@login_required
def products_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_DASHBOARDS)
    return render(
        request,
        "imagegen/products.html",
        {"project": project, "products": selectors.catalog_with_counts(project)},
    )


@require_http_methods(["GET", "POST"])
@login_required
def product_page(request: AuthedHttpRequest, project_id: int, product_id: int) -> HttpResponse:
    """A product, its generated ads with their gate outcomes, and (for people who run jobs)
    a form asking for N ads, or for regeneration until the gate launches one."""
    project = project_for(request.user, project_id, PERM_DASHBOARDS)
    product = selectors.product_for(product_id)
    can_generate = has_perm(request.user, PERM_MODELS)
    error = ""
    if request.method == "POST":
        if not can_generate:
            raise PermissionDenied("your role cannot manage models or jobs")
        if not product.cutout:
            error = "this product has no reference cut-out to generate from"
        else:
            form = params_from_form(get_kind("generate_ads").params, request.POST)
            raw = {**form, "product": product.pk}
            started = _start(request, project, "generate_ads", raw)
            if not isinstance(started, str):
                return started
            error = started
    versions = selectors.generator_versions(project)
    context = {
        "project": project,
        "product": product,
        "ads": selectors.product_ads(project, product),
        "counts": selectors.product_ad_counts(project, product),
        "can_generate": can_generate,
        "versions": versions,
        "error": error,
    }
    template = "imagegen/_product_ads.html" if request.htmx else "imagegen/product.html"
    return render(request, template, context, status=400 if error else 200)
