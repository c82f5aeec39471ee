"""The gate on a seeded set of images with known truth: calibration on held-out labels,
decisions that meet the target on ground truth, audits sampled at their rates, and the
trade-off curve on the page. The scorer is a stand-in with known quality, so the test is
about the gate and its bookkeeping, not about how well a CNN trained."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from labeling.models import Annotation, Item
from rewards import scoring
from rewards.ml.aspects import AspectRegistry, AspectSpec
from rewards.ml.train import split_for
from rewards.models import Audit, Decision
from rewards.selectors import gate_metrics
from tests.factories import ItemFactory, live_stand_in

pytestmark = [pytest.mark.django_db]
ASPECTS = ("shape", "placement", "color")


class StandInEnsemble:
    """Scores each image from its truth plus noise: a decent but imperfect model."""

    # Image-only aspects: the stand-in needs no product reference cut-outs.
    registry = AspectRegistry([AspectSpec(a) for a in ASPECTS])
    aspects = list(ASPECTS)

    def __init__(self, by_path: dict[str, dict[str, bool]], seed: int = 0) -> None:
        self.by_path = by_path
        self.rng = np.random.default_rng(seed)

    def score_files(self, paths, refs=None):  # type: ignore[no-untyped-def]
        out = {}
        for a in ASPECTS:
            ok = np.array([self.by_path[p][a] for p in paths], dtype=float)
            noisy = 0.15 + 0.7 * ok + self.rng.normal(0, 0.12, len(paths))
            out[a] = np.clip(noisy, 0.001, 0.999)
        return out


@pytest.fixture
def scored_world(project, annotator, monkeypatch):  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    truths = {}
    for _ in range(1500):
        aspects = {a: rng.random() > 0.12 for a in ASPECTS}
        item = ItemFactory(
            project=project,
            product=None,
            truth={
                "aspects": {
                    a: {"defect": None if ok else "x", "severity": 0.5} for a, ok in aspects.items()
                },
                "usable": all(aspects.values()),
            },
        )
        truths[item.image.path] = aspects
        if split_for(item.pk, salt=str(project.pk)) != "heldout":
            continue  # a fresh ad: the gate's to decide
        # People labeled the held-out images the gate is calibrated on.
        values = {a: "ok" if ok else "defect" for a, ok in aspects.items()}
        values["usable"] = "yes" if all(aspects.values()) else "no"
        Annotation.objects.create(item=item, project=project, user=annotator, values=values)
        Item.objects.filter(pk=item.pk).update(done_count=1)
    fake = StandInEnsemble(truths)
    live_stand_in(project, fake, monkeypatch, ASPECTS)
    return project


def test_gate_meets_its_target_on_ground_truth(scored_world, manager):
    project = scored_world
    gate = scoring.gate_for(project)
    gate.target, gate.audit_launched_rate, gate.audit_other_rate = 0.95, 0.2, 0.1
    gate.save()
    result = scoring.gate_calibrate(project)
    assert result["calibrated"] and result["launch_threshold"] is not None
    counts = scoring.images_score(project, seed=1)
    fresh = Item.objects.filter(done_count=0).count()
    assert 1000 < counts["scored"] == fresh < 1500 and counts["launch"] > 250
    assert not Decision.objects.filter(item__done_count__gt=0).exists()
    launched = Item.objects.filter(decision__outcome=Decision.Outcome.LAUNCH)
    usable = sum(bool(i.truth["usable"]) for i in launched)
    assert usable / launched.count() >= 0.95
    # Launched and rejected images left the annotators' queue; review ones are at its front.
    assert not launched.filter(queued=True, done_count=0).exists()
    # Audits were drawn at the configured rates (binomial, wide bounds).
    n_audit_launch = Audit.objects.filter(outcome="launch").count()
    assert 0.1 * counts["launch"] < n_audit_launch < 0.3 * counts["launch"]
    # The page shows the curve with the gate's point.
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("rewards:models", args=[project.pk])).content.decode()
    assert "<polyline" in page and 'class="gate"' in page


def test_audit_based_estimates_on_the_dashboard(scored_world, ops, manager):
    project = scored_world
    gate = scoring.gate_for(project)
    gate.target, gate.audit_launched_rate, gate.audit_other_rate = 0.95, 0.3, 0.3
    gate.save()
    scoring.gate_calibrate(project)
    scoring.images_score(project, seed=2)
    from rewards.audits import audit_next, audit_submit

    while (audit := audit_next(project=project, user=ops)) is not None:
        truth = audit.item.truth
        audit_submit(
            project=project,
            audit_id=audit.pk,
            user=ops,
            usable=bool(truth["usable"]),
            defects=[a for a in ASPECTS if truth["aspects"][a]["defect"]],
        )
    m = gate_metrics(project)
    launched = Item.objects.filter(decision__outcome="launch")
    true_rate = sum(bool(i.truth["usable"]) for i in launched) / launched.count()
    assert m.usable_launched.low <= true_rate <= m.usable_launched.high
    usable_all = sum(bool(i.truth["usable"]) for i in Item.objects.filter(decision__isnull=False))
    true_recall = sum(bool(i.truth["usable"]) for i in launched) / usable_all
    assert m.recall.low - 0.05 <= true_recall <= m.recall.high + 0.05
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Usable among launched" in page and "n=" in page


def test_uncertainty_order_serves_the_least_certain_images_first(scored_world, annotator2):
    from labeling import services

    project = scored_world
    project.queue_order = "uncertainty"
    project.save()
    Annotation.objects.all().delete()  # nothing labeled yet: every image is in the queue
    Item.objects.update(done_count=0)
    scoring.images_score(project, seed=4)  # not calibrated: every image is held for review
    decisions = {d.item_id: d for d in Decision.objects.all()}
    assert {d.outcome for d in decisions.values()} == {"review"}

    def certainty(item_id: int) -> float:
        return min(abs(p - 0.5) for p in decisions[item_id].scores.values())

    served = []
    for _ in range(5):
        task = services.task_next(project=project, user=annotator2)
        served.append(certainty(task.item_id))
        services.task_skip(assignment_id=task.pk, user=annotator2)
    least_certain = sorted(certainty(i) for i in decisions)[:5]
    assert served == pytest.approx(least_certain, abs=1e-4)


def test_a_manager_changes_the_gate_target_and_the_gate_is_recalibrated(
    project, manager, monkeypatch
):
    from workers.models import Job

    monkeypatch.setattr("workers.services._enqueue", lambda job_id, queue: None)
    client = Client()
    client.force_login(manager)
    url = reverse("rewards:gate_settings", args=[project.pk])
    page = client.get(reverse("rewards:models", args=[project.pk])).content.decode()
    assert 'name="target" inputmode="decimal" value="98.0%"' in page
    response = client.post(
        url,
        {
            "target": "90%",
            "confidence": "0.9",
            "audit_launched_rate": "20",
            "audit_other_rate": "1%",
        },
    )
    assert response.status_code == 302
    gate = scoring.gate_for(project)
    gate.refresh_from_db()
    assert (gate.target, gate.confidence) == pytest.approx((0.90, 0.90))
    assert (gate.audit_launched_rate, gate.audit_other_rate) == pytest.approx((0.20, 0.01))
    assert Job.objects.filter(kind="calibrate_gate", project=project).count() == 1
    # Only audit shares changed: no recalibration.
    client.post(url, {"audit_other_rate": "2", "retrain_after_labels": "800"})
    gate.refresh_from_db()
    assert gate.audit_other_rate == pytest.approx(0.02) and gate.retrain_after_labels == 800
    assert Job.objects.filter(kind="calibrate_gate", project=project).count() == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"target": "abc"}, "is not a number"),
        ({"target": "40%"}, "target usable rate must be between"),
        ({"target": "99.95"}, "target usable rate must be between"),
        ({"audit_launched_rate": "150%"}, "audit share of launched images must be between"),
        ({"target": "95", "retrain_after_labels": "-3"}, "whole number"),
    ],
)
def test_bad_gate_settings_are_refused_and_nothing_is_saved(project, manager, values, message):
    client = Client()
    client.force_login(manager)
    response = client.post(reverse("rewards:gate_settings", args=[project.pk]), values)
    assert response.status_code == 400
    assert message in response.content.decode()
    gate = scoring.gate_for(project)
    gate.refresh_from_db()
    assert (gate.target, gate.audit_launched_rate, gate.retrain_after_labels) == (0.98, 0.1, 500)


def test_only_managers_change_gate_settings(project, annotator, ops):
    for user in (annotator, ops):
        client = Client()
        client.force_login(user)
        response = client.post(
            reverse("rewards:gate_settings", args=[project.pk]), {"target": "0.5"}
        )
        assert response.status_code == 403
    assert scoring.gate_for(project).target == 0.98
