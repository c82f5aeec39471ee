"""The registry of pipeline models: a version exists only with its artifact, numbers are
per project and family, one version per family is live, promotion retires the old one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import ProjectFactory
from workers.models import ModelVersion
from workers.versions import (
    VersionError,
    artifact_dir,
    artifact_path,
    live_version,
    model_version_create,
    model_version_promote,
)

# Transactions and constraints differ between SQLite and PostgreSQL.
pytestmark = pytest.mark.backend


def _save(tmp: Path, text: str) -> None:
    (tmp / "config.json").write_text(text)


def test_a_saved_folder_becomes_a_numbered_version_with_its_files(project) -> None:  # type: ignore[no-untyped-def]
    with artifact_dir() as tmp:
        _save(tmp, '{"n_layer": 2}')
        v1 = model_version_create(
            project=project, family="query_expansion", name="sft", saved_dir=tmp
        )
    with artifact_dir() as tmp:
        _save(tmp, '{"n_layer": 2}')
        v2 = model_version_create(
            project=project, family="query_expansion", name="ppo", saved_dir=tmp, parent=v1
        )
    assert (v1.version, v2.version) == (1, 2)
    assert (artifact_path(v2) / "config.json").read_text() == '{"n_layer": 2}'
    assert v2.parent == v1
    # Numbers are per family: the first generator of the project is v1 again.
    with artifact_dir() as tmp:
        _save(tmp, "{}")
        g = model_version_create(project=project, family="generator", name="tiny", saved_dir=tmp)
    assert g.version == 1


def test_an_empty_or_unknown_save_registers_nothing(project) -> None:  # type: ignore[no-untyped-def]
    with artifact_dir() as tmp, pytest.raises(VersionError, match="nothing was saved"):
        model_version_create(project=project, family="generator", name="x", saved_dir=tmp)
    with artifact_dir() as tmp:
        _save(tmp, "{}")
        with pytest.raises(VersionError, match="unknown model family"):
            model_version_create(project=project, family="nope", name="x", saved_dir=tmp)
    assert not ModelVersion.objects.exists()


def test_promotion_keeps_one_live_version_per_family(project) -> None:  # type: ignore[no-untyped-def]
    versions = []
    for name in ("a", "b"):
        with artifact_dir() as tmp:
            _save(tmp, "{}")
            versions.append(
                model_version_create(
                    project=project, family="agent_policy", name=name, saved_dir=tmp, promote=True
                )
            )
    a, b = (ModelVersion.objects.get(pk=v.pk) for v in versions)
    assert (a.status, b.status) == ("retired", "live")
    assert live_version(project, "agent_policy") == b
    assert live_version(ProjectFactory(), "agent_policy") is None
    model_version_promote(version=a)
    assert live_version(project, "agent_policy") == a


def test_a_version_whose_files_are_gone_cannot_go_live(project) -> None:  # type: ignore[no-untyped-def]
    import shutil

    with artifact_dir() as tmp:
        _save(tmp, "{}")
        v = model_version_create(project=project, family="generator", name="x", saved_dir=tmp)
    shutil.rmtree(artifact_path(v))
    with pytest.raises(VersionError, match="missing"):
        model_version_promote(version=v)
    assert live_version(project, "generator") is None
