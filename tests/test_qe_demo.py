"""The query-expansion demo: a project with the catalog, a live model and items to review;
running it again adds nothing."""

from __future__ import annotations

import pytest
import torch

from jdreview.models import Membership, Product, Project
from tests.factories import UserFactory
from workers.models import ModelVersion
from workers.qe import demo
from workers.qe.apps import KIND as QE_KIND
from workers.qe.catalog import catalog_sync


@pytest.fixture(autouse=True)
def _tiny(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    settings.ARTIFACT_ROOT = str(tmp_path / "artifacts")
    torch.set_num_threads(1)
    monkeypatch.setattr(
        demo, "PRETRAIN", {"steps": 4, "batch_size": 8, "layers": 1, "eval_queries": 10}
    )
    monkeypatch.setattr(demo, "SFT", {"steps": 4, "batch_size": 8, "eval_queries": 10})
    monkeypatch.setattr(demo, "REVIEW_ITEMS", 6)
    monkeypatch.setattr(demo, "catalog_sync", lambda: catalog_sync(size=600))


def test_the_demo_seeds_a_working_loop_once(groups) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="annotator")
    lines: list[str] = []
    demo.seed(log=lines.append)
    project = Project.objects.get(slug=demo.SLUG)
    assert Product.objects.count() == 600
    live = ModelVersion.objects.get(project=project, family="query_expansion", status="live")
    # ...and the term-relevance model that guards its expansions.
    assert ModelVersion.objects.get(project=project, family="qe_term_relevance", status="live")
    assert live.name == "sft" and live.parent.name == "pretrain"
    assert project.items.filter(kind=QE_KIND).count() == 6
    assert Membership.objects.filter(project=project, user__username="annotator").exists()
    assert any("queued for review" in line for line in lines)
    demo.seed(log=lines.append)
    assert ModelVersion.objects.filter(project=project).count() == 3
    assert project.items.count() == 6
