"""Page furniture shared by every template: the title pattern."""

from __future__ import annotations

import re

from django import template
from django.template.base import Parser, Token
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def page_title(page: str, project: object = None) -> SafeString:
    """``<page> · <project> · jdreview``, leaving out a part that is empty or that says
    the same as the one before it (a project named "Query expansion" on its query
    expansion page is named once).

    ``page`` is the rendered (already escaped) title block; ``project`` is the page's
    project, when it has one.
    """
    name = getattr(project, "name", "") or ""
    parts = [re.sub(r"\s+", " ", str(page)).strip(), str(conditional_escape(name)).strip()]
    out: list[str] = []
    for part in [*parts, "jdreview"]:
        if part and (not out or part.casefold() != out[-1].casefold()):
            out.append(part)
    return mark_safe(" · ".join(out))  # every part is escaped above


class PageTitleNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> str:
        # A tag rather than a filter: a filter's argument must exist, and not every
        # page has a project (the 500 page has no context at all).
        return page_title(self.nodelist.render(context), context.get("project"))


@register.tag("pagetitle")
def do_pagetitle(parser: Parser, token: Token) -> PageTitleNode:
    """``{% pagetitle %}{% block title %}{% endblock %}{% endpagetitle %}``."""
    nodelist = parser.parse(("endpagetitle",))
    parser.delete_first_token()
    return PageTitleNode(nodelist)
