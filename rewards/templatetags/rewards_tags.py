from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any) -> str:
    # A metric a version does not have reaches the template as "" (a missing key).
    try:
        return f"{float(value):.1%}"
    except (TypeError, ValueError):
        return "—"


@register.filter
def estimate(e: Any) -> str:
    if e is None or e.value is None:
        return "— (no audits yet)"
    return f"{e.value:.1%} [{e.low:.1%}, {e.high:.1%}] n={e.n}"


@register.filter
def get_score(scores: Any, aspect: str) -> Any:
    return scores.get(aspect) if isinstance(scores, dict) else None
