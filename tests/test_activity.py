"""The activity log: each kind of change writes exactly one row (who, what, which row,
before and after) in the change's own transaction, a change that fails writes none; the
page filters and pages it; it exports as CSV and JSON lines; the API serves it to those
who may manage the project."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jdreview.activity import activity_record
from jdreview.models import ActivityEvent, Membership, Project
from jdreview.projects import membership_remove, membership_set, project_settings_update
from jdreview.roles import Role
from labeling import services
from labeling.models import Annotation, Item
from labeling.schemas import AnnotationError
from rewards import audits
from rewards.models import Audit, Decision
from tests.factories import (
    BAD_SHAPE,
    GOOD,
    ItemFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    png_bytes,
)
from workers import services as jobs
from workers.models import Job, ModelVersion
from workers.versions import (
    VersionError,
    artifact_dir,
    model_version_create,
    model_version_promote,
    model_version_reject,
    model_version_rollback,
)

# Rows must share the change's transaction, and rollbacks differ between the databases.
pytestmark = [pytest.mark.django_db, pytest.mark.backend]


def only(project: Project, action: str | None = None) -> ActivityEvent:
    """The one row of the project's log (of ``action``), asserting there is exactly one."""
    rows = ActivityEvent.objects.filter(project=project)
    if action is not None:
        rows = rows.filter(action=action)
    found = list(rows)
    assert len(found) == 1, [(e.action, e.detail) for e in ActivityEvent.objects.all()]
    return found[0]


def actions(project: Project) -> list[str]:
    rows = ActivityEvent.objects.filter(project=project).order_by("id")
    return list(rows.values_list("action", flat=True))


def submit(user, project, values=GOOD):  # type: ignore[no-untyped-def]
    assignment = services.task_next(project=project, user=user)
    assert assignment is not None
    annotation, _ = services.annotation_submit(
        assignment_id=assignment.pk, user=user, values=values
    )
    return assignment, annotation


# Labels ---------------------------------------------------------------------------------


def test_a_submit_is_one_row_with_the_answer(project, annotator, items):
    _, annotation = submit(annotator, project)
    row = only(project)
    assert (row.action, row.actor, row.actor_name) == ("label.submit", annotator, "anna")
    assert (row.object_type, row.object_id) == ("annotation", annotation.pk)
    assert row.before is None and row.after == GOOD
    assert row.detail == {"item_id": annotation.item_id, "source": "ui"}


def test_a_repeated_submit_stores_nothing_and_logs_nothing(project, annotator, items):
    assignment, _ = submit(annotator, project)
    services.annotation_submit(assignment_id=assignment.pk, user=annotator, values=GOOD)
    assert actions(project) == ["label.submit"]


def test_undo_then_submit_is_an_undo_and_an_edit_with_both_answers(project, annotator, items):
    _, first = submit(annotator, project, GOOD)
    services.annotation_undo(project=project, user=annotator)
    undo = only(project, "label.undo")
    assert (undo.actor, undo.object_id, undo.before) == (annotator, first.pk, GOOD)
    _, second = submit(annotator, project, BAD_SHAPE)
    edit = only(project, "label.edit")
    assert (edit.object_id, edit.before, edit.after) == (second.pk, GOOD, BAD_SHAPE)
    assert actions(project) == ["label.submit", "label.undo", "label.edit"]


def test_a_skip_is_one_row(project, annotator, items):
    assignment = services.task_next(project=project, user=annotator)
    assert assignment is not None
    services.task_skip(assignment_id=assignment.pk, user=annotator)
    row = only(project)
    assert (row.action, row.actor, row.object_type, row.object_id) == (
        "label.skip",
        annotator,
        "assignment",
        assignment.pk,
    )


def test_refused_label_changes_leave_no_row(project, annotator, items):
    assignment = services.task_next(project=project, user=annotator)
    assert assignment is not None
    with pytest.raises(AnnotationError):
        services.annotation_submit(
            assignment_id=assignment.pk, user=annotator, values={"shape": "maybe"}
        )
    services.annotation_submit(assignment_id=assignment.pk, user=annotator, values=GOOD)
    with pytest.raises(services.QueueError):  # a submitted item cannot be skipped
        services.task_skip(assignment_id=assignment.pk, user=annotator)
    assert actions(project) == ["label.submit"]


