"""The labeling queue: hand out the next item, take a submission, skip, undo, expire.

Every state change of the queue goes through one function here; the HTML views, the REST
API and the simulated reviewers all call them.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Exists, F, JSONField, OuterRef, Subquery
from django.utils import timezone

from jdreview.activity import activity_record
from jdreview.errors import UserError
from jdreview.models import Project
from labeling.kinds import spec_for
from labeling.models import Annotation, Assignment, Item
from labeling.schemas import gold_matches, validate_reason

_rng = random.Random()
EXPIRE_BATCH = 200
# Expired holds are swept at most this often per project and process: the sweep is a
# query on every next-task otherwise, and an abandoned item coming back a few seconds
# later than its expiry changes nothing for anyone.
EXPIRE_SWEEP_EVERY_S = 5.0
_last_sweep: dict[int, float] = {}


class QueueError(UserError):
    """A queue action that cannot be done in the item's current state (→ HTTP 409)."""

    status = 409


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def task_next(*, project: Project, user: User, now: datetime | None = None) -> Assignment | None:
    """The item this person should label next in this project, or None when done.

    An item already held by the person (not yet submitted, or re-opened by undo) comes
    first, so asking twice gives the same item. Otherwise a gold item (with probability
    ``project.gold_share``) or the next unlabeled item is claimed.
    """
    sweep_at = time.monotonic()
    if now is not None or sweep_at - _last_sweep.get(project.pk, -1e9) >= EXPIRE_SWEEP_EVERY_S:
        _last_sweep[project.pk] = sweep_at
        assignments_expire(project=project, now=now)
    now = now or timezone.now()
    current = _held(project=project, user=user, now=now)
    if current is not None:
        return current
    if project.gold_share > 0 and _rng.random() < project.gold_share:
        gold = _claim(project=project, user=user, now=now, gold=True)
        if gold is not None:
            return gold
    return _claim(project=project, user=user, now=now, gold=False)


def task_upcoming(*, project: Project, user: User, current: Assignment) -> Assignment | None:
    """A second item held for this person, so the page can preload its image while they
    work on ``current``. It is an ordinary hold: it expires like any other."""
    now = timezone.now()
    held = _held(project=project, user=user, now=now, exclude=current.pk)
    return held or _claim(project=project, user=user, now=now, gold=False)


def _held(
    *, project: Project, user: User, now: datetime, exclude: int | None = None
) -> Assignment | None:
    """The oldest item this person holds and has not submitted (undo re-opens an old one,
    so it comes back first)."""
    held = Assignment.objects.select_related("item").filter(
        user=user, project=project, status=Assignment.Status.ACTIVE, expires_at__gt=now
    )
    if exclude is not None:
        held = held.exclude(pk=exclude)
    return held.order_by("created_at", "id").first()


def _claim(*, project: Project, user: User, now: datetime, gold: bool) -> Assignment | None:
    seen = Assignment.objects.filter(item=OuterRef("pk"), user=user).exclude(
        status=Assignment.Status.EXPIRED
    )
    expires_at = now + project.assignment_ttl
    for _ in range(8):  # a lost race for one item moves on to the next
        with transaction.atomic():
            candidates = Item.objects.filter(project=project, queued=True, is_gold=gold).exclude(
                Exists(seen)
            )
            if not gold:
                # claims is never negative, so with overlap 1 "claims < 1" is "claims = 0";
                # said as an equality, PostgreSQL reads queue_idx already in priority order
                # and stops at the first free row instead of sorting every open item
                # (measured: 29 ms -> 0.5 ms per claim on 9,000 items).
                if project.overlap == 1:
                    candidates = candidates.filter(claims=0)
                else:
                    candidates = candidates.filter(claims__lt=project.overlap)
            candidates = candidates.order_by("priority", "id")
            if _skip_locked():
                # Rows another annotator is claiming right now are skipped, not waited for.
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            # The whole row, locked: it is what the caller gets back, so no second read.
            item = candidates.first()
            if item is None:
                return None
            if not gold:
                # The conditional UPDATE is the claim: it cannot take a slot past the overlap,
                # whatever the database's locking does.
                took = Item.objects.filter(pk=item.pk, claims__lt=project.overlap).update(
                    claims=F("claims") + 1
                )
                if not took:
                    continue
                item.claims += 1  # the row is ours (locked) until commit: same as a re-read
            # One upsert: a fresh hold is inserted; this person's earlier, expired hold on
            # the same item (the unique (item, user) row) is re-activated in place.
            (assignment,) = Assignment.objects.bulk_create(
                [
                    Assignment(
                        item=item,
                        user=user,
                        project=project,
                        expires_at=expires_at,
                        status=Assignment.Status.ACTIVE,
                        updated_at=now,
                    )
                ],
                update_conflicts=True,
                unique_fields=["item", "user"],
                update_fields=["status", "expires_at", "updated_at"],
            )
            return assignment
    return None


