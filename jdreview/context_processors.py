from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from jdreview.roles import PERM_AUDIT, PERM_DASHBOARDS, PERM_DATA, PERM_LABEL, PERM_MODELS, has_perm


def roles(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "can": {
            "label": has_perm(user, PERM_LABEL),
            "audit": has_perm(user, PERM_AUDIT),
            "dashboards": has_perm(user, PERM_DASHBOARDS),
            "models": has_perm(user, PERM_MODELS),
            "data": has_perm(user, PERM_DATA),
        }
    }
