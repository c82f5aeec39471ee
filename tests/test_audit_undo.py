"""An ops reviewer takes back a slipped audit verdict; the audit queue keeps to one kind of
gate decision; the audit link shows only where there are ads to audit."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from jdreview.roles import Role
from labeling.models import Annotation, Item
from rewards import audits
from rewards.models import Audit
from rewards.training import training_snapshot
from tests.factories import ItemFactory, UserFactory, add_member


def audit_of(project, outcome: str = "launch") -> Audit:  # type: ignore[no-untyped-def]
    item = ItemFactory(project=project)
    return Audit.objects.create(item=item, project=project, outcome=outcome, sample_rate=1.0)


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def undo_url(project) -> str:  # type: ignore[no-untyped-def]
    return reverse("rewards:audit_undo", args=[project.pk])


@pytest.fixture
def ops2(groups, project):  # type: ignore[no-untyped-def]
    user = UserFactory(username="oona")
    user.groups.add(groups[Role.OPS])
    add_member(user, project)
    return user


def test_undo_puts_the_audit_back_in_front_of_its_reviewer(project, ops):
    audit = audit_of(project)
    audit_of(project)  # the next one in the queue, shown after the verdict
    client = logged_in(ops)
    client.get(reverse("rewards:audit", args=[project.pk]))
    client.post(reverse("rewards:audit_submit", args=[project.pk, audit.pk]), {"verdict": "usable"})
    assert training_snapshot(project).info["sources"] == {"audit": 1}

    response = client.post(undo_url(project))

    assert response.status_code == 302
    audit.refresh_from_db()
    assert audit.status == Audit.Status.PENDING and audit.usable is None
    assert audit.held_by == ops and audit.reviewer is None
    label = Annotation.objects.get(source="audit")
    assert label.undone and label.undone_at is not None  # kept on record
    assert Item.objects.get(pk=audit.item_id).done_count == 0
    assert training_snapshot(project).info["sources"] == {}
    page = client.get(reverse("rewards:audit", args=[project.pk])).content.decode()
    assert f'data-audit="{audit.pk}"' in page


def test_undo_again_after_deciding_again_takes_back_the_new_verdict(project, ops):
    audit = audit_of(project)
    audits.audit_submit(project=project, audit_id=audit.pk, user=ops, usable=True)
    audits.audit_undo(project=project, user=ops)
    audits.audit_submit(
        project=project, audit_id=audit.pk, user=ops, usable=False, defects=["color"]
    )
    live = Annotation.objects.get(source="audit", undone=False)
    assert live.values["color"] == "defect"
    audits.audit_undo(project=project, user=ops)
    assert not Annotation.objects.filter(source="audit", undone=False).exists()
    assert Annotation.objects.filter(source="audit").count() == 2


def test_it_does_not_undo_another_persons_verdict(project, ops, ops2):
    audit = audit_of(project)
    audits.audit_submit(project=project, audit_id=audit.pk, user=ops2, usable=True)

    response = logged_in(ops).post(undo_url(project))

    assert response.status_code == 404
    assert "Nothing to undo" in response.content.decode()
    audit.refresh_from_db()
    assert audit.status == Audit.Status.CONFIRMED and audit.reviewer == ops2
    assert Annotation.objects.filter(source="audit", undone=False).count() == 1


def test_nothing_to_undo_is_a_clean_404_with_its_message_for_htmx_too(project, ops):
    audit_of(project)
    response = logged_in(ops).post(undo_url(project), HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    page = response.content.decode()
    assert page.startswith('<section id="audit"')  # the partial, for htmx to swap in
    assert 'role="alert"' in page and "Nothing to undo" in page


def test_it_rejects_undo_in_another_projects_url(project, other_project, ops, outsider):
    audit = audit_of(project)
    audits.audit_submit(project=project, audit_id=audit.pk, user=ops, usable=True)
    # Not a member of the other project: the URL does not exist for them.
    assert logged_in(ops).post(undo_url(other_project)).status_code == 404
    # A member of both: undo in the other project has nothing of this one to undo.
    add_member(ops, other_project)
    assert logged_in(ops).post(undo_url(other_project)).status_code == 404
    audit.refresh_from_db()
    assert audit.status == Audit.Status.CONFIRMED
    # An annotator of the other project may not audit at all.
    assert logged_in(outsider).post(undo_url(other_project)).status_code == 403


def test_undo_is_refused_when_the_ad_went_to_audit_again(project, ops):
    audit = audit_of(project)
    audits.audit_submit(project=project, audit_id=audit.pk, user=ops, usable=True)
    Audit.objects.create(item=audit.item, project=project, outcome="review", sample_rate=1.0)

    response = logged_in(ops).post(undo_url(project))

    assert response.status_code == 409
    assert "newer audit" in response.content.decode()
    audit.refresh_from_db()
    assert audit.status == Audit.Status.CONFIRMED


def test_the_queue_keeps_to_one_kind_of_decision(project, ops):
    review = audit_of(project, "review")
    launch = audit_of(project, "launch")
    assert audits.audit_next(project=project, user=ops, outcome="launch") == launch
    page = logged_in(ops).get(reverse("rewards:audit", args=[project.pk]), {"outcome": "reject"})
    assert page.status_code == 200 and "No audits waiting among ads the gate rejected" in (
        page.content.decode()
    )
    assert audits.audit_next(project=project, user=ops, outcome="review") == review


def test_a_bad_decision_filter_is_a_400_that_says_so(project, ops):
    audit_of(project)
    response = logged_in(ops).get(reverse("rewards:audit", args=[project.pk]), {"outcome": "yes"})
    assert response.status_code == 400
    assert "Unknown decision" in response.content.decode()
    assert not Audit.objects.filter(held_by=ops).exists()


@pytest.mark.parametrize(("kind", "shown"), [("ad_image", True), ("query_expansion", False)])
def test_the_audit_link_shows_only_on_projects_with_ad_images(project, ops, kind, shown):
    ItemFactory(project=project, kind=kind)
    client = logged_in(ops)
    audit_url = reverse("rewards:audit", args=[project.pk])
    assert (audit_url in client.get(f"/p/{project.pk}/").content.decode()) is shown
    assert (audit_url in client.get("/").content.decode()) is shown