def test_a_change_whose_transaction_rolls_back_leaves_no_row(project, annotator, items):
    assignment = services.task_next(project=project, user=annotator)
    assert assignment is not None
    with pytest.raises(RuntimeError), transaction.atomic():
        services.annotation_submit(assignment_id=assignment.pk, user=annotator, values=GOOD)
        assert actions(project) == ["label.submit"]  # written inside the transaction
        raise RuntimeError("the request failed after the submit")
    assert not Annotation.objects.exists()
    assert actions(project) == []


def test_a_label_stored_outside_the_queue_and_its_undo(project, ops, items):
    label = services.annotation_record(item=items[0], user=ops, values=GOOD, source="audit")
    services.annotation_record_undo(annotation=label, user=ops)
    services.annotation_record_undo(annotation=label, user=ops)  # already undone: no change
    assert actions(project) == ["label.record", "label.record_undo"]
    assert only(project, "label.record").after == GOOD
    assert only(project, "label.record_undo").before == GOOD


# The ops audit and the gate --------------------------------------------------------------


def audit_of(project, outcome="launch"):  # type: ignore[no-untyped-def]
    item = ItemFactory(project=project)
    return Audit.objects.create(item=item, project=project, outcome=outcome, sample_rate=1.0)


def test_an_audit_that_agrees_is_one_confirm_row_and_no_label_row(project, ops):
    audit = audit_of(project)
    audits.audit_submit(project=project, audit_id=audit.pk, user=ops, usable=True)
    row = only(project)
    assert (row.action, row.actor, row.object_id) == ("audit.confirm", ops, audit.pk)
    assert row.before == {"status": "pending", "gate_outcome": "launch"}
    assert row.after["status"] == "confirmed" and row.after["usable"] is True
    assert row.detail["annotation_id"] == Annotation.objects.get(source="audit").pk


def test_an_override_of_the_gate_is_its_own_action(project, ops):
    audit = audit_of(project, outcome="launch")
    audits.audit_submit(
        project=project, audit_id=audit.pk, user=ops, usable=False, defects=["color"]
    )
    row = only(project)
    assert row.action == "audit.override"
    assert row.after["status"] == "overridden" and row.after["values"]["color"] == "defect"


def test_an_audit_undo_is_one_row_and_a_refused_audit_none(project, ops):
    audit = audit_of(project)
    audits.audit_submit(project=project, audit_id=audit.pk, user=ops, usable=True)
    with pytest.raises(services.QueueError):  # decided already, the other way
        audits.audit_submit(project=project, audit_id=audit.pk, user=ops, usable=False)
    with pytest.raises(ValueError):
        audits.audit_submit(
            project=project, audit_id=audit.pk, user=ops, usable=False, defects=["size"]
        )
    audits.audit_undo(project=project, user=ops)
    assert actions(project) == ["audit.confirm", "audit.undo"]
    undo = only(project, "audit.undo")
    assert undo.before["status"] == "confirmed" and undo.after == {"status": "pending"}


def test_gate_settings_log_only_what_changed(project, manager):
    audits.gate_settings_update(
        project=project, values={"target": "0.95", "confidence": "95%"}, user=manager
    )
    row = only(project)
    assert row.action == "gate.settings" and row.actor == manager
    assert row.before == {"target": 0.98} and row.after == {"target": 0.95}
    assert row.detail == {"recalibrate": True}
    # The same values again, and a refused value: no change, no row.
    audits.gate_settings_update(project=project, values={"target": "95%"}, user=manager)
    with pytest.raises(ValueError):
        audits.gate_settings_update(project=project, values={"confidence": "2"}, user=manager)
    assert actions(project) == ["gate.settings"]


def test_a_batch_of_gate_decisions_is_one_row_with_its_counts(project):
    items = ItemFactory.create_batch(3, project=project)
    outcomes = ["launch", "launch", "reject"]
    rows = [
        {"item_id": i.pk, "scores": {}, "model_versions": {}, "outcome": o}
        for i, o in zip(items, outcomes, strict=True)
    ]
    audits.gate_for(project)
    audits.decisions_record(project=project, rows=rows)
    row = only(project)
    assert row.action == "gate.decisions" and row.actor is None
    assert row.detail["decisions"] == 3
    assert row.detail["by_outcome"] == {"launch": 2, "reject": 1}
    assert row.detail["audits_drawn"] == Audit.objects.count()
    assert Decision.objects.count() == 3


