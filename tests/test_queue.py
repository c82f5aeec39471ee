"""The labeling queue: next item, submit, skip, undo, expiry, overlap and gold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Annotation, Assignment, Item
from labeling.schemas import AnnotationError
from tests.factories import BAD_SHAPE, GOOD, ItemFactory

pytestmark = [pytest.mark.django_db, pytest.mark.backend]


def label(project, user, values=GOOD):  # type: ignore[no-untyped-def]
    a = services.task_next(project=project, user=user)
    assert a is not None
    return services.annotation_submit(assignment_id=a.pk, user=user, values=values)[0]


def test_asking_twice_gives_the_same_item(project, annotator, items):
    first = services.task_next(project=project, user=annotator)
    again = services.task_next(project=project, user=annotator)
    assert first.pk == again.pk


def test_two_annotators_get_different_items_without_overlap(project, annotator, annotator2, items):
    a = services.task_next(project=project, user=annotator)
    b = services.task_next(project=project, user=annotator2)
    assert a.item_id != b.item_id


def test_overlap_gives_each_item_to_k_annotators(project, annotator, annotator2, ops, items):
    project.overlap = 2
    project.save()
    seen: dict[int, set[str]] = {}
    for user in (annotator, annotator2, ops):
        while (a := services.task_next(project=project, user=user)) is not None:
            services.annotation_submit(assignment_id=a.pk, user=user, values=GOOD)
            seen.setdefault(a.item_id, set()).add(user.username)
    assert all(len(users) == 2 for users in seen.values())
    assert len(seen) == len(items)
    assert Annotation.objects.count() == 2 * len(items)


def test_double_submit_stores_one_annotation(project, annotator, items):
    a = services.task_next(project=project, user=annotator)
    first, created1 = services.annotation_submit(assignment_id=a.pk, user=annotator, values=GOOD)
    second, created2 = services.annotation_submit(assignment_id=a.pk, user=annotator, values=GOOD)
    assert (created1, created2) == (True, False)
    assert first.pk == second.pk
    assert Annotation.objects.filter(item_id=a.item_id).count() == 1


def test_bad_values_are_refused_and_nothing_is_stored(project, annotator, items):
    a = services.task_next(project=project, user=annotator)
    with pytest.raises(AnnotationError, match="shape"):
        services.annotation_submit(
            assignment_id=a.pk,
            user=annotator,
            values={"shape": "maybe", "placement": "ok", "color": "ok", "usable": "yes"},
        )
    with pytest.raises(AnnotationError, match="outside the image"):
        services.annotation_submit(
            assignment_id=a.pk,
            user=annotator,
            values=GOOD,
            marks=[{"type": "point", "x": 500, "y": 3}],
        )
    assert Annotation.objects.count() == 0
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.ACTIVE


def test_someone_elses_task_cannot_be_submitted(project, annotator, annotator2, items):
    a = services.task_next(project=project, user=annotator)
    with pytest.raises(services.QueueError):
        services.annotation_submit(assignment_id=a.pk, user=annotator2, values=GOOD)


def test_skip_gives_the_item_to_someone_else_but_not_back(project, annotator, annotator2):
    only = ItemFactory(project=project)
    a = services.task_next(project=project, user=annotator)
    services.task_skip(assignment_id=a.pk, user=annotator)
    assert services.task_next(project=project, user=annotator) is None
    b = services.task_next(project=project, user=annotator2)
    assert b.item_id == only.pk


def test_undo_reopens_the_last_item_with_the_annotation_kept(project, annotator, items):
    first = label(project, annotator, BAD_SHAPE)
    label(project, annotator, GOOD)
    undone = services.annotation_undo(project=project, user=annotator)
    assert undone.values == GOOD
    current = services.task_next(project=project, user=annotator)
    assert current.item_id == undone.item_id
    # Relabeling after undo stores a new live annotation; the undone one stays on record.
    services.annotation_submit(assignment_id=current.pk, user=annotator, values=BAD_SHAPE)
    live = Annotation.objects.filter(item_id=undone.item_id, undone=False)
    assert [a.values for a in live] == [BAD_SHAPE]
    assert Annotation.objects.filter(item_id=undone.item_id, undone=True).count() == 1
    assert Annotation.objects.get(pk=first.pk).undone is False


def test_abandoned_item_goes_back_to_the_queue(project, annotator, annotator2):
    only = ItemFactory(project=project)
    a = services.task_next(project=project, user=annotator)
    assert services.task_next(project=project, user=annotator2) is None
    later = timezone.now() + timedelta(seconds=project.assignment_ttl_s + 1)
    b = services.task_next(project=project, user=annotator2, now=later)
    assert b is not None and b.item_id == only.pk
    assert Assignment.objects.get(pk=a.pk).status == Assignment.Status.EXPIRED
    # The late submission of the first annotator is refused: the slot went to someone else.
    with pytest.raises(services.QueueError, match="expired"):
        services.annotation_submit(assignment_id=a.pk, user=annotator, values=GOOD)
    services.annotation_submit(assignment_id=b.pk, user=annotator2, values=GOOD)
    assert Item.objects.get(pk=only.pk).done_count == 1


def test_gold_items_are_mixed_in_and_scored(project, annotator):
    project.gold_share = 1.0
    project.save()
    gold = ItemFactory(project=project, is_gold=True, gold_answer=BAD_SHAPE)
    ItemFactory(project=project)
    a = services.task_next(project=project, user=annotator)
    assert a.item_id == gold.pk
    annotation, _ = services.annotation_submit(assignment_id=a.pk, user=annotator, values=GOOD)
    assert annotation.is_gold and annotation.gold_correct is False


def test_queue_ends_when_everything_is_labeled(project, annotator, items):
    for _ in items:
        label(project, annotator)
    assert services.task_next(project=project, user=annotator) is None
    assert set(Item.objects.values_list("done_count", flat=True)) == {1}


def test_own_expired_hold_is_taken_up_again(project, annotator):
    only = ItemFactory(project=project)
    first = services.task_next(project=project, user=annotator)
    later = timezone.now() + timedelta(seconds=project.assignment_ttl_s + 1)
    again = services.task_next(project=project, user=annotator, now=later)
    assert again.pk == first.pk and again.item_id == only.pk
    assert again.status == Assignment.Status.ACTIVE
    assert Item.objects.get(pk=only.pk).claims == 1
    services.annotation_submit(assignment_id=again.pk, user=annotator, values=GOOD)
    assert Annotation.objects.filter(item=only).count() == 1


def test_each_request_checks_roles_with_few_queries(
    project, annotator, items, api, django_assert_max_num_queries
):
    from django.urls import reverse

    client = api(annotator)
    client.get(reverse("api-next", args=[project.pk]))  # warm: sweep, first claim
    task = services.task_next(project=project, user=annotator)
    # token + roles + (savepoint) lock task + insert + 2 updates + activity row (+ release)
    with django_assert_max_num_queries(9):
        client.post(reverse("api-submit", args=[task.pk]), {"values": GOOD}, format="json")
    # token + roles + project + held? + (savepoint) pick + claim + insert (+ savepoints)
    with django_assert_max_num_queries(11):
        client.get(reverse("api-next", args=[project.pk]))
