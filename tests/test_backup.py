"""Backup and restore as an operator runs them: a seeded project backed up while the app's
database is live, restored by another process into a fresh database and fresh folders,
where the same items, labels, audits, jobs and live models are found and the live model
gives the same scores on the same images; and every refusal, with nothing written."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from jdreview.backup import DB_MEMBERS, MANIFEST, ArchiveWriter, migrations_applied
from labeling import services
from rewards.models import Audit
from tests.factories import GOOD, ItemFactory, png_bytes
from tests.test_health import live_model
from workers.models import Job

ROOT = Path(__file__).resolve().parent.parent

# What must survive, read the same way here and in the restored app's own process.
SNAPSHOT = """
import hashlib, json
from pathlib import Path

def snapshot():
    from labeling.models import Annotation, Item
    from rewards.ml.ensemble import Ensemble
    from rewards.ml.model import load
    from rewards.models import Audit
    from workers.models import Job, ModelVersion
    from workers.versions import artifact_path

    items = list(Item.objects.order_by("pk"))
    live = list(ModelVersion.objects.filter(status="live").order_by("pk"))
    scores = {}
    for version in live:
        ensemble = Ensemble({version.slot: load(artifact_path(version))})
        found = ensemble.score_files([i.image.path for i in items])[version.slot]
        scores[version.slot] = [round(float(s), 6) for s in found]
    return {
        "items": [
            [i.pk, i.image.name, hashlib.sha256(Path(i.image.path).read_bytes()).hexdigest()]
            for i in items
        ],
        "labels": [
            [a.item_id, a.user.username, a.values, a.undone]
            for a in Annotation.objects.order_by("pk").select_related("user")
        ],
        "audits": list(Audit.objects.order_by("pk").values_list("item_id", "status", "outcome")),
        "jobs": list(Job.objects.order_by("pk").values_list("kind", "status", "request_id")),
        "live": [[v.family, v.slot, v.version, v.artifact] for v in live],
        "scores": scores,
    }
"""


def snapshot_here() -> dict:
    namespace: dict = {}
    exec(SNAPSHOT, namespace)
    return json.loads(json.dumps(namespace["snapshot"]()))  # the same types as read back


def _env(database_url: str, root: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTEST_XDIST_WORKER")}
    return {
        **clean,
        "DATABASE_URL": database_url,
        "JDREVIEW_VAR_DIR": str(root / "var"),
        "MEDIA_ROOT": str(root / "media"),
        "JDREVIEW_ARTIFACT_ROOT": str(root / "artifacts"),
    }


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def fresh_database(tmp_path):  # type: ignore[no-untyped-def]
    """The URL of a new, empty database of the suite's kind (a second PostgreSQL database
    beside the test one, or a new SQLite file)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    import psycopg

    name = f"{db['NAME']}_restored"
    host, port, user = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432, db.get("USER")
    admin = f"postgresql://{user}@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{user}@{host}:{port}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.backend
@pytest.mark.django_db(transaction=True)
def test_a_restored_backup_holds_the_same_project(
    annotator, project, fresh_database, tmp_path, no_enqueue
):
    items = ItemFactory.create_batch(3, project=project)
    assignment = services.task_next(project=project, user=annotator)
    services.annotation_submit(assignment_id=assignment.pk, user=annotator, values=GOOD)
    Audit.objects.create(item=items[0], project=project, outcome="launch", sample_rate=1.0)
    Job.objects.create(kind="export", project=project, status="succeeded", request_id="req-b-01")
    live_model(project)
    before = snapshot_here()
    assert before["labels"] and before["audits"] and before["jobs"] and before["scores"]

    out = io.StringIO()
    call_command("backup", str(tmp_path), stdout=out)  # a folder: it names the archive
    (archive,) = tmp_path.glob("jdreview-*.tar")
    assert "media: 3 files" in out.getvalue()

    target = _env(fresh_database, tmp_path / "restored")
    restored = manage(target, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "checksums match" in restored.stdout and "restored" in restored.stdout

    read = manage(target, "shell", "-c", SNAPSHOT + "\nprint(json.dumps(snapshot()))")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout.strip().splitlines()[-1]) == before

    again = manage(target, "restore", str(archive))  # the target is not empty any more
    assert again.returncode != 0
    assert "refused: the media root (MEDIA_ROOT) is not empty" in again.stderr


# -- refusals: archives made by hand, nothing restored --------------------------------------