def assignments_expire(*, project: Project, now: datetime | None = None) -> int:
    """Give abandoned items back to the queue. Returns how many holds expired."""
    now = now or timezone.now()
    stale = list(
        Assignment.objects.filter(
            project=project, status=Assignment.Status.ACTIVE, expires_at__lt=now
        ).values_list("id", "item_id", "item__is_gold")[:EXPIRE_BATCH]
    )
    expired = 0
    for assignment_id, item_id, is_gold in stale:
        with transaction.atomic():
            # Conditional on still being active: a submission racing with us wins.
            if Assignment.objects.filter(
                pk=assignment_id, status=Assignment.Status.ACTIVE, expires_at__lt=now
            ).update(status=Assignment.Status.EXPIRED):
                expired += 1
                if not is_gold:
                    Item.objects.filter(pk=item_id, claims__gt=0).update(claims=F("claims") - 1)
    return expired


def annotation_submit(
    *,
    assignment_id: int,
    user: User,
    values: Any,
    marks: Any = None,
    reason: Any = "",
    lead_time_ms: int | None = None,
    source: str = "ui",
) -> tuple[Annotation, bool]:
    """Store the person's annotation for an assignment. Returns (annotation, created).

    Idempotent: submitting the same assignment again (a double click, a retried request)
    returns the stored annotation and stores nothing new.
    """
    now = timezone.now()
    with transaction.atomic():
        try:
            assignment = (
                Assignment.objects.select_for_update()
                .select_related("item", "project")
                # The answer undo took back from this task, if it is one: this submit then
                # replaces it (an edit). Read in the same query, not one more per submit.
                .annotate(
                    earlier=Subquery(
                        Annotation.objects.filter(assignment=OuterRef("pk"), undone=True)
                        .order_by("-id")
                        .values("values")[:1],
                        output_field=JSONField(),
                    )
                )
                .get(pk=assignment_id, user=user)
            )
        except Assignment.DoesNotExist:
            raise QueueError("no such task for you; ask for the next item") from None
        item, project = assignment.item, assignment.project
        if assignment.status == Assignment.Status.SUBMITTED:
            existing = assignment.annotations.filter(undone=False).first()
            if existing is not None:
                return existing, False
        if assignment.status == Assignment.Status.SKIPPED:
            raise QueueError("this item was skipped; it cannot be submitted")
        clean_values, clean_marks = spec_for(item.kind).validate(item, values, marks)
        clean_reason = validate_reason(reason)
        if assignment.status == Assignment.Status.EXPIRED and not item.is_gold:
            # The hold lapsed; the work still counts if nobody else took the slot.
            took = Item.objects.filter(pk=item.pk, claims__lt=project.overlap).update(
                claims=F("claims") + 1
            )
            if not took:
                raise QueueError("this item expired and went to someone else; take the next one")
        if lead_time_ms is None:
            lead_time_ms = int((now - assignment.updated_at).total_seconds() * 1000)
        annotation = Annotation.objects.create(
            item=item,
            project=project,
            user=user,
            assignment=assignment,
            values=clean_values,
            marks=clean_marks,
            reason=clean_reason,
            lead_time_ms=max(0, min(int(lead_time_ms), 2**31 - 1)),
            is_gold=item.is_gold,
            gold_correct=gold_matches(clean_values, item.gold_answer) if item.is_gold else None,
            source=source,
        )
        assignment.status = Assignment.Status.SUBMITTED
        assignment.save(update_fields=["status", "updated_at"])
        Item.objects.filter(pk=item.pk).update(done_count=F("done_count") + 1)
        earlier = assignment.earlier
        activity_record(
            project=project,
            action="label.submit" if earlier is None else "label.edit",
            actor=user,
            obj=annotation,
            before=earlier,
            after=clean_values,
            detail={"item_id": item.pk, "source": source},
        )
    return annotation, True


