"""Pages of the rewards app: model versions and the launch gate (managers), the ops audit
queue (ops reviewers)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from jdreview.access import project_for
from jdreview.http import AuthedHttpRequest
from jdreview.models import Project
from jdreview.roles import PERM_AUDIT, PERM_MODELS
from labeling.schemas import AD_ASPECTS
from labeling.services import QueueError
from rewards import audits, scoring, selectors
from rewards.charts import tradeoff_svg
from rewards.models import Audit, Decision
from rewards.training import labels_since_last_training
from workers.services import job_create, job_start


@require_GET
@login_required
def models_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_MODELS)
    return _render_models(request, project)


def _render_models(
    request: AuthedHttpRequest,
    project: Project,
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> HttpResponse:
    gate = audits.gate_for(project)
    populations = scoring.gate_populations(project, gate)
    primary = gate.calibration.get("primary")
    return render(
        request,
        "rewards/models.html",
        {
            "project": project,
            "gate": gate,
            "versions": selectors.versions_by_aspect(project),
            "metrics": selectors.gate_metrics(project),
            "new_labels": labels_since_last_training(project),
            "populations": populations,
            "primary": primary,
            # After a refused save the form shows what was typed, not the stored values.
            "typed": typed,
            # The chart is the largest calibrated population's trade-off, with its point.
            "chart": tradeoff_svg(
                gate.calibration.get("curve", []),
                gate.target,
                gate.chart_launch,
            ),
        },
        status=status,
    )


@require_POST
@login_required
def gate_settings(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    """A manager changes the gate's target, confidence, audit shares or retraining
    threshold; a new target or confidence recalibrates the gate in a job."""
    project = project_for(request.user, project_id, PERM_MODELS)
    try:
        with transaction.atomic():
            _, recalibrate = audits.gate_settings_update(
                project=project, values=request.POST, user=request.user
            )
            if recalibrate:
                job_create(kind="calibrate_gate", params={}, project=project, user=request.user)
    except ValueError as exc:
        messages.error(request, f"Gate settings not saved: {exc}")
        typed = {
            field: request.POST.get(field, "")
            for field in [*audits.GATE_SETTINGS, "retrain_after_labels"]
        }
        return _render_models(request, project, status=400, typed=typed)
    messages.success(
        request,
        "Gate settings saved" + ("; the gate is being recalibrated." if recalibrate else "."),
    )
    return redirect(reverse("rewards:models", args=[project.pk]))


@require_POST
@login_required
def model_action(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    """The gate's jobs: retrain, recalibrate, score. (A version is made live or rolled back
    by workers.version_views, which recalibrates the gate through rewards.apps.)"""
    project = project_for(request.user, project_id, PERM_MODELS)
    action = request.POST.get("action", "")
    kinds = {"retrain": "train_rewards", "score": "score_images", "calibrate": "calibrate_gate"}
    if action not in kinds:
        messages.error(request, f"unknown action {action!r}")
        return redirect(reverse("rewards:models", args=[project.pk]))
    # A person's button: the one start path every page and the API use.
    job = job_start(project=project, kind=kinds[action], params={}, user=request.user)
    return redirect(reverse("workers:job", args=[job.pk]))


# The audit queue can keep to one kind of gate decision (?outcome=launch, say), with the
# words the page uses for each.
AUDIT_OUTCOMES: dict[str, str] = {
    Decision.Outcome.LAUNCH: "Launched",
    Decision.Outcome.REVIEW: "Held for review",
    Decision.Outcome.REJECT: "Rejected",
}


class BadFilter(ValueError):
    pass


def _outcome_filter(request: AuthedHttpRequest) -> str:
    """The ?outcome= of the audit URLs ("" for every decision). Forms post to URLs that
    carry it, so a verdict or an undo keeps the page on the same filter."""
    outcome = request.GET.get("outcome", "")
    if outcome and outcome not in AUDIT_OUTCOMES:
        raise BadFilter(
            f"Unknown decision {outcome[:40]!r}: choose launch, review or reject, or all."
        )
    return outcome


def _audit_url(project: Project, outcome: str) -> str:
    url = reverse("rewards:audit", args=[project.pk])
    return f"{url}?{urlencode({'outcome': outcome})}" if outcome else url


@require_GET
@login_required
def audit_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_AUDIT)
    try:
        outcome = _outcome_filter(request)
    except BadFilter as exc:
        return _render_audit(request, project, error=str(exc), status=400, show_audit=False)
    return _render_audit(request, project, outcome=outcome)


def _render_audit(
    request: AuthedHttpRequest,
    project: Project,
    *,
    outcome: str = "",
    error: str = "",
    status: int = 200,
    undone: Audit | None = None,
    show_audit: bool = True,
) -> HttpResponse:
    audit = (
        audits.audit_next(project=project, user=request.user, outcome=outcome or None)
        if show_audit
        else None
    )
    decision = getattr(audit.item, "decision", None) if audit else None
    pending = dict(
        Audit.objects.filter(project=project, status=Audit.Status.PENDING)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    query = f"?{urlencode({'outcome': outcome})}" if outcome else ""
    context = {
        "project": project,
        "audit": audit,
        "decision": decision,
        "decision_word": AUDIT_OUTCOMES.get(audit.outcome, "") if audit else "",
        "error": error,
        "aspects": AD_ASPECTS,
        "pending": sum(pending.values()),
        "outcome": outcome,
        "outcome_word": AUDIT_OUTCOMES.get(outcome, ""),
        "query": query,
        "filters": [
            {
                "value": "",
                "label": "All",
                "n": sum(pending.values()),
                "url": _audit_url(project, ""),
            },
            *(
                {"value": v, "label": label, "n": pending.get(v, 0), "url": _audit_url(project, v)}
                for v, label in AUDIT_OUTCOMES.items()
            ),
        ],
        "undone": undone,
    }
    template = "rewards/_audit.html" if getattr(request, "htmx", False) else "rewards/audit.html"
    # Refusals keep their 4xx for htmx too: audit.js swaps in a 4xx answer that is this
    # partial, with its message.
    return render(request, template, context, status=status)


@require_POST
@login_required
def audit_submit(request: AuthedHttpRequest, project_id: int, audit_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_AUDIT)
    try:
        outcome = _outcome_filter(request)
    except BadFilter as exc:
        return _render_audit(request, project, error=str(exc), status=400, show_audit=False)
    verdict = request.POST.get("verdict")
    if verdict not in ("usable", "unusable"):
        return _render_audit(
            request,
            project,
            outcome=outcome,
            error="Not submitted. Choose usable (y) or not usable (n).",
            status=400,
        )
    defects = [a for a in request.POST.getlist("defects") if a]
    try:
        audits.audit_submit(
            project=project,
            audit_id=audit_id,
            user=request.user,
            usable=verdict == "usable",
            defects=defects,
        )
    except audits.AuditNotFound:
        raise Http404("no such audit") from None
    except (ValueError, QueueError) as exc:
        return _render_audit(request, project, outcome=outcome, error=str(exc), status=400)
    if getattr(request, "htmx", False):
        return _render_audit(request, project, outcome=outcome)
    return redirect(_audit_url(project, outcome))


@require_POST
@login_required
def audit_undo(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    """Take back the person's last verdict in this project: the audit comes back to them."""
    project = project_for(request.user, project_id, PERM_AUDIT)
    try:
        outcome = _outcome_filter(request)
    except BadFilter as exc:
        return _render_audit(request, project, error=str(exc), status=400, show_audit=False)
    try:
        undone = audits.audit_undo(project=project, user=request.user)
    except audits.NothingToUndo:
        return _render_audit(
            request,
            project,
            outcome=outcome,
            error="Nothing to undo: you have no audit verdicts here.",
            status=404,
        )
    except QueueError as exc:
        return _render_audit(request, project, outcome=outcome, error=str(exc), status=409)
    # The undone audit is this person's latest hold, so audit_next shows it next; a
    # filter that leaves it out (the verdict was given under another) is dropped.
    if outcome and undone.outcome != outcome:
        outcome = ""
    if getattr(request, "htmx", False):
        response = _render_audit(request, project, outcome=outcome, undone=undone)
        response["HX-Replace-Url"] = _audit_url(project, outcome)
        return response
    messages.info(request, f"Your verdict on ad #{undone.item_id} is taken back; decide again.")
    return redirect(_audit_url(project, outcome))
