"""The reward loop on a small seeded world: labels → retraining job → live models → scoring
and gate decisions → ops audits → an override reaching the next training snapshot."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from labeling.models import Annotation, Item
from labeling.world_seed import simulate_labels, world_seed
from rewards import audits
from rewards.calibration_audit import simulate_calibration_audit
from rewards.ml.train import split_for
from rewards.models import Audit, Decision
from rewards.scoring import images_score
from rewards.training import NotEnoughLabels, train_aspects, training_snapshot
from workers import services as job_services
from workers.models import Job, ModelVersion

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("no_enqueue")]


@pytest.fixture
def world_project(project, groups):  # type: ignore[no-untyped-def]
    world_seed(project=project, images=140, seed=11, gold_share=0.0)
    simulate_labels(project=project, reviewers=3, labels=140, seed=11)
    return project


def test_nothing_launches_without_live_models(project, items):
    assert images_score(project)["scored"] == 0
    assert not Decision.objects.exists()
    assert Item.objects.filter(queued=False).count() == 0


def test_training_needs_enough_labels(project, items):
    with pytest.raises(NotEnoughLabels):
        train_aspects(project=project)


def test_retraining_job_trains_every_aspect_and_scoring_decides(world_project, manager, ops):
    project = world_project
    with transaction.atomic():
        job = job_services.job_create(
            kind="train_rewards", params={"epochs": 3}, project=project, user=manager
        )
    job_services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    live = {v.slot: v for v in ModelVersion.objects.filter(status="live")}
    assert set(live) == {"shape", "placement", "color"}
    for v in live.values():
        # (a tiny held-out split may hold one class only: then AUC is undefined)
        assert v.metrics["auc"] is None or 0.0 <= v.metrics["auc"] <= 1.0
        assert v.loss_curve[-1] < v.loss_curve[0], (v.aspect, v.loss_curve)
        assert v.label_snapshot["annotations"] == 140
    assert "shape_auc" in job.metrics and "calibrating the launch gate" in job.log_tail
    # New ads arrive; the job queued a scoring job, run it here. It decides the new ads
    # only: the 140 that people labeled are theirs.
    fresh = world_seed(project=project, images=25, seed=12, gold_share=0.0)
    score_job = Job.objects.get(kind="score_images")
    job_services.job_run(score_job.pk)
    score_job.refresh_from_db()
    assert score_job.status == Job.Status.SUCCEEDED, score_job.error
    assert score_job.metrics["scored"] == fresh == 25
    assert not Decision.objects.filter(item__done_count__gt=0).exists()
    decision = Decision.objects.first()
    assert set(decision.scores) == {"shape", "placement", "color"}
    assert decision.model_versions == {a: v.pk for a, v in live.items()}
    # A tiny held-out set cannot prove 98% usable: the gate must not launch anything.
    assert not Decision.objects.filter(outcome="launch").exists()


def test_override_reaches_the_next_training_snapshot(world_project, ops):
    project = world_project
    item = Item.objects.filter(project=project, truth__usable=False).first()
    rng = random.Random(0)
    audits.gate_for(project)
    Audit.objects.all().delete()
    project.gate.audit_launched_rate = 1.0
    project.gate.save()
    audits.decisions_record(
        project=project,
        rows=[
            {
                "item_id": item.pk,
                "scores": {"shape": 0.99, "placement": 0.99, "color": 0.99},
                "model_versions": {},
                "outcome": "launch",
                "driver": "shape",
                "reason": "test",
            }
        ],
        rng=rng,
    )
    before = training_snapshot(project)
    client = Client()
    client.force_login(ops)
    page = client.get(reverse("rewards:audit", args=[project.pk]))
    assert b"driven by" in page.content and b"0.990" in page.content
    audit = Audit.objects.get(item=item)
    response = client.post(
        reverse("rewards:audit_submit", args=[project.pk, audit.pk]),
        {"verdict": "unusable", "defects": ["color"]},
    )
    assert response.status_code == 302
    audit.refresh_from_db()
    assert audit.status == Audit.Status.OVERRIDDEN and audit.usable is False
    after = training_snapshot(project)
    assert after.info["sources"].get("audit") == 1
    assert after.info["max_annotation_id"] > before.info["max_annotation_id"]
    override = Annotation.objects.get(source="audit")
    assert override.values == {"shape": "ok", "placement": "ok", "color": "defect", "usable": "no"}
    assert after.targets["color"][item.pk] < before.targets["color"].get(item.pk, 1.0) or (
        before.targets["color"].get(item.pk, 1.0) < 0.5
    )


def test_calibration_audit_labels_the_heldout_split_and_cleans_its_usable_labels(world_project):
    """The demo's ops auditors: three verdicts on every labeled held-out image (five where
    three disagree), through the same audit annotations as the UI, so the gate calibrates
    on labels it can trust."""
    project = world_project
    held = {
        i.pk: bool(i.truth["usable"])
        for i in Item.objects.filter(project=project, done_count__gt=0)
        if split_for(i.pk, salt=str(project.pk)) == "heldout"
    }
    assert len(held) >= 15

    def agreement() -> float:
        usable = training_snapshot(project).targets["usable"]
        return sum((usable[pk] >= 0.5) == truth for pk, truth in held.items()) / len(held)

    before = agreement()
    stored = simulate_calibration_audit(project=project, seed=3)
    audit_labels = Annotation.objects.filter(source="audit")
    per_item = Counter(audit_labels.values_list("item_id", flat=True))
    assert set(per_item) == set(held) and stored == sum(per_item.values())
    # Three each; five where the first three disagreed.
    assert set(per_item.values()) <= {3, 5}
    auditors = {a.user for a in audit_labels.select_related("user")}
    assert 3 <= len(auditors) <= 5
    assert all(u.has_perm("jdreview.audit_launches") for u in auditors)
    assert agreement() >= max(before, 0.9)
    # Run again: nothing is labeled twice.
    assert simulate_calibration_audit(project=project, seed=3) == 0
    assert audit_labels.count() == stored


def test_audit_refuses_bad_input(world_project, ops):
    project = world_project
    item = Item.objects.filter(project=project).first()
    audit = Audit.objects.create(item=item, project=project, outcome="launch", sample_rate=1.0)
    client = Client()
    client.force_login(ops)
    url = reverse("rewards:audit_submit", args=[project.pk, audit.pk])
    assert client.post(url, {"verdict": "maybe"}).status_code == 400
    assert client.post(url, {"verdict": "usable", "defects": ["color"]}).status_code == 400
    assert client.post(url, {"verdict": "unusable", "defects": ["smell"]}).status_code == 400
    audit.refresh_from_db()
    assert audit.status == Audit.Status.PENDING
    assert not Annotation.objects.filter(source="audit").exists()


def test_corrupt_artifact_fails_the_job_and_keeps_the_live_model(world_project, monkeypatch):
    project = world_project
    train_aspects(project=project, aspects=["placement"], epochs=1)
    live_before = ModelVersion.objects.get(slot="placement", status="live")
    import rewards.ml.model as model_module

    real_save = model_module.save

    def corrupting_save(model, folder, metadata=None):  # type: ignore[no-untyped-def]
        path = real_save(model, folder, metadata)
        weights = path / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:64])  # as if the disk filled up
        return path

    monkeypatch.setattr(model_module, "save", corrupting_save)
    with transaction.atomic():
        job = job_services.job_create(
            kind="train_rewards", params={"aspects": ["placement"], "epochs": 1}, project=project
        )
    job_services.job_run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "cannot be loaded" in job.error
    assert ModelVersion.objects.get(slot="placement", status="live").pk == live_before.pk
    assert ModelVersion.objects.get(slot="placement", version=2).status == "rejected"


def test_located_boxes_are_kept_so_retraining_and_rescoring_do_not_search_again(
    world_project, monkeypatch
):
    from rewards.ml import align

    project = world_project
    calls: list[int] = []
    real_locate = align.locate

    def counting_locate(ads, rows, bank):  # type: ignore[no-untyped-def]
        calls.append(len(ads))
        return real_locate(ads, rows, bank)

    monkeypatch.setattr(align, "locate", counting_locate)
    train_aspects(project=project, epochs=1)
    located = Item.objects.filter(project=project).exclude(located={})
    assert sum(calls) == located.count() == 140
    box = located.first().located
    assert box["version"] == align.VERSION and len(box["box"]) == 4

    calls.clear()
    train_aspects(project=project, aspects=["shape"], epochs=1)
    assert calls == []  # the second training only cropped

    # New ads are located once, when they are first scored; rescoring reuses their boxes.
    world_seed(project=project, images=20, seed=12, gold_share=0.0)
    first = images_score(project)
    before = dict(Decision.objects.values_list("item_id", "scores"))
    assert sum(calls) == first["scored"] == 20
    calls.clear()
    assert images_score(project, rescore=True)["scored"] == 20
    assert calls == [] and dict(Decision.objects.values_list("item_id", "scores")) == before

    # Boxes found with other alignment settings are not trusted: they are searched again,
    # and the scores match those from the kept boxes.
    Item.objects.filter(project=project).update(located={"box": [0, 0, 1, 1], "version": "old"})
    images_score(project, rescore=True)
    assert sum(calls) == 20
    after = dict(Decision.objects.values_list("item_id", "scores"))
    assert after == before


def test_the_demo_seed_trains_calibrates_and_decides_on_a_tiny_world(db):
    """The README's first command on a tiny world: accounts, labels, the ops calibration
    audit, three live models, a calibrated gate at the demo's target, decisions for the
    fresh images; run again, it adds nothing."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from jdreview.models import Project

    args = ["--images", "150", "--labels", "150", "--overlap-labels", "20"]
    args += ["--new-images", "30", "--no-loops"]
    call_command("seed_demo", *args)
    project = Project.objects.get(slug="ad-images")
    assert project.gate.target == 0.9
    assert Annotation.objects.filter(project=project, source="audit").exists()
    assert ModelVersion.objects.filter(project=project, status="live").count() == 3
    fresh = Item.objects.filter(project=project, external_id__startswith="world-1007-")
    assert fresh.count() == 30
    assert Decision.objects.filter(item__in=fresh).count() == 30
    # The ads people labeled (and gold ads) are not the gate's to decide, nor to audit.
    decided = Item.objects.filter(project=project, decision__isnull=False)
    assert not decided.filter(done_count__gt=0).exists()
    assert not decided.filter(is_gold=True).exists()
    assert Item.objects.filter(project=project, done_count__gt=0).count() > 100
    assert project.gate.calibrated_at is not None
    counts = (Item.objects.count(), Annotation.objects.count(), ModelVersion.objects.count())
    call_command("seed_demo", *args)
    assert (Item.objects.count(), Annotation.objects.count(), ModelVersion.objects.count()) == (
        counts
    )
    with pytest.raises(CommandError, match="gate-target"):
        call_command("seed_demo", "--gate-target", "1.5", "--no-models")