def task_skip(*, assignment_id: int, user: User) -> None:
    """Give an item back without labeling it; this person will not be offered it again."""
    with transaction.atomic():
        assignment = (
            Assignment.objects.select_for_update()
            .select_related("item")
            .filter(pk=assignment_id, user=user)
            .first()
        )
        if assignment is None:
            raise QueueError("no such task for you")
        if assignment.status == Assignment.Status.SKIPPED:
            return
        if assignment.status == Assignment.Status.SUBMITTED:
            raise QueueError("this item is already submitted; use undo instead")
        held = assignment.status == Assignment.Status.ACTIVE
        assignment.status = Assignment.Status.SKIPPED
        assignment.save(update_fields=["status", "updated_at"])
        if held and not assignment.item.is_gold:
            Item.objects.filter(pk=assignment.item_id, claims__gt=0).update(claims=F("claims") - 1)
        activity_record(
            project=assignment.project_id,
            action="label.skip",
            actor=user,
            obj=assignment,
            detail={"item_id": assignment.item_id},
        )


def annotation_undo(*, project: Project, user: User) -> Annotation | None:
    """Take back this person's last submission in the project and put the item back in
    front of them. The annotation row is kept, marked undone, for the record."""
    now = timezone.now()
    with transaction.atomic():
        last = (
            Annotation.objects.select_for_update()
            .filter(project=project, user=user, undone=False, assignment__isnull=False)
            .select_related("assignment")
            .order_by("-id")
            .first()
        )
        if last is None:
            return None
        _mark_undone(last, now=now)
        assignment = last.assignment
        assert assignment is not None
        assignment.status = Assignment.Status.ACTIVE
        assignment.expires_at = now + project.assignment_ttl
        assignment.save(update_fields=["status", "expires_at", "updated_at"])
        activity_record(
            project=project,
            action="label.undo",
            actor=user,
            obj=last,
            before=last.values,
            detail={"item_id": last.item_id},
        )
    return last


def _mark_undone(annotation: Annotation, *, now: datetime) -> None:
    """The row stays, marked undone: exports, agreement and training read live rows only,
    and the history of what was first answered is kept."""
    annotation.undone = True
    annotation.undone_at = now
    annotation.save(update_fields=["undone", "undone_at"])
    Item.objects.filter(pk=annotation.item_id, done_count__gt=0).update(
        done_count=F("done_count") - 1
    )


def annotation_record(
    *,
    item: Item,
    user: User,
    values: Any,
    source: str,
    reason: Any = "",
    log_activity: bool = True,
) -> Annotation:
    """Store a label that did not come through the queue (an ops audit verdict, say).

    It counts like any other annotation: it is exported and reaches the next training set.
    A caller whose own change the label is part of (an audit) records that change in the
    activity log instead (``log_activity=False``): one change, one row.
    """
    clean_values, _ = spec_for(item.kind).validate(item, values, [])
    with transaction.atomic():
        annotation = Annotation.objects.create(
            item=item,
            project_id=item.project_id,
            user=user,
            values=clean_values,
            reason=validate_reason(reason),
            source=source,
        )
        Item.objects.filter(pk=item.pk).update(done_count=F("done_count") + 1)
        if log_activity:
            activity_record(
                project=item.project_id,
                action="label.record",
                actor=user,
                obj=annotation,
                after=clean_values,
                detail={"item_id": item.pk, "source": source},
            )
    return annotation


def annotation_record_undo(
    *, annotation: Annotation, user: User | None = None, log_activity: bool = True
) -> Annotation:
    """Take back a label stored by :func:`annotation_record` (an audit verdict that was a
    slip). The caller decides which one and puts its own state back; this only retires
    the label, as undo does for queue submissions. ``user`` is who takes it back."""
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if not locked.undone:
            _mark_undone(locked, now=timezone.now())
            if log_activity:
                activity_record(
                    project=locked.project_id,
                    action="label.record_undo",
                    actor=user,
                    obj=locked,
                    before=locked.values,
                    detail={"item_id": locked.item_id},
                )
    return locked