def write_archive(path: Path, *, migrations=None, extra: dict[str, bytes] | None = None) -> Path:  # type: ignore[no-untyped-def]
    writer = ArchiveWriter(path)
    member = DB_MEMBERS[connection.vendor]
    writer.add_bytes(member, b"a database dump")
    writer.add_bytes("media/items/a.png", png_bytes())
    writer.add_bytes("artifacts/project-1/aspect_reward/placement/v1-x/model.safetensors", b"w")
    for name, data in (extra or {}).items():
        writer.add_bytes(name, data)
    writer.close(
        {
            "format": 1,
            "app": "jdreview",
            "version": "0.1.0",
            "created_at": "2026-01-01T00:00:00+00:00",
            "database": {"vendor": connection.vendor, "member": member},
            "migrations": migrations if migrations is not None else migrations_applied(),
        }
    )
    return path


def damaged(source: Path, dest: Path, name: str) -> Path:
    """The same archive with one member's bytes changed (its manifest untouched)."""
    with tarfile.open(source) as src, tarfile.open(dest, "w") as out:
        for member in src:
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == name:
                data = data[:-1] + bytes([data[-1] ^ 1])
            out.addfile(member, io.BytesIO(data))
    return dest


@pytest.fixture
def empty_roots(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "target" / "media")
    settings.ARTIFACT_ROOT = str(tmp_path / "target" / "artifacts")
    return tmp_path / "target"


def restore_refused(archive: Path) -> str:
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(archive), stdout=io.StringIO())
    return str(refused.value)


def nothing_written(target: Path) -> bool:
    return not target.exists() or not any(target.rglob("*"))


@pytest.mark.django_db
def test_a_damaged_archive_is_refused_before_anything_is_written(empty_roots, tmp_path):
    good = write_archive(tmp_path / "good.tar")
    bad = damaged(good, tmp_path / "bad.tar", "media/items/a.png")
    assert "checksum mismatch for media/items/a.png" in restore_refused(bad)
    assert nothing_written(empty_roots)


@pytest.mark.django_db
def test_a_backup_from_newer_code_is_refused(empty_roots, tmp_path):
    migrations = migrations_applied()
    migrations["workers"] = [*migrations["workers"], "0099_from_the_future"]
    message = restore_refused(write_archive(tmp_path / "new.tar", migrations=migrations))
    assert "made by newer code" in message and "workers.0099_from_the_future" in message
    assert nothing_written(empty_roots)


@pytest.mark.django_db
def test_a_storage_root_that_is_not_empty_is_refused(empty_roots, tmp_path):
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True)
    (media / "keep.png").write_bytes(b"someone's file")
    message = restore_refused(write_archive(tmp_path / "a.tar"))
    assert "the media root (MEDIA_ROOT) is not empty" in message
    assert [p.name for p in media.iterdir()] == ["keep.png"]
    assert not Path(settings.ARTIFACT_ROOT).exists()


@pytest.mark.django_db
def test_a_database_that_is_not_empty_is_refused(empty_roots, tmp_path):
    # The test database has every table: restoring over it is what must never happen.
    assert "the database is not empty" in restore_refused(write_archive(tmp_path / "a.tar"))
    assert nothing_written(empty_roots)


@pytest.mark.django_db
def test_a_member_that_escapes_the_backup_folders_is_refused(empty_roots, tmp_path):
    archive = write_archive(tmp_path / "evil.tar", extra={"media/../../escaped.txt": b"x"})
    assert "is not a plain file inside the backup's folders" in restore_refused(archive)
    assert not (tmp_path / "escaped.txt").exists()
    assert nothing_written(empty_roots)


@pytest.mark.django_db
def test_what_is_not_a_backup_is_refused(empty_roots, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all")
    assert "is not a readable tar archive" in restore_refused(junk)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("notes.txt")
        tar.addfile(info, io.BytesIO(b""))
    assert "not a jdreview backup" in restore_refused(plain)
    with tarfile.open(write_archive(tmp_path / "a.tar")) as tar:
        assert MANIFEST in tar.getnames()


@pytest.mark.django_db
def test_backup_never_overwrites_an_archive(tmp_path):
    existing = tmp_path / "monday.tar"
    existing.write_bytes(b"last week's backup")
    with pytest.raises(CommandError, match="exists"):
        call_command("backup", str(existing), stdout=io.StringIO())
    assert existing.read_bytes() == b"last week's backup"
