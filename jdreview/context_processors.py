from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from jdreview.roles import PERM_AUDIT, PERM_DASHBOARDS, PERM_DATA, PERM_LABEL, PERM_MODELS


def roles(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "can": {
            "label": user.has_perm(PERM_LABEL),
            "audit": user.has_perm(PERM_AUDIT),
            "dashboards": user.has_perm(PERM_DASHBOARDS),
            "models": user.has_perm(PERM_MODELS),
            "data": user.has_perm(PERM_DATA),
        }
    }
