"""Reads of this loop for its pages and dashboard panel."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from jdreview.models import Project
from labeling.models import Annotation, Item
from workers.agents.apps import FAMILY
from workers.agents.apps import KIND as TRACE_KIND
from workers.agents.traces.records import pretty_json
from workers.models import Job, ModelVersion

SCORE_JOB = "agent_score"
TRAIN_JOBS = ("agent_train_base", "agent_train_dpo", "agent_train_explicit")


def trace_counts(project: Project) -> dict[str, int]:
    return project.items.filter(kind=TRACE_KIND).aggregate(
        traces=Count("id"),
        reviewed=Count("id", filter=Q(done_count__gt=0)),
        imported=Count("id", filter=Q(source=Item.Source.IMPORT)),
        generated=Count("id", filter=Q(source=Item.Source.GENERATED)),
        gold=Count("id", filter=Q(is_gold=True)),
    )


def has_traces(project: Project) -> bool:
    return project.items.filter(kind=TRACE_KIND).exists()


def score_jobs(project: Project, limit: int = 20) -> list[Job]:
    """Finished scoring runs, newest first (their metrics only: not the per-item scores)."""
    return list(
        Job.objects.filter(project=project, kind=SCORE_JOB, status=Job.Status.SUCCEEDED)
        .defer("artifacts", "log_tail")
        .order_by("-finished_at")[:limit]
    )


def latest_scores(project: Project) -> Job | None:
    """The newest finished scoring run, with its per-item scores."""
    return (
        Job.objects.filter(project=project, kind=SCORE_JOB, status=Job.Status.SUCCEEDED)
        .order_by("-finished_at")
        .first()
    )


def score_rows(job: Job, items: list[Item]) -> list[dict[str, Any]]:
    """Per-trace rows of a scoring run for the given items (in their order)."""
    scores = (job.artifacts or {}).get("scores", {})
    rows = []
    for item in items:
        s = scores.get(str(item.pk))
        if s is not None:
            first = s["first_wrong"]
            rows.append(
                {
                    "item": item,
                    **s,
                    "n_steps": len(s["labels"]),
                    "first_step": None if first is None else first + 1,
                    "first_label": None if first is None else s["labels"][first],
                }
            )
    return rows


def policy_versions(project: Project) -> list[ModelVersion]:
    return list(
        ModelVersion.objects.filter(project=project, family=FAMILY)
        .select_related("parent", "job")
        .order_by("-version")
    )


def comparison(project: Project) -> list[dict[str, Any]]:
    """Base vs DPO vs explicit: the newest base policy and the newest run of each kind
    trained from it, with their held-out evaluation (the same tasks and tool weather)."""
    versions = policy_versions(project)
    base = next((v for v in versions if v.name == "base"), None)
    if base is None:
        return []
    rows = [("base", base)]
    for name in ("dpo", "explicit"):
        child = next((v for v in versions if v.name == name and v.parent_id == base.pk), None)
        if child is not None:
            rows.append((name, child))
    out: list[dict[str, Any]] = []
    for label, v in rows:
        ev = v.metrics.get("eval", {})
        k = max((int(key[5:]) for key in ev if key.startswith("pass^")), default=1)
        out.append(
            {
                "label": label,
                "version": v,
                "e2e": ev.get("e2e"),
                "local": ev.get("local"),
                "pass1": ev.get("pass^1"),
                "k": k,
                "passk": ev.get(f"pass^{k}"),
                "fail_reasoning": ev.get("fail_reasoning"),
                "fail_execution": ev.get("fail_execution"),
                "pairs": v.metrics.get("pairs"),
                "pairs_source": v.metrics.get("pairs_source", ""),
                "delta_e2e": None
                if label == "base" or ev.get("e2e") is None or out[0]["e2e"] is None
                else ev["e2e"] - out[0]["e2e"],
            }
        )
    return out


def agent_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """A scoring run's per-agent summaries as table rows."""
    rows = []
    for agent, s in (metrics.get("agents") or {}).items():
        k = int(s.get("k") or 0)
        rows.append(
            {
                "agent": agent,
                **s,
                "pass1": s.get("pass^1"),
                "passk": s.get(f"pass^{k}") if k else None,
                "k": k,
            }
        )
    return rows


def trace_review(item: Item, job: Job | None) -> dict[str, Any]:
    """Per step: what the trace shows, the automatic check, the scorers' label, and every
    reviewer's verdict and note; plus the outcome both ways."""
    annotations = list(
        Annotation.objects.filter(item=item, undone=False)
        .select_related("user")
        .order_by("created_at")
    )
    score = ((job.artifacts or {}).get("scores", {}) if job else {}).get(str(item.pk))
    steps = []
    for i, step in enumerate(item.payload.get("steps") or []):
        reviews = []
        for a in annotations:
            verdicts = a.values.get("steps") or []
            reviews.append(
                {
                    "user": a.user.username,
                    "verdict": verdicts[i] if i < len(verdicts) else "",
                    "note": (a.values.get("notes") or {}).get(str(i), ""),
                }
            )
        steps.append(
            {
                "number": i + 1,
                "thought": step.get("thought") or "",
                "tool": step.get("tool") or "",
                "arguments": pretty_json(step.get("arguments")),
                "observation": pretty_json(step.get("observation")),
                "auto": step.get("auto") or "",
                "scored": score["labels"][i] if score and i < len(score["labels"]) else "",
                "reviews": reviews,
            }
        )
    return {
        "steps": steps,
        "score": score,
        "score_job": job,
        "outcomes": [(a.user.username, a.values.get("outcome", "")) for a in annotations],
    }
