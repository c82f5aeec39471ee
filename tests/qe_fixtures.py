"""Shared helpers of the query-expansion app tests (no tests here): a tiny saved model,
registered as a live version in seconds, so serving and review tests need no training."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jdreview.models import Project
from workers.models import ModelVersion
from workers.qe.catalog import catalog_sync
from workers.versions import artifact_dir, model_version_create


@pytest.fixture(scope="session")
def tiny_qe_model(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """An untrained 1-layer model with a tokenizer trained on catalog titles."""
    import torch

    from labeling.world.catalog import build_catalog
    from workers.qe.ml.model import ModelConfig, build_model, save

    torch.manual_seed(0)
    texts = [p.title for p in build_catalog(seed=7, n=300)]
    cfg = ModelConfig(n_layer=1, n_embd=32, n_head=2, vocab_size=400)
    model, tok = build_model(cfg, texts)
    path = tmp_path_factory.mktemp("qe-model") / "tiny"
    save(model, tok, path)
    return path


def register_model(project: Project, source: Path, name: str = "sft", **kw) -> ModelVersion:  # type: ignore[no-untyped-def]
    with artifact_dir() as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        return model_version_create(
            project=project, family="query_expansion", name=name, saved_dir=tmp, **kw
        )


@pytest.fixture
def qe_catalog(db) -> None:  # type: ignore[no-untyped-def]
    catalog_sync(size=600)
