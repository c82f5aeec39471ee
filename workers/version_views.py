"""Making a model version live, or rolling its slot back, from a page: one pair of views for
every family's versions table (``templates/workers/_versions.html``), scoped to the project
in the URL and to people whose role may manage models.

Both go through the one registry's services (:mod:`workers.versions`), so a page checks
what every other path checks: a version whose artifact cannot serve never goes live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jdreview.access import project_for
from jdreview.http import AuthedHttpRequest
from jdreview.models import Project
from jdreview.roles import PERM_MODELS
from workers.models import ModelVersion
from workers.versions import VersionError, families, model_version_promote, model_version_rollback

LiveChanged = Callable[[Project, User], None]
_ON_LIVE_CHANGE: dict[str, LiveChanged] = {}


def on_live_change(family: str, hook: LiveChanged) -> None:
    """What a family redoes once a person has changed its live version here (the rewards
    app recalibrates the launch gate: its thresholds were measured with the old models).
    Registered by the family's app in ``ready()``; runs after the change has committed."""
    _ON_LIVE_CHANGE[family] = hook


def with_rollback(versions: Iterable[ModelVersion]) -> list[ModelVersion]:
    """The versions, each live one given ``rollback_to``: the version a rollback would make
    live again, as :func:`workers.versions.model_version_rollback` picks it (None when
    there is none). Worked out from the list, which holds every version of the slots."""
    rows = list(versions)
    for live in rows:
        if live.status != ModelVersion.Status.LIVE:
            continue
        earlier = [
            v
            for v in rows
            if v.family == live.family
            and v.slot == live.slot
            and v.status == ModelVersion.Status.RETIRED
            and v.promoted_at is not None
            and v.version < live.version
        ]
        live.rollback_to = max(earlier, key=lambda v: v.version, default=None)  # type: ignore[attr-defined]
    return rows


def _version(request: AuthedHttpRequest, project_id: int, version_id: int) -> ModelVersion:
    project = project_for(request.user, project_id, PERM_MODELS)
    version = (
        ModelVersion.objects.filter(pk=version_id, project=project, family__in=families())
        .select_related("project")
        .first()
    )
    if version is None:
        raise Http404("no such model version in this project")
    return version


def _label(version: ModelVersion) -> str:
    return (
        f"{version.slot} v{version.version}"
        if version.slot
        else f"v{version.version} ({version.name})"
    )


def _back(request: AuthedHttpRequest, project: Project) -> HttpResponse:
    """To the page the form was on (``next``, when it is a page of this site), else the
    project's page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("project", args=[project.pk])
    return redirect(target)


def _changed(request: AuthedHttpRequest, version: ModelVersion) -> None:
    hook = _ON_LIVE_CHANGE.get(version.family)
    if hook is not None:
        hook(version.project, request.user)


@require_POST
@login_required
def version_promote(request: AuthedHttpRequest, project_id: int, version_id: int) -> HttpResponse:
    version = _version(request, project_id, version_id)
    if version.status == ModelVersion.Status.LIVE:
        messages.info(request, f"{_label(version)} is already live.")
        return _back(request, version.project)
    try:
        live = model_version_promote(version=version, user=request.user, note="manual")
    except VersionError as exc:
        messages.error(request, f"{_label(version)} was not made live: {exc}")
    else:
        _changed(request, live)
        messages.success(request, f"{_label(live)} is live.")
    return _back(request, version.project)


@require_POST
@login_required
def version_rollback(request: AuthedHttpRequest, project_id: int, version_id: int) -> HttpResponse:
    """Roll the slot of ``version``, the live one, back to its previous live version. The
    button is on the live row: a page older than the last change says so instead of rolling
    back a version the person did not see."""
    version = _version(request, project_id, version_id)
    if version.status != ModelVersion.Status.LIVE:
        messages.error(request, f"{_label(version)} is not live any more: nothing rolled back.")
        return _back(request, version.project)
    try:
        back = model_version_rollback(
            project=version.project, family=version.family, slot=version.slot, user=request.user
        )
    except VersionError as exc:
        messages.error(request, f"Not rolled back: {exc}")
    else:
        _changed(request, back)
        messages.success(request, f"Rolled back: {_label(back)} is live again.")
    return _back(request, version.project)
