"""The gate keeps a calibration per population (an item's source): world images, uploads,
imports and generated ads are each calibrated on their own held-out labels and decided
with their own thresholds, and an image whose population has no calibration of its own is
held for a person, never launched or rejected. The scorer is a stand-in with known
quality per population, so the tests are about the gate, not about a trained CNN."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from labeling.models import AD_IMAGE, Annotation, Item
from rewards import scoring
from rewards.audits import gate_for
from rewards.ml.aspects import AspectRegistry, AspectSpec
from rewards.ml.gate import GateThresholds, decide
from rewards.ml.train import split_for
from rewards.models import Decision
from tests.factories import live_stand_in

pytestmark = [pytest.mark.django_db]
ASPECTS = ("shape", "placement", "color")
HELD = "no calibration for {} items yet: a person must judge it"


class StandIn:
    """Scores each image from its truth plus noise; `lift` per population makes the model
    read one population as more confident than another (as on a generator's own ads)."""

    registry = AspectRegistry([AspectSpec(a) for a in ASPECTS])
    aspects = list(ASPECTS)

    def __init__(self) -> None:
        self.truth: dict[str, dict[str, bool]] = {}
        self.lift: dict[str, float] = {}
        self.rng = np.random.default_rng(0)

    def score_files(self, paths, refs=None):  # type: ignore[no-untyped-def]
        out = {}
        lift = np.array([self.lift[p] for p in paths])
        for a in ASPECTS:
            ok = np.array([self.truth[p][a] for p in paths], dtype=float)
            noisy = 0.15 + 0.7 * ok + lift + self.rng.normal(0, 0.1, len(paths))
            out[a] = np.clip(noisy, 0.001, 0.999)
        return out


@pytest.fixture
def gate_world(project, monkeypatch):  # type: ignore[no-untyped-def]
    """A project with live models (the stand-in) and a gate at the demo's 90% target."""
    fake = StandIn()
    live_stand_in(project, fake, monkeypatch, ASPECTS)
    gate = gate_for(project)
    gate.target, gate.audit_launched_rate, gate.audit_other_rate = 0.9, 0.0, 0.0
    gate.save()
    return project, fake


def add_population(  # type: ignore[no-untyped-def]
    project, fake, user, source, *, heldout, fresh=10, lift=0.0, seed=0
) -> list[Item]:
    """Exactly `heldout` labeled held-out images of `source` and `fresh` unjudged ones (the
    gate's to decide); train-split images beyond those are labeled too, so they are not
    decided.
    The image files are never opened: the stand-in scores by path."""
    rng = random.Random(f"{source}-{seed}")
    made, n_held, n_fresh, fresh_items = 0, 0, 0, []
    while n_held < heldout or n_fresh < fresh:
        aspects = {a: rng.random() > 0.1 for a in ASPECTS}
        made += 1
        item = Item.objects.create(
            project=project,
            kind=AD_IMAGE,
            source=source,
            image=f"items/{source}-{seed}-{made}.png",
            truth={"usable": all(aspects.values())},
        )
        fake.truth[item.image.path] = aspects
        fake.lift[item.image.path] = lift
        is_held = split_for(item.pk, salt=str(project.pk)) == "heldout"
        if not is_held and n_fresh < fresh:
            n_fresh += 1
            fresh_items.append(item)
            continue
        if is_held and n_held >= heldout:
            item.delete()  # exactly `heldout` held-out labels
            continue
        n_held += is_held
        values = {a: "ok" if ok else "defect" for a, ok in aspects.items()}
        values["usable"] = "yes" if all(aspects.values()) else "no"
        Annotation.objects.create(item=item, project=project, user=user, values=values)
        Item.objects.filter(pk=item.pk).update(done_count=1)
    return fresh_items


def outcomes(items: list[Item]) -> dict[str, str]:
    decided = Decision.objects.filter(item__in=items)
    return {d.outcome: d.reason for d in decided}


def test_a_generated_ad_is_held_until_its_own_calibration_exists(gate_world, annotator):
    project, fake = gate_world
    world = add_population(project, fake, annotator, "world", heldout=200)
    generated = add_population(project, fake, annotator, "generated", heldout=0, fresh=5)
    # Generated ads the model scores as clean as can be: on world thresholds they'd launch.
    for item in generated:
        fake.truth[item.image.path] = dict.fromkeys(ASPECTS, True)
    result = scoring.gate_calibrate(project)
    assert result["populations"]["world"]["proved"]
    assert "generated" not in result["populations"]
    scoring.images_score(project, seed=1)
    assert "launch" in outcomes(world)
    assert outcomes(generated) == {"review": HELD.format("generated")}
    assert all(Item.objects.get(pk=i.pk).queued for i in generated)
    on_world = GateThresholds.from_dict(gate_for(project).thresholds["populations"]["world"])
    held = Decision.objects.filter(item__in=generated)
    assert any(decide(d.scores, on_world).action == "launch" for d in held)

    # The ops audit (or anyone) labels enough held-out generated ads: now they have their
    # own calibration and are decided by it.
    later = add_population(project, fake, annotator, "generated", heldout=200, seed=1)
    result = scoring.gate_calibrate(project)
    assert result["populations"]["generated"]["proved"]
    scoring.images_score(project, seed=2)
    assert "launch" in outcomes(later)
    gate = gate_for(project)
    generated_launch = gate.thresholds["populations"]["generated"]["launch"]
    for d in Decision.objects.filter(item__in=later, outcome="launch"):
        assert np.prod(list(d.scores.values())) >= generated_launch


def test_two_populations_get_their_own_thresholds_from_their_own_data(gate_world, annotator):
    project, fake = gate_world
    add_population(project, fake, annotator, "world", heldout=200)
    # The models read uploads as cleaner than they are: the same scores mean less there.
    add_population(project, fake, annotator, "upload", heldout=200, lift=0.08)
    scoring.gate_calibrate(project)
    gate = gate_for(project)
    world = gate.thresholds["populations"]["world"]
    upload = gate.thresholds["populations"]["upload"]
    assert world["launch"] is not None and upload["launch"] is not None
    assert upload["launch"] > world["launch"]
    assert world["target"] == upload["target"] == 0.9
    summary = gate.calibration["populations"]
    assert summary["world"]["n"] >= 200 and summary["upload"]["n"] >= 200
    assert summary["world"]["proved"] and summary["upload"]["proved"]


def test_an_upload_without_calibration_of_its_own_is_held_and_never_rejected(gate_world, annotator):
    project, fake = gate_world
    add_population(project, fake, annotator, "world", heldout=200)
    # A few labeled uploads are not enough to calibrate on.
    uploads = add_population(project, fake, annotator, "upload", heldout=10, fresh=8)
    for item in uploads[:4]:  # some look hopeless: on world thresholds they'd be rejected
        fake.truth[item.image.path] = dict.fromkeys(ASPECTS, False)
    result = scoring.gate_calibrate(project)
    assert result["populations"]["upload"]["n"] == 10
    assert result["populations"]["upload"]["proved"] is False
    gate = gate_for(project)
    assert "upload" not in gate.thresholds["populations"]
    # Even where world images have a reject bar these uploads fall under, none is rejected:
    # the reject side's bound was measured on world images.
    gate.thresholds["populations"]["world"]["reject"] = 0.5
    gate.save(update_fields=["thresholds"])
    scoring.images_score(project, seed=3)
    assert outcomes(uploads) == {"review": HELD.format("upload")}
    on_world = GateThresholds.from_dict(gate.thresholds["populations"]["world"])
    hopeless = Decision.objects.filter(item__in=uploads[:4])
    assert all(decide(d.scores, on_world).action == "reject" for d in hopeless)


def test_an_old_single_population_gate_row_holds_every_image(gate_world, annotator):
    project, fake = gate_world
    world = add_population(project, fake, annotator, "world", heldout=0, fresh=5)
    gate = gate_for(project)
    # A row written before the gate kept populations: thresholds at the top level, which
    # do not say what they were measured on.
    gate.thresholds = GateThresholds(aspects=list(ASPECTS), launch=0.0, reject=0.5).to_dict()
    gate.calibration = {"n": 300, "curve": []}
    gate.model_versions = {a: v.pk for a, v in scoring.live_ensemble(project)[1].items()}
    gate.calibrated_at = timezone.now()
    gate.save()
    scoring.images_score(project, seed=4)
    assert outcomes(world) == {"review": HELD.format("world")}


def test_the_models_page_shows_the_gate_per_population(gate_world, annotator, manager):
    project, fake = gate_world
    add_population(project, fake, annotator, "world", heldout=200)
    add_population(project, fake, annotator, "generated", heldout=0, fresh=3)
    scoring.gate_calibrate(project)
    client = Client()
    client.force_login(manager)
    url = reverse("rewards:models", args=[project.pk])
    with CaptureQueriesContext(connection) as one:
        page = client.get(url).content.decode()
    assert 'data-population="world"' in page and 'data-population="generated"' in page
    launch = gate_for(project).thresholds["populations"]["world"]["launch"]
    assert f"{launch:.3f}" in page and "yes, ≥ 90.0%" in page
    assert "Held for review for lack of a calibration of their own: <b>generated</b>" in page
    # More populations and more images: the same number of queries.
    add_population(project, fake, annotator, "upload", heldout=60, fresh=3)
    add_population(project, fake, annotator, "import", heldout=5, fresh=3)
    scoring.gate_calibrate(project)
    with CaptureQueriesContext(connection) as more:
        page = client.get(url).content.decode()
    assert 'data-population="import"' in page
    assert len(more.captured_queries) == len(one.captured_queries)


def test_an_old_row_asks_for_recalibration_on_the_page(gate_world, annotator, manager):
    project, fake = gate_world
    add_population(project, fake, annotator, "world", heldout=0, fresh=2)
    gate = gate_for(project)
    gate.thresholds = GateThresholds(aspects=list(ASPECTS), launch=0.5).to_dict()
    gate.calibrated_at = timezone.now()
    gate.save()
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("rewards:models", args=[project.pk])).content.decode()
    assert "Recalibrate the gate:" in page
    assert "<b>benchmark world</b>" in page
