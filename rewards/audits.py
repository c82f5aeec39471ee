"""Gate decisions for images, and the ops audit of a random sample of them.

Audits are drawn with a known probability per outcome (launched images at one rate,
rejected and held ones at another), so the usable rate among launched images and the
recall can be estimated without bias from the audited sample (see rewards.selectors).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jdreview.activity import activity_record, changed
from jdreview.models import Project
from labeling.models import UNJUDGED, Annotation, Item
from labeling.schemas import AD_ASPECTS
from labeling.services import QueueError, annotation_record, annotation_record_undo
from rewards.models import Audit, Decision, Gate

AUDIT_HOLD = timedelta(minutes=10)


def gate_for(project: Project) -> Gate:
    gate, _ = Gate.objects.get_or_create(project=project)
    return gate


# Gate settings a manager may change, with their allowed ranges (inclusive).
GATE_SETTINGS: dict[str, tuple[str, float, float]] = {
    "target": ("target usable rate", 0.5, 0.999),
    "confidence": ("confidence", 0.5, 0.999),
    "audit_launched_rate": ("audit share of launched images", 0.0, 1.0),
    "audit_other_rate": ("audit share of held and rejected images", 0.0, 1.0),
}


def gate_settings_update(
    *, project: Project, values: Mapping[str, str], user: User | None = None
) -> tuple[Gate, bool]:
    """Change the gate's settings from form values (rates as fractions below 1, or as
    percentages: with a % sign or from 1 up, so "1" is 1% and "100%" all;
    ``retrain_after_labels`` a whole number). Every value is checked
    before any is saved. Returns (gate, whether the calibration must be redone)."""
    changes: dict[str, float | int] = {}
    for field, (label, low, high) in GATE_SETTINGS.items():
        raw = (values.get(field) or "").strip()
        if not raw:
            continue
        percent = raw.endswith("%")
        try:
            value = float(raw.rstrip("%").strip())
        except ValueError:
            raise ValueError(f"{label}: {raw!r} is not a number") from None
        if percent or value >= 1:
            value /= 100
        if not low <= value <= high:
            raise ValueError(f"{label} must be between {low:.0%} and {high:.1%}")
        changes[field] = value
    raw = (values.get("retrain_after_labels") or "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
            raise ValueError("retrain after labels must be a whole number from 1 to 1,000,000")
        changes["retrain_after_labels"] = int(raw)
    with transaction.atomic():
        gate = Gate.objects.select_for_update().get(pk=gate_for(project).pk)
        recalibrate = any(
            field in changes and changes[field] != getattr(gate, field)
            for field in ("target", "confidence")
        )
        before, after = changed({f: getattr(gate, f) for f in changes}, changes)
        for field, value in changes.items():
            setattr(gate, field, value)
        if changes:
            gate.save(update_fields=list(changes))
        if after:
            activity_record(
                project=project,
                action="gate.settings",
                actor=user,
                obj=gate,
                before=before,
                after=after,
                detail={"recalibrate": recalibrate},
            )
    return gate, recalibrate


def decisions_record(
    *, project: Project, rows: list[dict[str, Any]], rng: random.Random | None = None
) -> list[Decision]:
    """Store the gate's decisions for scored items and draw the audit sample.

    Each row: item_id, scores, model_versions, outcome, driver, reason. Launched and
    rejected images leave the annotators' queue; images held for review go to its front.
    """
    rng = rng or random.Random()
    gate = gate_for(project)
    decisions = []
    audits_drawn = 0
    with transaction.atomic():
        for row in rows:
            decision, _ = Decision.objects.update_or_create(
                item_id=row["item_id"],
                defaults={
                    "project": project,
                    "scores": row["scores"],
                    "model_versions": row["model_versions"],
                    "outcome": row["outcome"],
                    "driver": row.get("driver", ""),
                    "reason": row.get("reason", "")[:300],
                },
            )
            decisions.append(decision)
            rate = (
                gate.audit_launched_rate
                if row["outcome"] == Decision.Outcome.LAUNCH
                else gate.audit_other_rate
            )
            if rng.random() < rate:
                _, drawn = Audit.objects.get_or_create(
                    item_id=row["item_id"],
                    status=Audit.Status.PENDING,
                    defaults={"project": project, "outcome": row["outcome"], "sample_rate": rate},
                )
                audits_drawn += drawn
        by_outcome: dict[str, list[int]] = {}
        for row in rows:
            by_outcome.setdefault(row["outcome"], []).append(row["item_id"])
        unlabeled = Item.objects.filter(UNJUDGED)
        for outcome, ids in by_outcome.items():
            if outcome == Decision.Outcome.REVIEW:
                unlabeled.filter(pk__in=ids).update(queued=True, priority=-1.0)
            else:
                unlabeled.filter(pk__in=ids).update(queued=False)
        if rows:
            # One row per batch, not per image: a scoring job decides thousands.
            activity_record(
                project=project,
                action="gate.decisions",
                obj=gate,
                detail={
                    "decisions": len(rows),
                    "by_outcome": {o: len(ids) for o, ids in sorted(by_outcome.items())},
                    "audits_drawn": audits_drawn,
                },
            )
    return decisions


def audit_next(*, project: Project, user: User, outcome: str | None = None) -> Audit | None:
    """The next pending audit for this ops reviewer, held for them for a few minutes.

    ``outcome`` (a Decision.Outcome value) keeps to the audits of one kind of decision, say
    only launched ads; the caller has checked it is one.
    """
    now = timezone.now()
    pending = Audit.objects.filter(project=project, status=Audit.Status.PENDING)
    if outcome:
        pending = pending.filter(outcome=outcome)
    # The latest hold first: an undone verdict is re-held (see audit_undo), and it must be
    # the one that comes back, not an audit the person was shown after it.
    mine = (
        pending.filter(held_by=user, held_until__gt=now)
        .select_related("item")
        .order_by("-held_until", "-id")
        .first()
    )
    if mine is not None:
        return mine
    for _ in range(8):
        candidate = (
            pending.filter(Q(held_by__isnull=True) | Q(held_until__lt=now))
            .order_by("created_at", "id")
            .values_list("pk", flat=True)
            .first()
        )
        if candidate is None:
            return None
        took = (
            Audit.objects.filter(pk=candidate, status=Audit.Status.PENDING)
            .filter(Q(held_by__isnull=True) | Q(held_until__lt=now))
            .update(held_by=user, held_until=now + AUDIT_HOLD)
        )
        if took:
            return Audit.objects.select_related("item").get(pk=candidate)
    return None


class AuditNotFound(LookupError):
    """No audit with this id in this project (a 404: outsiders learn nothing of others)."""


def audit_submit(
    *,
    project: Project,
    audit_id: int,
    user: User,
    usable: bool,
    defects: list[str] | None = None,
) -> Audit:
    """Record an ops verdict. ``defects`` names the aspects at fault when not usable.

    The audit is looked up inside ``project`` (the one in the URL, which the caller has
    already checked the person belongs to): an id from another project is not found.

    Every verdict is also stored as an annotation (source "audit"), so an override is a
    labeled example for the next retraining and a confirmation is one too.
    """
    defects = list(defects or [])
    unknown = set(defects) - set(AD_ASPECTS)
    if unknown:
        raise ValueError(f"unknown aspects: {', '.join(sorted(unknown))}")
    if usable and defects:
        raise ValueError("a usable image has no defective aspect")
    with transaction.atomic():
        audit = (
            Audit.objects.select_for_update()
            .select_related("item")
            .filter(pk=audit_id, project=project)
            .first()
        )
        if audit is None:
            raise AuditNotFound("no such audit in this project")
        if audit.status != Audit.Status.PENDING:
            if audit.reviewer_id == user.pk and audit.usable == usable:
                return audit  # a repeated submit
            raise QueueError("this audit was already decided")
        if not usable and not defects:
            decision = getattr(audit.item, "decision", None)
            defects = [decision.driver] if decision and decision.driver in AD_ASPECTS else []
            if not defects:
                raise ValueError("say which aspect is defective")
        values = {a: ("defect" if a in defects else "ok") for a in AD_ASPECTS}
        values["usable"] = "yes" if usable else "no"
        gate_said_usable = audit.outcome == Decision.Outcome.LAUNCH
        agrees = (usable == gate_said_usable) or audit.outcome == Decision.Outcome.REVIEW
        audit.status = Audit.Status.CONFIRMED if agrees else Audit.Status.OVERRIDDEN
        audit.usable = usable
        audit.values = values
        audit.reviewer = user
        audit.decided_at = timezone.now()
        audit.held_by = None
        audit.save(
            update_fields=["status", "usable", "values", "reviewer", "decided_at", "held_by"]
        )
        label = annotation_record(
            item=audit.item, user=user, values=values, source="audit", log_activity=False
        )
        activity_record(
            project=project,
            action="audit.confirm" if agrees else "audit.override",
            actor=user,
            obj=audit,
            before={"status": Audit.Status.PENDING, "gate_outcome": audit.outcome},
            after={"status": audit.status, "usable": usable, "values": values},
            detail={"item_id": audit.item_id, "annotation_id": label.pk},
        )
    return audit


class NothingToUndo(LookupError):
    """The person has no audit verdict left to take back in this project."""


def audit_undo(*, project: Project, user: User) -> Audit:
    """Take back this person's last audit verdict in the project: the audit is pending
    again and held by them, so it is the next one they see, and the label the verdict
    wrote is undone (kept on record, like an undone labeling answer) so no training set
    reads it. Undo again to go further back. Raises NothingToUndo, or QueueError when the
    ad has been sent to audit again since (its newer audit is the one to decide).
    """
    now = timezone.now()
    with transaction.atomic():
        audit = (
            Audit.objects.select_for_update()
            .select_related("item")
            .filter(project=project, reviewer=user)
            .exclude(status=Audit.Status.PENDING)
            .order_by("-decided_at", "-id")
            .first()
        )
        if audit is None:
            raise NothingToUndo("nothing to undo: you have no audit verdicts in this project")
        if Audit.objects.filter(item=audit.item_id, status=Audit.Status.PENDING).exists():
            raise QueueError("this ad is waiting in a newer audit; decide that one instead")
        # The verdict's label: audit_submit writes one per verdict, and a newer verdict by
        # the same person on the same ad would belong to a newer audit, which would have
        # been the one undone.
        label = (
            Annotation.objects.filter(item=audit.item_id, user=user, source="audit", undone=False)
            .order_by("-id")
            .first()
        )
        if label is not None:
            annotation_record_undo(annotation=label, user=user, log_activity=False)
        before = {"status": audit.status, "usable": audit.usable, "values": audit.values}
        # Other audits this person holds go back to the pool now rather than when their
        # hold lapses: the undone one is what they work on next.
        Audit.objects.filter(project=project, status=Audit.Status.PENDING, held_by=user).update(
            held_by=None, held_until=None
        )
        audit.status = Audit.Status.PENDING
        audit.usable = None
        audit.values = {}
        audit.reviewer = None
        audit.decided_at = None
        audit.held_by = user
        audit.held_until = now + AUDIT_HOLD
        audit.save(
            update_fields=[
                "status",
                "usable",
                "values",
                "reviewer",
                "decided_at",
                "held_by",
                "held_until",
            ]
        )
        activity_record(
            project=project,
            action="audit.undo",
            actor=user,
            obj=audit,
            before=before,
            after={"status": audit.status},
            detail={"item_id": audit.item_id, "annotation_id": label.pk if label else None},
        )
    return audit
