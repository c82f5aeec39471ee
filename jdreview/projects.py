"""Writes to projects and memberships: create a project, change its settings, add or
remove a member, set a person's role. The API, the Django admin and the demo seeds all
call these, and each change writes its row to the activity log in the same transaction.

Input is checked by the caller (a serializer, an admin form); these store and record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from jdreview.activity import activity_record, changed
from jdreview.models import Membership, Project
from jdreview.roles import Role, ensure_role_groups

# What a project's settings are (the API shows its id and creation time besides).
PROJECT_SETTINGS = (
    "name",
    "slug",
    "description",
    "guidelines",
    "overlap",
    "gold_share",
    "assignment_ttl_s",
    "queue_order",
)

Actor = User | AnonymousUser | None


def _settings_of(project: Project) -> dict[str, Any]:
    return {f: getattr(project, f) for f in PROJECT_SETTINGS}


def project_create(*, project: Project, by: Actor = None) -> Project:
    """Store a new project (an unsaved instance whose settings the caller has checked)."""
    with transaction.atomic():
        project.save(force_insert=True)
        activity_record(
            project=project,
            action="project.create",
            actor=by,
            obj=project,
            after=_settings_of(project),
        )
    return project


def project_settings_update(
    *, project: Project, values: Mapping[str, Any], by: Actor = None
) -> Project:
    """Store the settings in ``values`` that differ from the stored ones; the log gets
    their values before and after. Nothing changed, nothing written."""
    unknown = set(values) - set(PROJECT_SETTINGS)
    if unknown:
        raise ValueError(f"not a project setting: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        stored = Project.objects.select_for_update().get(pk=project.pk)
        before, after = changed(_settings_of(stored), dict(values))
        for field, value in after.items():
            setattr(stored, field, value)
            setattr(project, field, value)
        if after:
            stored.save(update_fields=list(after))
            activity_record(
                project=stored,
                action="project.settings",
                actor=by,
                obj=stored,
                before=before,
                after=after,
            )
    return project


def _roles_of(user: User) -> list[str]:
    names = {r.value for r in Role}
    return sorted(n for n in user.groups.values_list("name", flat=True) if n in names)


def membership_set(
    *, project: Project, user: User, role: Role | None = None, by: Actor = None
) -> Membership:
    """Make ``user`` a member of ``project`` (a no-op if they are) and, with ``role``, give
    them that role and no other.

    A role is a person's everywhere (roles are groups, not per project), so a change of
    role is written to the log of every project they are a member of."""
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(project=project, user=user)
        if created:
            activity_record(
                project=project,
                action="member.add",
                actor=by,
                obj=membership,
                after={"user": user.get_username(), "roles": _roles_of(user)},
                detail={"user_id": user.pk},
            )
        if role is not None:
            before = _roles_of(user)
            if before != [role.value]:
                groups = ensure_role_groups()
                user.groups.remove(*(g for r, g in groups.items() if r != role))
                user.groups.add(groups[role])
                for project_id in Membership.objects.filter(user=user).values_list(
                    "project_id", flat=True
                ):
                    activity_record(
                        project=project_id,
                        action="member.role",
                        actor=by,
                        obj=user,
                        before={"roles": before},
                        after={"roles": [role.value]},
                        detail={"user": user.get_username()},
                    )
    return membership


def membership_remove(*, project: Project, user: User, by: Actor = None) -> bool:
    """Take ``user`` out of ``project``. Returns whether they were a member."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(project=project, user=user)
        row = membership.first()
        if row is None:
            return False
        activity_record(
            project=project,
            action="member.remove",
            actor=by,
            obj=row,
            before={"user": user.get_username(), "roles": _roles_of(user)},
            detail={"user_id": user.pk},
        )
        row.delete()
    return True
