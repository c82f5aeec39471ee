"""HTML views of the labeling app: the keyboard-first labeling page, for every item kind.

One view renders the full page or, for an htmx request, just the task partial; every form
also works as a plain POST without JavaScript.
"""

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
from jdreview.models import Project
from jdreview.roles import PERM_LABEL
from labeling import services
from labeling.kinds import spec_for
from labeling.models import AD_IMAGE, Annotation, Assignment
from labeling.schemas import AD_IMAGE_FIELDS, AnnotationError


def _task_context(
    request: AuthedHttpRequest,
    project: Project,
    error: str = "",
    values: dict[str, Any] | None = None,
) -> dict:
    assignment = services.task_next(project=project, user=request.user)
    upcoming = (
        services.task_upcoming(project=project, user=request.user, current=assignment)
        if assignment is not None
        else None
    )
    done = request.user.annotations.filter(project=project, undone=False).count()
    item = assignment.item if assignment else None
    if item is not None:
        kind = item.kind
    else:  # an empty queue still shows the project's kind of keys
        kind = project.items.values_list("kind", flat=True).first() or AD_IMAGE
    spec = spec_for(kind)
    context: dict[str, Any] = {
        "project": project,
        "assignment": assignment,
        "item": item,
        "upcoming": upcoming.item if upcoming else None,
        "spec": spec,
        "fields": AD_IMAGE_FIELDS,
        "error": error,
        "values": values or {},
        "done": done,
    }
    if item is not None and spec.context is not None:
        context.update(spec.context(item))
    if assignment is not None:
        earlier = _earlier_answer(assignment)
        if earlier is not None:
            context["editing"] = earlier
            if values is None:  # a re-shown submission with an error keeps what was sent
                context["values"] = earlier.values
    return context


def _earlier_answer(assignment: Assignment) -> Annotation | None:
    """The answer undo took back from this task, if it is one: read from the data, not
    handed over by the undo view, so a reload or a refused resubmission still says the
    person is changing an earlier answer."""
    return (
        Annotation.objects.filter(assignment=assignment, undone=True)
        .only("item_id", "values", "created_at")
        .order_by("-id")
        .first()
    )


def _render_task(
    request: AuthedHttpRequest,
    project: Project,
    *,
    error: str = "",
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = _task_context(request, project, error, values)
    if request.htmx:
        # htmx swaps only 2xx responses; the error is in the partial itself.
        return render(request, "labeling/_task.html", context)
    return render(request, "labeling/label.html", context, status=status)


@require_GET
@login_required
def label_page(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_LABEL)
    return _render_task(request, project)


@require_POST
@login_required
def label_submit(request: AuthedHttpRequest, project_id: int, assignment_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_LABEL)
    kind = (
        Assignment.objects.filter(pk=assignment_id, user=request.user, project=project)
        .values_list("item__kind", flat=True)
        .first()
    )
    lead = request.POST.get("lead_time_ms", "")
    values: Any = {}
    try:
        if kind is None:
            raise services.QueueError("no such task for you; ask for the next item")
        values, marks = spec_for(kind).parse_form(request.POST)
        services.annotation_submit(
            assignment_id=assignment_id,
            user=request.user,
            values=values,
            marks=marks,
            reason=request.POST.get("reason", ""),
            lead_time_ms=int(lead) if lead.isdigit() else None,
        )
    except (AnnotationError, services.QueueError) as exc:
        shown = values if isinstance(values, dict) else {}
        return _render_task(request, project, error=str(exc), values=shown, status=400)
    if request.htmx:
        return _render_task(request, project)
    return redirect(reverse("labeling:label", args=[project.pk]))


@require_POST
@login_required
def label_skip(request: AuthedHttpRequest, project_id: int, assignment_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_LABEL)
    try:
        services.task_skip(assignment_id=assignment_id, user=request.user)
    except services.QueueError as exc:
        return _render_task(request, project, error=str(exc), status=409)
    if request.htmx:
        return _render_task(request, project)
    return redirect(reverse("labeling:label", args=[project.pk]))


@require_POST
@login_required
def label_undo(request: AuthedHttpRequest, project_id: int) -> HttpResponse:
    project = project_for(request.user, project_id, PERM_LABEL)
    undone = services.annotation_undo(project=project, user=request.user)
    if undone is None:
        if request.htmx:
            return _render_task(request, project, error="Nothing to undo.")
        messages.info(request, "Nothing to undo.")
    if request.htmx:
        # The re-opened item comes first in the queue; its earlier values and the
        # "editing" banner come from the undone annotation (see _task_context).
        return _render_task(request, project)
    return redirect(reverse("labeling:label", args=[project.pk]))


__all__ = ["Assignment"]