# Models -----------------------------------------------------------------------------------


def new_version(project, user=None) -> ModelVersion:  # type: ignore[no-untyped-def]
    with artifact_dir() as tmp:
        (tmp / "weights.bin").write_bytes(b"w")
        return model_version_create(
            project=project, family="generator", name="tiny", saved_dir=tmp, user=user
        )


def test_model_versions_created_promoted_rolled_back_and_rejected(project, manager):
    v1 = new_version(project, manager)
    created = only(project, "model.create")
    assert (created.actor, created.object_id, created.after) == (
        manager,
        v1.pk,
        {"status": "candidate", "version": 1},
    )
    model_version_promote(version=v1, user=manager)
    v2 = new_version(project, manager)
    model_version_promote(version=v2, user=manager)
    promote = ActivityEvent.objects.filter(action="model.promote").latest("id")
    assert promote.before == {"live": 1} and promote.after == {"live": 2}
    model_version_promote(version=v2, user=manager)  # already live: nothing changes
    model_version_rollback(project=project, family="generator", user=manager)
    rollback = only(project, "model.rollback")
    assert (rollback.before, rollback.after) == ({"live": 2}, {"live": 1})
    assert rollback.object_id == v1.pk
    v3 = new_version(project)
    model_version_reject(version=v3)
    reject = only(project, "model.reject")
    assert reject.before == {"status": "candidate"} and reject.after == {"status": "rejected"}
    assert actions(project) == [
        "model.create",
        "model.promote",
        "model.create",
        "model.promote",
        "model.rollback",
        "model.create",
        "model.reject",
    ]


def test_a_refused_promotion_leaves_no_row(project, manager, settings):
    version = new_version(project, manager)
    ActivityEvent.objects.all().delete()
    version.artifact = "project-x/gone"
    version.save(update_fields=["artifact"])
    with pytest.raises(VersionError):
        model_version_promote(version=version, user=manager)
    with pytest.raises(VersionError):  # nothing earlier to roll back to
        model_version_rollback(project=project, family="generator", user=manager)
    assert actions(project) == []


# Items, imports and exports -------------------------------------------------------------


def test_an_upload_a_manifest_and_a_label_studio_import_are_one_row_each(api, manager, project):
    client = api(manager)
    upload = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
    resp = client.post(reverse("api-items", args=[project.pk]), {"image": upload})
    assert resp.status_code == 201, resp.content
    row = only(project)
    assert (row.action, row.actor, row.object_id) == ("items.create", manager, resp.json()["id"])
    assert row.detail["count"] == 1 and row.detail["sources"] == ["upload"]

    lines = "\n".join(
        json.dumps({"image_base64": base64.b64encode(png_bytes()).decode(), "external_id": x})
        for x in ("m1", "m2")
    )
    manifest = SimpleUploadedFile("m.jsonl", lines.encode())
    resp = client.post(reverse("api-import", args=[project.pk]), {"manifest": manifest})
    assert resp.status_code == 201, resp.content
    batch = ActivityEvent.objects.filter(action="items.create").latest("id")
    assert batch.detail["count"] == 2 and batch.object_id is None
    assert [batch.detail["first_id"], batch.detail["last_id"]] == resp.json()["item_ids"]

    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()

    def task(values: dict[str, str]) -> dict[str, Any]:
        result = [
            {"from_name": k, "type": "choices", "value": {"choices": [v]}}
            for k, v in values.items()
        ]
        return {"data": {"image": uri}, "annotations": [{"result": result}]}

    ls_url = reverse("api-import-labelstudio", args=[project.pk])
    refused = client.post(ls_url, [task({"shape": "ok"})], format="json")  # aspects missing
    assert refused.status_code == 400
    assert actions(project) == ["items.create", "items.create"]
    resp = client.post(ls_url, [task(GOOD)], format="json")
    assert resp.status_code == 201, resp.content
    ls = only(project, "items.import_labelstudio")
    assert ls.actor == manager and ls.detail["count"] == 1 and ls.detail["annotations"] == 1
    assert actions(project) == ["items.create", "items.create", "items.import_labelstudio"]


