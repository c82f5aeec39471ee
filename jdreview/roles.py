"""Roles as Django groups, each with the project permissions it grants.

An annotator labels; an ops reviewer audits launches (and may label); a manager watches
dashboards and runs models but does not label; an admin does everything.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Group, Permission, User


class Role(StrEnum):
    ANNOTATOR = "annotator"
    OPS = "ops_reviewer"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.ANNOTATOR: ["label_items"],
    Role.OPS: ["label_items", "audit_launches"],
    Role.MANAGER: ["view_dashboards", "manage_models", "manage_data"],
    Role.ADMIN: [
        "label_items",
        "audit_launches",
        "view_dashboards",
        "manage_models",
        "manage_data",
    ],
}

PERM_LABEL = "jdreview.label_items"
PERM_AUDIT = "jdreview.audit_launches"
PERM_DASHBOARDS = "jdreview.view_dashboards"
PERM_MODELS = "jdreview.manage_models"
PERM_DATA = "jdreview.manage_data"


def ensure_role_groups() -> dict[Role, Group]:
    """Create (or repair) the role groups and their permissions. Safe to run repeatedly."""
    groups: dict[Role, Group] = {}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        perms = Permission.objects.filter(
            content_type__app_label="jdreview", codename__in=codenames
        )
        group.permissions.set(perms)
        groups[role] = group
    return groups


def user_roles(user: User | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    names = {g.name for g in user.groups.all()}  # type: ignore[attr-defined]
    if user.is_superuser:  # type: ignore[union-attr]
        names.add(Role.ADMIN.value)
    return names


def is_admin(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and (
        user.is_superuser or Role.ADMIN.value in user_roles(user)  # type: ignore[union-attr]
    )
