"""Agreement and annotator statistics against hand-computed values."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from labeling import stats
from labeling.models import Annotation
from tests.factories import BAD_SHAPE, GOOD, ItemFactory

pytestmark = pytest.mark.django_db


def annotate(item, user, values, **extra):  # type: ignore[no-untyped-def]
    return Annotation.objects.create(
        item=item, project=item.project, user=user, values=values, **extra
    )


def test_krippendorff_alpha_matches_a_hand_computed_case():
    # Coincidences: ok-ok 4, defect-defect 2, ok-defect 2 (n=8, n_ok=5, n_defect=3).
    # D_o = 2/8, D_e = 2*5*3/(8*7) = 30/56, alpha = 1 - D_o/D_e = 8/15.
    units = [["ok", "ok"], ["ok", "defect"], ["defect", "defect"], ["ok", "ok"]]
    assert stats.krippendorff_alpha(units) == pytest.approx(8 / 15)


def test_alpha_is_undefined_without_overlap_and_one_when_unanimous():
    assert stats.krippendorff_alpha([["ok", "ok"]]) is None
    assert stats.krippendorff_alpha([["ok", "ok"], ["ok", "ok"]]) == 1.0


def test_project_agreement_per_aspect(project, annotator, annotator2):
    values = [("ok", "ok"), ("ok", "defect"), ("defect", "defect"), ("ok", "ok")]
    for a, b in values:
        item = ItemFactory(project=project)
        annotate(item, annotator, {**GOOD, "shape": a})
        annotate(item, annotator2, {**GOOD, "shape": b})
    ItemFactory(project=project)  # unlabeled items do not count
    by_field = {a.field: a for a in stats.agreement(project)}
    assert by_field["shape"].alpha == pytest.approx(8 / 15)
    assert by_field["shape"].items == 4
    assert by_field["color"].alpha == 1.0


def test_annotator_statistics(project, annotator, annotator2, ops):
    for _ in range(2):
        item = ItemFactory(project=project)
        annotate(item, annotator, GOOD, lead_time_ms=10_000)
        annotate(item, annotator2, GOOD, lead_time_ms=20_000)
        annotate(item, ops, BAD_SHAPE, lead_time_ms=20_000)
    gold = ItemFactory(project=project, is_gold=True, gold_answer=GOOD)
    annotate(gold, annotator, GOOD, lead_time_ms=10_000, is_gold=True, gold_correct=True)
    gold2 = ItemFactory(project=project, is_gold=True, gold_answer=GOOD)
    annotate(gold2, annotator, BAD_SHAPE, lead_time_ms=10_000, is_gold=True, gold_correct=False)
    rows = {s.username: s for s in stats.annotator_stats(project)}
    anna, otto = rows["anna"], rows["otto"]
    assert anna.annotations == 4
    assert anna.items_per_hour == pytest.approx(4 / (40 / 3600), rel=1e-3)  # 4 in 40 s
    assert (anna.gold_checked, anna.gold_accuracy) == (2, 0.5)
    assert otto.gold_accuracy is None
    # otto differs from the other two on shape and usable: 2 of 4 fields agree with them.
    assert otto.majority_agreement == pytest.approx(0.5)
    # For anna the others split on shape and usable (a tie): only the 2 other fields count.
    assert anna.majority_agreement == pytest.approx(1.0)


def test_managers_page_shows_the_numbers(project, manager, annotator, annotator2):
    item = ItemFactory(project=project)
    annotate(item, annotator, GOOD, lead_time_ms=5000)
    annotate(item, annotator2, BAD_SHAPE, lead_time_ms=5000)
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("project_stats", args=[project.pk])).content.decode()
    assert "Krippendorff" in page and "anna" in page and "bert" in page
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert project.name in dashboard and "Items / hour" in dashboard