def test_a_refused_import_leaves_no_row(api, manager, project):
    manifest = SimpleUploadedFile("m.jsonl", b'{"image": "missing.png"}\n')
    resp = api(manager).post(reverse("api-import", args=[project.pk]), {"manifest": manifest})
    assert resp.status_code == 400
    assert actions(project) == []


def test_a_trace_import_is_one_row(api, manager, project):
    from tests.test_agent_import import chats

    resp = api(manager).post(
        f"/api/projects/{project.pk}/traces/import",
        data=json.dumps(chats(2)),
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content
    row = only(project)
    assert (row.action, row.actor) == ("items.create", manager)
    assert row.detail["count"] == 2 and row.detail["kind"] == "agent_trace"


def test_an_export_download_and_an_export_job_are_logged(api, manager, project, no_enqueue):
    resp = api(manager).get(reverse("api-export", args=[project.pk]), {"format": "hf"})
    assert resp.status_code == 200
    b"".join(resp.streaming_content)
    download = only(project, "labels.export")
    assert download.actor == manager and download.detail == {"format": "hf"}
    ActivityEvent.objects.all().delete()

    job = jobs.job_start(project=project, kind="export", params={"format": "jsonl"}, user=manager)
    jobs.job_run(job.pk)
    assert actions(project) == ["job.start", "labels.export", "job.succeed"]
    start = only(project, "job.start")
    assert (start.actor, start.object_id, start.actor_job_id) == (manager, job.pk, None)
    assert start.detail == {"kind": "export", "params": {"format": "jsonl"}}
    # The export file is the job's work: the job is its actor.
    made = only(project, "labels.export")
    assert (made.actor, made.actor_job_id) == (None, job.pk)
    assert made.detail == {"format": "jsonl", "annotations": 0}
    done = only(project, "job.succeed")
    assert done.actor_job_id == job.pk and done.after == {"status": "succeeded"}


def test_a_failing_job_is_a_fail_row_and_a_refused_start_none(project, manager, no_enqueue):
    from workers.params import ParamError

    with pytest.raises(ParamError):
        jobs.job_start(project=project, kind="export", params={"format": "yaml"}, user=manager)
    assert actions(project) == []
    job = jobs.job_start(project=project, kind="export", params={"format": "jsonl"}, user=manager)
    Job.objects.filter(pk=job.pk).update(params={"format": "yaml"})  # as if corrupted
    jobs.job_run(job.pk)
    assert actions(project) == ["job.start", "job.fail"]
    failed = only(project, "job.fail")
    assert failed.actor_job_id == job.pk and "stored parameters" in failed.detail["error"]


def test_a_job_whose_worker_stopped_is_one_fail_row(project, manager, no_enqueue, settings):
    job = jobs.job_start(project=project, kind="export", params={}, user=manager)
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S + 60)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=long_ago)
    assert jobs.jobs_reap_stale() == 1
    assert jobs.jobs_reap_stale() == 0
    assert actions(project) == ["job.start", "job.fail"]


# Projects and members ---------------------------------------------------------------------


def test_project_create_and_settings_changes(api, admin, manager, project):
    resp = api(admin).post(
        reverse("api-projects"), {"name": "New", "slug": "new-one", "overlap": 2}, format="json"
    )
    assert resp.status_code == 201, resp.content
    new = Project.objects.get(slug="new-one")
    created = only(new)
    assert (created.action, created.actor) == ("project.create", admin)
    assert created.after["overlap"] == 2

    project_settings_update(project=project, values={"overlap": 3, "name": project.name}, by=admin)
    row = only(project)
    assert row.action == "project.settings"
    assert (row.before, row.after) == ({"overlap": 1}, {"overlap": 3})
    project.refresh_from_db()
    assert project.overlap == 3
    project_settings_update(project=project, values={"overlap": 3}, by=admin)  # no change
    assert actions(project) == ["project.settings"]


