"""Writes for agent-trace items: store traces as review items, and import them.

Imports are all-or-nothing: every trace is parsed and checked first (see ``imports``), and
only a fully valid batch is stored, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from jdreview.models import Project
from labeling.items import record_items_added
from labeling.models import Item
from workers.agents.apps import KIND as TRACE_KIND
from workers.agents.ml.trace import Trace
from workers.agents.traces.imports import ParsedTrace, TraceImportError, parse_import
from workers.agents.traces.records import trace_payload, trace_recipe, trace_truth

__all__ = ["NewTrace", "TraceImportError", "trace_items_create", "traces_import"]


@dataclass
class NewTrace:
    trace: Trace
    agent: str
    run: int = 0
    agent_version: int | None = None  # ModelVersion id of the policy that made it
    external_id: str = ""
    is_gold: bool = False
    extra_truth: dict = field(default_factory=dict)


def _gold_answer(truth: dict) -> dict:
    return {"steps": truth["steps"], "outcome": truth["outcome"]}


def trace_items_create(
    *, project: Project, new: list[NewTrace], source: str, user: User | None = None
) -> list[Item]:
    """Store traces as ``agent_trace`` items of the project (one transaction), with one
    row in the activity log for the batch (``user`` is who imported them; none for a job)."""
    rows = []
    for n in new:
        truth = {**trace_truth(n.trace), **n.extra_truth}
        gold = n.is_gold and "steps" in truth and "outcome" in truth
        rows.append(
            Item(
                project=project,
                kind=TRACE_KIND,
                source=source,
                external_id=n.external_id,
                payload=trace_payload(n.trace, agent=n.agent, run=n.run),
                recipe=trace_recipe(n.trace, agent_version=n.agent_version),
                truth=truth,
                is_gold=gold,
                gold_answer=_gold_answer(truth) if gold else {},
            )
        )
    with transaction.atomic():
        items = Item.objects.bulk_create(rows, batch_size=500)
        if items:
            record_items_added(project, items, user=user, action="items.create")
        return items


def _check_project(project: Project, parsed: list[ParsedTrace]) -> None:
    errors = []
    other = project.items.exclude(kind=TRACE_KIND).exists()
    if other:
        errors.append("this project holds other kinds of items; import traces into their own")
    ids = [p.external_id for p in parsed if p.external_id]
    taken = set(project.items.filter(external_id__in=ids).values_list("external_id", flat=True))
    errors += [f"metadata.external_id {x!r} is already in this project" for x in sorted(taken)]
    if errors:
        raise TraceImportError(errors)


def traces_import(*, project: Project, text: str, user: User | None = None) -> list[Item]:
    """Import traces (JSON or JSON lines in the chat format) into the review queue."""
    parsed = parse_import(text)
    _check_project(project, parsed)
    new = [
        NewTrace(p.trace, agent=p.agent, external_id=p.external_id, is_gold=p.is_gold)
        for p in parsed
    ]
    try:
        return trace_items_create(project=project, new=new, source=Item.Source.IMPORT, user=user)
    except IntegrityError:  # an import of the same ids committed in between
        taken = "an external_id of this import is already in the project"
        raise TraceImportError([taken]) from None
