"""Who may see which project, and do what in it. Every view and endpoint goes through here."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from jdreview.models import Project
from jdreview.roles import has_perm, is_admin

PERM_MESSAGES = {
    "jdreview.label_items": "your role cannot label items",
    "jdreview.audit_launches": "your role cannot audit launches",
    "jdreview.view_dashboards": "your role cannot see dashboards",
    "jdreview.manage_models": "your role cannot manage models or jobs",
    "jdreview.manage_data": "your role cannot import items or export labels",
}


def projects_for(user: User | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if is_admin(user):
        return Project.objects.all()
    return Project.objects.filter(membership__user=user)


def require_perm(user: User | AnonymousUser, perm: str) -> None:
    if not has_perm(user, perm):
        raise PermissionDenied(PERM_MESSAGES.get(perm, "not allowed"))


def project_for(
    user: User | AnonymousUser, project_id: int | str, perm: str | None = None
) -> Project:
    """The project, if this person is a member (and their role has ``perm``).

    A project the person is not a member of answers 404, not 403: outsiders do not learn
    which projects exist.
    """
    if perm is not None:
        require_perm(user, perm)
    try:
        return projects_for(user).get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("no such project") from None