def test_members_added_removed_and_a_role_changed(groups, admin, project, other_project):
    person = UserFactory(username="pia")
    person.groups.add(groups[Role.ANNOTATOR])
    add_member(person, other_project)
    membership_set(project=project, user=person, by=admin)
    membership_set(project=project, user=person, by=admin)  # a member already: no change
    added = only(project)
    assert (added.action, added.actor, added.after) == (
        "member.add",
        admin,
        {"user": "pia", "roles": ["annotator"]},
    )
    membership_set(project=project, user=person, role=Role.OPS, by=admin)
    # A role holds in every project the person is in, so each project's log has it.
    for p in (project, other_project):
        role = only(p, "member.role")
        assert role.before == {"roles": ["annotator"]} and role.after == {"roles": ["ops_reviewer"]}
    assert set(person.groups.values_list("name", flat=True)) == {"ops_reviewer"}
    assert membership_remove(project=project, user=person, by=admin)
    assert not membership_remove(project=project, user=person, by=admin)
    assert actions(project) == ["member.add", "member.role", "member.remove"]
    assert not Membership.objects.filter(project=project, user=person).exists()


def test_the_admin_changes_memberships_through_the_service(admin, project):
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    person = UserFactory(username="paul")
    client = Client()
    client.force_login(admin)
    resp = client.post(
        reverse("admin:jdreview_membership_add"), {"project": project.pk, "user": person.pk}
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    row = only(project)
    assert (row.action, row.actor, row.after["user"]) == ("member.add", admin, "paul")


# The page -------------------------------------------------------------------------------


def page(user, project, **params: Any):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client.get(reverse("activity", args=[project.pk]), params)


def seeded_log(project, annotator, manager) -> None:  # type: ignore[no-untyped-def]
    """60 label rows by the annotator, three days old, and one gate change today."""
    old = timezone.now() - timedelta(days=3)
    for i in range(60):
        e = activity_record(project=project, action="label.skip", actor=annotator, detail={"n": i})
        ActivityEvent.objects.filter(pk=e.pk).update(created_at=old + timedelta(seconds=i))
    activity_record(project=project, action="gate.settings", actor=manager, after={"target": 0.9})


def test_the_page_is_newest_first_and_paged(project, annotator, manager):
    seeded_log(project, annotator, manager)
    first = page(manager, project)
    assert first.status_code == 200
    html = first.content.decode()
    assert html.count("<code>label.skip</code>") == 49
    assert html.index("gate.settings</code>") < html.index("label.skip</code>")
    assert "Older" in html and "Newer" not in html
    second = page(manager, project, offset=50).content.decode()
    assert second.count("<code>label.skip</code>") == 11 and "Older" not in second
    assert "&quot;n&quot;: 0}" in second  # the oldest row is on the last page


def test_the_page_filters_by_person_action_and_period(project, annotator, manager):
    seeded_log(project, annotator, manager)
    by_manager = page(manager, project, actor="mona").content.decode()
    assert "gate.settings</code>" in by_manager and "label.skip</code>" not in by_manager
    by_action = page(manager, project, action="label.skip").content.decode()
    assert "gate.settings</code>" not in by_action and by_action.count("label.skip</code>") == 50
    assert 'href="?action=label.skip&amp;offset=50"' in by_action  # the next page keeps it
    today = timezone.localdate().isoformat()
    recent = page(manager, project, since=today).content.decode()
    assert "gate.settings</code>" in recent and "label.skip</code>" not in recent
    before_today = (timezone.localdate() - timedelta(days=1)).isoformat()
    older = page(manager, project, until=before_today, action="label.skip").content.decode()
    assert older.count("label.skip</code>") == 50
    nobody = page(manager, project, actor="nobody-here").content.decode()
    assert "Nothing recorded for this filter" in nobody


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "label.burn"}, "is not an action"),
        ({"since": "yesterday"}, "is not a date"),
        ({"since": "2026-02-30"}, "is not a date"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "until must be after since"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_the_page_says_what_is_wrong_with_a_filter(project, manager, params, message):
    resp = page(manager, project, **params)
    assert resp.status_code == 400
    assert message in resp.content.decode()


def test_the_page_is_for_managers_of_the_project(project, annotator, outsider, manager):
    assert page(annotator, project).status_code == 403
    other_manager = UserFactory(username="mike")
    other_manager.groups.add(*manager.groups.all())
    add_member(other_manager, ProjectFactory())
    assert page(other_manager, project).status_code == 404
    assert Client().get(reverse("activity", args=[project.pk])).status_code == 302
    project_page = Client()
    project_page.force_login(manager)
    link = reverse("activity", args=[project.pk])
    assert link in project_page.get(reverse("project", args=[project.pk])).content.decode()
    annotator_page = Client()
    annotator_page.force_login(annotator)
    assert link not in annotator_page.get(reverse("project", args=[project.pk])).content.decode()


# Exports ----------------------------------------------------------------------------------


def export(user, project, **params: Any):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client.get(reverse("activity_export", args=[project.pk]), params)


def test_csv_and_json_lines_exports_hold_the_filtered_rows(project, annotator, manager, items):
    _, annotation = submit(annotator, project)
    activity_record(project=project, action="gate.settings", actor=manager, after={"target": 0.9})
    resp = export(manager, project, format="csv", action="label.submit")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert "attachment" in resp["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(resp.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["actor"] == "anna" and rows[0]["action"] == "label.submit"
    assert rows[0]["object_id"] == str(annotation.pk)
    assert json.loads(rows[0]["after"]) == GOOD

    resp = export(manager, project, format="jsonl")
    lines = [json.loads(x) for x in b"".join(resp.streaming_content).decode().splitlines()]
    assert [x["action"] for x in lines] == ["gate.settings", "label.submit"]
    assert lines[0]["actor"] == "mona" and lines[0]["after"] == {"target": 0.9}
    assert lines[1]["before"] is None and lines[1]["detail"]["source"] == "ui"


def test_a_csv_cell_that_looks_like_a_formula_is_text(groups, project, manager):
    sly = UserFactory(username="+cmd")
    activity_record(project=project, action="label.skip", actor=sly)
    text = b"".join(export(manager, project, format="csv").streaming_content).decode()
    assert ",'+cmd," in text


def test_an_export_with_a_bad_format_or_filter_is_refused(project, manager, annotator):
    assert export(manager, project, format="xlsx").status_code == 400
    resp = export(manager, project, format="csv", until="soon")
    assert resp.status_code == 400 and "is not a date" in resp.content.decode()
    assert export(annotator, project, format="csv").status_code == 403


# The API ----------------------------------------------------------------------------------


def test_the_api_serves_the_log_to_its_managers_only(api, project, annotator, manager, items):
    submit(annotator, project)
    url = reverse("api-activity", args=[project.pk])
    assert Client().get(url).status_code in (401, 403)
    assert api(annotator).get(url).status_code == 403
    other_manager = UserFactory(username="mike")
    other_manager.groups.add(*manager.groups.all())
    add_member(other_manager, ProjectFactory())
    assert api(other_manager).get(url).status_code == 404
    resp = api(manager).get(url, {"action": "label.submit", "limit": 10})
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 1
    (event,) = body["results"]
    assert event["actor"] == "anna" and event["after"] == GOOD
    assert event["object_type"] == "annotation"


def test_the_api_pages_and_filters_like_the_other_lists(api, project, annotator, manager):
    seeded_log(project, annotator, manager)
    url = reverse("api-activity", args=[project.pk])
    first = api(manager).get(url, {"limit": 20}).json()
    assert first["count"] == 61 and len(first["results"]) == 20
    assert first["results"][0]["action"] == "gate.settings"
    last = api(manager).get(url, {"limit": 20, "offset": 60}).json()
    assert [r["detail"] for r in last["results"]] == [{"n": 0}]
    assert api(manager).get(url, {"actor": "anna"}).json()["count"] == 60


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "drop"}, "action:"),
        ({"since": "31/12/2026"}, "since:"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_the_api_answers_a_bad_filter_with_a_400(api, project, manager, params, message):
    resp = api(manager).get(reverse("api-activity", args=[project.pk]), params)
    assert resp.status_code == 400
    assert message in resp.json()["detail"]


def test_the_api_schema_documents_the_endpoint(api, manager):
    import yaml

    schema = yaml.safe_load(api(manager).get(reverse("schema")).content)
    op = schema["paths"]["/api/projects/{project_id}/activity/"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"actor", "action", "since", "until", "limit", "offset"} <= names
    assert "post" not in schema["paths"]["/api/projects/{project_id}/activity/"]


def test_an_item_created_by_a_job_has_the_job_as_actor(project, manager, no_enqueue):
    job = jobs.job_start(
        project=project, kind="seed_world", params={"images": 2, "seed": 1}, user=manager
    )
    jobs.job_run(job.pk)
    made = only(project, "items.create")
    assert (made.actor, made.actor_job_id) == (None, job.pk)
    assert made.detail["count"] == 2 and made.detail["sources"] == ["world"]
    assert Item.objects.filter(project=project).count() == 2
