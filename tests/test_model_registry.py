"""The one registry of trained models under concurrency: two writers of the same (project,
family, slot) at once get two numbers and two folders, each holding exactly what it wrote;
a writer that dies leaves at most a temporary folder, never a registered version."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from labeling.world_seed import simulate_labels, world_seed
from workers import versions as registry
from workers.models import ModelVersion
from workers.versions import VersionError, artifact_dir, artifact_path, model_version_create

# Transactions and locks differ between SQLite and PostgreSQL.
pytestmark = pytest.mark.backend


def _tree_hash(base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads, each on its own database connection; results or errors."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # the test reports it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def _meet_before_numbering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both writers read the highest number before either inserts: the worst interleaving.

    On SQLite every write transaction begins IMMEDIATE (settings), so writers queue for the
    lock and cannot interleave there at all; a barrier inside the transaction would only
    wait for a writer blocked on that lock, so the threads simply start together."""
    if connection.vendor == "sqlite":
        return
    barrier = threading.Barrier(2, timeout=30)
    first_call = threading.local()
    real = registry._next_number

    def numbered(**kw: Any) -> int:
        number = real(**kw)
        if not getattr(first_call, "done", False):
            first_call.done = True
            barrier.wait()
        return number

    monkeypatch.setattr(registry, "_next_number", numbered)


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_slot_get_two_versions_and_keep_their_files(project, monkeypatch):  # type: ignore[no-untyped-def]
    _meet_before_numbering(monkeypatch)
    written: dict[str, str] = {}

    def register(text: str) -> ModelVersion:
        with artifact_dir() as tmp:
            (tmp / "model.safetensors").write_text(text * 1000)
            (tmp / "config.json").write_text(f'{{"who": "{text}"}}')
            written[text] = _tree_hash(tmp)
            return model_version_create(
                project=project, family="aspect_reward", slot="shape", name="train", saved_dir=tmp
            )

    a, b = _at_once(lambda: register("a"), lambda: register("b"))
    assert isinstance(a, ModelVersion) and isinstance(b, ModelVersion), (a, b)
    assert {a.version, b.version} == {1, 2}
    assert a.artifact != b.artifact
    assert _tree_hash(artifact_path(a)) == written["a"]
    assert _tree_hash(artifact_path(b)) == written["b"]
    assert ModelVersion.objects.filter(project=project).count() == 2
    # Nothing is left in the temporary area.
    assert not any((artifact_path(a).parents[3] / "tmp").iterdir())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_retrainings_of_one_aspect_at_once_keep_both_models_intact(
    project, groups, monkeypatch
):  # type: ignore[no-untyped-def]
    """Two GPU workers retrain the same aspect at once. They used to pick the same number
    and the second one's folder replaced the first's: the live v1 served the other job's
    weights while that job failed on the duplicate number."""
    import rewards.ml.model as ml_model
    import rewards.ml.train as ml_train
    from rewards.training import train_aspects

    world_seed(project=project, images=140, seed=11, gold_share=0.0)
    simulate_labels(project=project, reviewers=3, labels=140, seed=11)
    barrier = threading.Barrier(2, timeout=120)
    real_train, real_save = ml_train.train_aspect, ml_model.save
    written: dict[int, str] = {}

    def train_then_meet(*a: Any, **kw: Any) -> Any:
        out = real_train(*a, **kw)
        barrier.wait()  # both finish training, then both register
        return out

    def save_and_hash(model: Any, folder: Path, metadata: dict | None = None) -> Path:
        out = real_save(model, folder, metadata=metadata)
        written[threading.get_ident()] = _tree_hash(Path(folder))
        return out

    monkeypatch.setattr(ml_train, "train_aspect", train_then_meet)
    monkeypatch.setattr(ml_model, "save", save_and_hash)

    def retrain(seed: int) -> tuple[int, ModelVersion]:
        (version,) = train_aspects(project=project, aspects=["color"], epochs=1, seed=seed)
        return threading.get_ident(), version

    results = _at_once(lambda: retrain(1), lambda: retrain(2))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {v.version for _, v in results} == {1, 2}
    for ident, version in results:
        assert _tree_hash(artifact_path(version)) == written[ident]
    assert written[results[0][0]] != written[results[1][0]]
    assert ModelVersion.objects.filter(slot="color", status="live").count() == 1


def test_a_writer_that_dies_while_saving_registers_nothing(project, settings):  # type: ignore[no-untyped-def]
    with pytest.raises(KeyboardInterrupt), artifact_dir() as tmp:
        (tmp / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt  # killed mid-write
    assert not ModelVersion.objects.exists()
    assert not (Path(settings.ARTIFACT_ROOT) / f"project-{project.pk}").exists()


def test_a_failed_commit_takes_the_folder_away_again(project, settings, monkeypatch):  # type: ignore[no-untyped-def]
    def dies(*a: Any, **kw: Any) -> None:
        raise SystemExit("killed between the rename and the commit")

    monkeypatch.setattr(registry.os, "rename", _rename_then(dies))
    with artifact_dir() as tmp:
        (tmp / "config.json").write_text("{}")
        with pytest.raises(SystemExit):
            model_version_create(project=project, family="generator", name="x", saved_dir=tmp)
    assert not ModelVersion.objects.exists()
    folder = Path(settings.ARTIFACT_ROOT) / f"project-{project.pk}" / "generator"
    assert not folder.exists() or not any(folder.iterdir())


def _rename_then(after: Callable[..., None]) -> Callable[[Any, Any], None]:
    import os

    real = os.rename

    def rename(src: Any, dst: Any) -> None:
        real(src, dst)
        after()

    return rename


def test_a_folder_already_there_is_never_written_over(project, monkeypatch):  # type: ignore[no-untyped-def]
    with artifact_dir() as tmp:
        (tmp / "config.json").write_text('{"first": true}')
        first = model_version_create(project=project, family="generator", name="a", saved_dir=tmp)
    before = _tree_hash(artifact_path(first))
    # Even a writer that believes it is first (an allocation bug, a stale read) only fails.
    monkeypatch.setattr(registry, "_next_number", lambda **kw: 1)
    with artifact_dir() as tmp:
        (tmp / "config.json").write_text('{"second": true}')
        with pytest.raises(VersionError, match="could not allocate"):
            model_version_create(project=project, family="generator", name="b", saved_dir=tmp)
    assert _tree_hash(artifact_path(first)) == before
    assert ModelVersion.objects.count() == 1


def test_reward_models_and_pipelines_share_numbers_per_slot(project) -> None:  # type: ignore[no-untyped-def]
    made = []
    for family, slot in [("aspect_reward", "shape"), ("aspect_reward", "color")] * 2 + [
        ("generator", "")
    ]:
        with artifact_dir() as tmp:
            (tmp / "config.json").write_text("{}")
            made.append(
                model_version_create(
                    project=project, family=family, slot=slot, name="t", saved_dir=tmp
                )
            )
    assert [(v.slot or v.family, v.version) for v in made] == [
        ("shape", 1),
        ("color", 1),
        ("shape", 2),
        ("color", 2),
        ("generator", 1),
    ]
    assert registry.live_versions(project, "aspect_reward") == {}
    assert [v.version for v in registry.versions_of(project, "aspect_reward", "shape")] == [2, 1]
