"""Score every trace of a project: step labels (automatic execution detection plus the
learned step judge), local score, first wrong step, end-to-end outcome, pass^k over
repeated runs, and the attribution of failed traces; aggregated per agent version.

The step judge learns from reviewers' step labels when there are enough of them; otherwise
(a fresh demo project) from the benchmark world's ground truth, and the metrics say which.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from jdreview.models import Project
from labeling.models import Annotation, Item
from workers.agents.apps import KIND as TRACE_KIND
from workers.agents.ml.trace import Trace
from workers.agents.traces.records import item_trace

Progress = Callable[[float, str], None]
MIN_REVIEWED_TRACES = 30  # below this, reviewers' labels are too few to train the judge on
HELD_OUT_EVERY = 5  # items whose id % 5 == 0 never train the judge: its AUC is measured there


@dataclass
class ProjectTraces:
    items: list[Item]
    traces: dict[int, Trace]  # item id -> trace (ground-truth labels attached when known)


def project_traces(project: Project) -> ProjectTraces:
    items = list(
        Item.objects.filter(project=project, kind=TRACE_KIND)
        .only("id", "payload", "recipe", "truth", "is_gold")
        .order_by("id")
    )
    return ProjectTraces(items, {i.pk: item_trace(i.payload, i.recipe, i.truth) for i in items})


def reviewer_consensus(project: Project) -> dict[int, dict[str, Any]]:
    """Majority verdict per step and outcome over the live annotations of each trace
    (ties go to the more severe verdict: a step someone flagged is not silently ok)."""
    rank = {"execution": 2, "reasoning": 1, "ok": 0, "failure": 1, "success": 0}
    by_item: dict[int, list[dict]] = defaultdict(list)
    for item_id, values in Annotation.objects.filter(
        project=project, undone=False, item__kind=TRACE_KIND
    ).values_list("item_id", "values"):
        by_item[item_id].append(values)

    def vote(votes: list[str]) -> str:
        counts = Counter(votes)
        return max(counts, key=lambda v: (counts[v], rank.get(v, 0)))

    out = {}
    for item_id, labels in by_item.items():
        n = len(labels[0].get("steps", []))
        same = [v for v in labels if len(v.get("steps", [])) == n]
        out[item_id] = {
            "steps": [vote([v["steps"][i] for v in same]) for i in range(n)],
            "outcome": vote([v.get("outcome", "") for v in same]),
            "reviewers": len(same),
        }
    return out


def _with_labels(trace: Trace, labels: list[str]) -> Trace:
    return replace(trace, labels=list(labels))


def _both_classes(traces: list[Trace]) -> bool:
    labels = {x == "reasoning" for t in traces for x in (t.labels or [])}
    return labels == {True, False}


def judge_train(pt: ProjectTraces, consensus: dict[int, dict[str, Any]]) -> tuple[Any, dict]:
    """Train the step judge; returns it with where its labels came from and its held-out AUC
    against the world's ground truth (where the project's traces carry it)."""
    from workers.agents.ml.judge.step_judge import StepJudge

    def train_part(item_id: int) -> bool:
        return item_id % HELD_OUT_EVERY != 0

    reviewed = [
        _with_labels(pt.traces[i], c["steps"])
        for i, c in consensus.items()
        if i in pt.traces and train_part(i) and len(c["steps"]) == len(pt.traces[i].steps)
    ]
    truth = [t for i, t in pt.traces.items() if train_part(i) and t.labels is not None]
    if len(reviewed) >= MIN_REVIEWED_TRACES and _both_classes(reviewed):
        source, train = "reviewers", reviewed
    elif len(truth) >= 10 and _both_classes(truth):
        source, train = "world_truth", truth
    else:
        from workers.agents.ml.scripted import scripted_traces
        from workers.agents.world import agent_world, task_split

        source = "world_scripted"
        train = scripted_traces(agent_world(), task_split()[0], flawed_share=0.6, seed=1)
    judge = StepJudge().fit(train)
    info: dict[str, Any] = {"judge_source": source, "judge_train_traces": len(train)}
    held = [t for i, t in pt.traces.items() if not train_part(i) and t.labels is not None]
    if held and _both_classes(held):
        from sklearn.metrics import roc_auc_score

        from workers.agents.ml.judge.step_judge import judge_examples

        refs, y = judge_examples(held)
        info["judge_auc_held_out"] = float(roc_auc_score(y, judge.predict_proba(refs)))
        info["judge_auc_traces"] = len(held)
    return judge, info


def _pass_k(runs: dict[str, list[bool]]) -> dict[str, float]:
    from workers.agents.ml.judge.scoring import pass_k_over_tasks

    if not runs:
        return {}
    out = {"pass^1": pass_k_over_tasks(runs, 1)}
    k = min(len(v) for v in runs.values())
    if k >= 2:
        out[f"pass^{k}"] = pass_k_over_tasks(runs, k)
        out["k"] = float(k)
    return out


def project_score(*, project: Project, progress: Progress | None = None) -> tuple[dict, dict]:
    """(metrics, per-item scores) for every trace of the project."""
    from workers.agents.ml.judge.scoring import score_trace

    pt = project_traces(project)
    if not pt.items:
        raise ValueError("this project has no agent traces to score")
    consensus = reviewer_consensus(project)
    if progress:
        progress(0.1, f"{len(pt.items)} traces, {len(consensus)} reviewed; training the judge")
    judge, metrics = judge_train(pt, consensus)
    if progress:
        progress(0.3, f"step judge trained from {metrics['judge_source']}")
    scores: dict[str, dict[str, Any]] = {}
    by_agent: dict[str, list[dict]] = defaultdict(list)
    first_exact, attr_ok = [], []
    for n, item in enumerate(pt.items):
        trace = pt.traces[item.pk]
        s = score_trace(trace, judge)
        agent = str(item.payload.get("agent", "unknown"))
        row = {
            "agent": agent,
            "agent_version": item.recipe.get("agent_version"),
            "task_id": item.payload.get("task_id", ""),
            "labels": s.labels,
            "local": s.local,
            "first_wrong": s.first_wrong,
            "e2e": s.e2e,
            "attribution": s.attribution,
        }
        scores[str(item.pk)] = row
        by_agent[agent].append(row)
        if trace.labels is not None:  # compare with the planted ground truth
            true = score_trace(trace, judge, labels=trace.labels)
            if true.first_wrong is not None:
                first_exact.append(s.first_wrong == true.first_wrong)
            if true.e2e == 0.0:
                attr_ok.append(s.attribution == true.attribution)
        if progress and n % 50 == 0:
            progress(0.3 + 0.6 * (n + 1) / len(pt.items), f"scored {n + 1}/{len(pt.items)}")
    metrics.update(
        n_traces=len(pt.items),
        n_reviewed=len(consensus),
        first_error_exact=float(np.mean(first_exact)) if first_exact else None,
        attribution_accuracy=float(np.mean(attr_ok)) if attr_ok else None,
        agents={agent: agent_summary(rows) for agent, rows in sorted(by_agent.items())},
    )
    return metrics, scores


def agent_summary(rows: list[dict]) -> dict[str, Any]:
    """Local and end-to-end means, pass^k and the failure split of one agent's traces."""
    e2e = [r["e2e"] for r in rows if r["e2e"] is not None]
    runs: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        if r["e2e"] is not None and r["task_id"]:
            runs[r["task_id"]].append(r["e2e"] == 1.0)
    failed = [r for r in rows if r["e2e"] == 0.0]
    return {
        "traces": len(rows),
        "agent_version": rows[0]["agent_version"],
        "local": float(np.mean([r["local"] for r in rows])),
        "e2e": float(np.mean(e2e)) if e2e else None,
        **_pass_k(dict(runs)),
        "failed": len(failed),
        "fail_reasoning": sum(r["attribution"] == "reasoning" for r in failed),
        "fail_execution": sum(r["attribution"] == "execution" for r in failed),
    }
