"""Roles as Django groups, each with the project permissions it grants.

An annotator labels; an ops reviewer audits launches (and may label); a manager watches
dashboards and runs models but does not label; an admin does everything.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Access:
    roles: frozenset[str]
    perms: frozenset[str]  # "jdreview.<codename>"


ALL_PERMS = frozenset(f"jdreview.{c}" for codes in ROLE_PERMISSIONS.values() for c in codes)
_ACCESS_ATTR = "_jdreview_access"


def access_of(user: User | AnonymousUser) -> Access:
    """The person's roles and project permissions, from their role groups, in one query.

    Memoised on the user object, i.e. for one request: every view and endpoint asks
    several times (pages, menus, the project lookup), and this is on the queue's hot path.
    Permissions come from role groups only; a superuser has them all.
    """
    if not user.is_authenticated:
        return Access(frozenset(), frozenset())
    cached = getattr(user, _ACCESS_ATTR, None)
    if cached is not None:
        return cached
    rows = Group.objects.filter(user=user).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    roles = {name for name, _, _ in rows}
    perms = {f"{app}.{code}" for _, app, code in rows if app and code}
    if user.is_superuser:
        roles.add(Role.ADMIN.value)
        perms |= ALL_PERMS
    access = Access(frozenset(roles), frozenset(perms))
    setattr(user, _ACCESS_ATTR, access)
    return access


def has_perm(user: User | AnonymousUser, perm: str) -> bool:
    return perm in access_of(user).perms


def user_roles(user: User | AnonymousUser) -> set[str]:
    return set(access_of(user).roles)


def is_admin(user: User | AnonymousUser) -> bool:
    return Role.ADMIN.value in access_of(user).roles
