"""The generator demo seed: a tiny generator and a few gated ads; a second run adds nothing."""

from __future__ import annotations

import pytest

from jdreview.models import Project
from labeling.models import Item
from workers.models import ModelVersion

pytestmark = [pytest.mark.django_db]


def test_demo_seed_trains_a_generator_and_generates_once(settings, tmp_path, monkeypatch, groups):
    import torch

    from workers.imagegen import demo

    settings.ARTIFACT_ROOT = str(tmp_path / "artifacts")
    torch.set_num_threads(1)
    monkeypatch.setattr(demo, "TRAIN", {"steps": 3, "layers": 2, "images": 32})
    monkeypatch.setattr(demo, "DEMO_ADS", 1)
    lines: list[str] = []
    demo.seed(log=lines.append)
    project = Project.objects.get(slug=demo.OWN_PROJECT)
    version = ModelVersion.objects.get(project=project, family="generator")
    assert version.status == "live" and version.config["num_layers"] == 2
    assert Item.objects.filter(project=project, source="generated").count() == 2
    demo.seed(log=lines.append)
    assert ModelVersion.objects.count() == 1
    assert Item.objects.filter(source="generated").count() == 2
    assert any("Generator demo ready" in line for line in lines)
