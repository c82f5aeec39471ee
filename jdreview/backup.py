"""Backup and restore: one tar archive of the database, the media files and the model
artifacts, with a manifest (app version, migrations applied per app, a sha256 and size
per member). ``manage.py backup`` and ``manage.py restore`` call these.

The database is copied first and the files after it: a row's file (an upload, a model's
folder) exists before the row commits, so every file the copied rows name is in the
archive; files that arrive meanwhile are extra, never missing. PostgreSQL is copied with
``pg_dump`` (custom format), SQLite with its online backup API: both while the app runs.

A restore checks everything before it writes anything: the manifest, every member's
checksum, that no member escapes its folder, that the code knows every migration the
backup has applied, and that the storage roots and the database are empty. Then it
extracts the files into folders beside the roots, restores the database in one
transaction (``pg_restore --single-transaction``; SQLite's backup API), and only then moves
the folders into place: a failure leaves the target as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
DB_MEMBERS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# Archive folder -> the setting of the root it holds. Under the artifact root, tmp/ is
# trainings in progress (workers.versions.artifact_dir): never part of a backup.
ROOTS = {"media": "MEDIA_ROOT", "artifacts": "ARTIFACT_ROOT"}
SKIP = {"artifacts": ("tmp",)}
CHUNK = 1 << 20

Progress = Callable[[str], None]


class BackupError(Exception):
    """The backup or the restore cannot go on; the message says why and what to do."""


def app_version() -> str:
    with (Path(settings.BASE_DIR) / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _vendor() -> str:
    if connection.vendor not in DB_MEMBERS:
        raise BackupError(f"backups of a {connection.vendor} database are not supported")
    return connection.vendor


def migrations_applied() -> dict[str, list[str]]:
    state: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        state.setdefault(app, []).append(name)
    return state


def migrations_in_code() -> set[tuple[str, str]]:
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _root(prefix: str) -> Path:
    return Path(getattr(settings, ROOTS[prefix]))


def _files(prefix: str) -> Iterator[tuple[str, Path]]:
    """(member name, path) of every file under a root, in a stable order."""
    root = _root(prefix)
    if not root.is_dir():
        return
    skip = SKIP.get(prefix, ())
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield f"{prefix}/{path.relative_to(root).as_posix()}", path


class _Hashing(io.RawIOBase):
    """A file read through once: the tar member's bytes and their sha256 from one read."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.sha = f, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.sha.update(data)
        return data


class ArchiveWriter:
    """Members first, the manifest last (it holds their checksums)."""

    def __init__(self, path: Path) -> None:
        self.tar = tarfile.open(path, "w")  # noqa: SIM115  (closed by close())
        self.members: dict[str, dict[str, Any]] = {}

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as f:
            info = self.tar.gettarinfo(fileobj=f, arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            hashing = _Hashing(f)
            self.tar.addfile(info, hashing)  # type: ignore[arg-type]
        self.members[name] = {"sha256": hashing.sha.hexdigest(), "size": info.size}

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(data), int(timezone.now().timestamp())
        self.tar.addfile(info, io.BytesIO(data))
        self.members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def close(self, manifest: dict[str, Any]) -> None:
        body = json.dumps({**manifest, "members": self.members}, indent=1, sort_keys=True)
        info = tarfile.TarInfo(MANIFEST)
        data = body.encode()
        info.size, info.mtime = len(data), int(timezone.now().timestamp())
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()


# -- backup --------------------------------------------------------------------------------


def _pg_args() -> tuple[list[str], dict[str, str]]:
    """libpq's connection options for the client tools, the password in the environment
    (never in the command line, which other users of the machine can read)."""
    db = connection.settings_dict
    args = ["--dbname", db["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    if db.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = str(db["OPTIONS"]["sslmode"])
    return args, env


def _pg_tool(tool: str, args: list[str], env: dict[str, str]) -> None:
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client tools of the server's "
            "major version or newer (Debian: apt-get install postgresql-client)"
        )
    done = subprocess.run([tool, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.returncode}")


def _dump_database(into: Path, progress: Progress) -> tuple[str, Path]:
    vendor = _vendor()
    out = into / DB_MEMBERS[vendor]
    if vendor == "postgresql":
        progress("database: pg_dump (custom format)")
        args, env = _pg_args()
        dump = ["--format=custom", "--no-owner", "--no-privileges", "--file", str(out)]
        _pg_tool("pg_dump", [*dump, *args], env)
    else:
        progress("database: SQLite online backup")
        source = sqlite3.connect(connection.settings_dict["NAME"])
        target = sqlite3.connect(out)
        try:
            # Page by page, so the app's writers wait for a step at most, not the copy.
            source.backup(target, pages=4096)
        finally:
            target.close()
            source.close()
    progress(f"database: {out.stat().st_size / 1e6:,.1f} MB")
    return DB_MEMBERS[vendor], out


def backup_write(dest: Path, *, progress: Progress = lambda line: None) -> Path:
    """Write the archive to ``dest`` (a new file), or into ``dest`` when it is a folder.
    Written beside its name and renamed when complete: a failed run leaves no archive."""
    if dest.is_dir():
        dest = dest / f"jdreview-{timezone.now():%Y%m%d-%H%M%S}.tar"
    if dest.exists():
        raise BackupError(f"{dest} exists; name a new file or a folder")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a folder")
    partial = dest.with_name(f".{dest.name}.partial")
    vendor = _vendor()
    migrations = migrations_applied()
    try:
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".jdreview-backup-") as tmp:
            name, dump = _dump_database(Path(tmp), progress)
            writer = ArchiveWriter(partial)
            writer.add_file(name, dump)
            counts = {}
            for prefix in ROOTS:
                counts[prefix] = _add_root(writer, prefix, progress)
            writer.close(
                {
                    "format": FORMAT,
                    "app": "jdreview",
                    "version": app_version(),
                    "created_at": timezone.now().isoformat(),
                    "database": {"vendor": vendor, "member": name},
                    "migrations": migrations,
                    "files": counts,
                }
            )
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def _add_root(writer: ArchiveWriter, prefix: str, progress: Progress) -> int:
    count = size = 0
    for name, path in _files(prefix):
        try:
            writer.add_file(name, path)
        except FileNotFoundError:
            continue  # deleted since the walk (an export cleaned up): not part of this copy
        count += 1
        size += writer.members[name]["size"]
        if count % 1000 == 0:
            progress(f"{prefix}: {count:,} files, {size / 1e6:,.1f} MB")
    progress(f"{prefix}: {count:,} files, {size / 1e6:,.1f} MB")
    return count


# -- restore -------------------------------------------------------------------------------


@dataclass
class Archive:
    tar: tarfile.TarFile
    manifest: dict[str, Any]

    @property
    def vendor(self) -> str:
        return str(self.manifest["database"]["vendor"])


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return False
    return name in (MANIFEST, *DB_MEMBERS.values()) or (
        path.parts[0] in ROOTS and len(path.parts) > 1
    )


def archive_open(path: Path) -> Archive:
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115  (the caller closes it)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{path} is not a readable tar archive ({exc})") from None
    try:
        manifest = json.load(tar.extractfile(MANIFEST))  # type: ignore[arg-type]
    except (KeyError, ValueError, tarfile.TarError):
        tar.close()
        raise BackupError(f"{path} has no jdreview manifest: not a jdreview backup") from None
    if manifest.get("app") != "jdreview" or manifest.get("format") != FORMAT:
        tar.close()
        raise BackupError(f"{path} is not a jdreview backup of format {FORMAT}")
    return Archive(tar, manifest)


def archive_verify(archive: Archive, progress: Progress = lambda line: None) -> None:
    """Every member is listed, safe to extract and has the checksum the manifest says."""
    listed: dict[str, dict[str, Any]] = archive.manifest.get("members", {})
    seen: set[str] = set()
    checked = 0
    for member in archive.tar:
        name = member.name
        if name == MANIFEST:
            continue
        if not member.isfile() or not _safe_name(name):
            raise BackupError(
                f"refused: the archive member {name!r} is not a plain file inside the "
                "backup's folders"
            )
        if name not in listed:
            raise BackupError(f"refused: {name} is in the archive but not in its manifest")
        sha = hashlib.sha256()
        f = archive.tar.extractfile(member)
        assert f is not None
        while chunk := f.read(CHUNK):
            sha.update(chunk)
        if sha.hexdigest() != listed[name]["sha256"]:
            raise BackupError(f"refused: checksum mismatch for {name}: the archive is damaged")
        seen.add(name)
        checked += 1
        if checked % 1000 == 0:
            progress(f"verified {checked:,} of {len(listed):,} members")
    missing = sorted(set(listed) - seen)
    if missing:
        raise BackupError(f"refused: {len(missing)} member(s) missing, e.g. {missing[0]}")
    if archive.manifest["database"]["member"] not in seen:
        raise BackupError("refused: the archive holds no database")
    progress(f"verified {checked:,} members: checksums match")


def migrations_check(archive: Archive) -> list[str]:
    """Refuse a backup made by newer code; return what the code has that it lacks (the
    restored database then needs ``manage.py migrate``)."""
    code = migrations_in_code()
    backed = {
        (app, name) for app, names in archive.manifest["migrations"].items() for name in names
    }
    unknown = sorted(f"{app}.{name}" for app, name in backed - code)
    if unknown:
        raise BackupError(
            f"refused: the backup was made by newer code (jdreview "
            f"{archive.manifest.get('version')}): {len(unknown)} migration(s) this code does "
            f"not have, e.g. {unknown[0]}; restore it with that version or a later one"
        )
    return sorted(f"{app}.{name}" for app, name in code - backed)


def targets_check(archive: Archive) -> None:
    for prefix in ROOTS:
        root = _root(prefix)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise BackupError(
                f"refused: the {prefix} root ({ROOTS[prefix]}) is not empty; restore into "
                "empty storage roots"
            )
    vendor = _vendor()
    if vendor != archive.vendor:
        raise BackupError(
            f"refused: the backup holds a {archive.vendor} database and this app uses "
            f"{vendor}; point DATABASE_URL at an empty {archive.vendor} database"
        )
    tables = connection.introspection.table_names()
    if tables:
        raise BackupError(
            f"refused: the database is not empty ({len(tables)} tables); restore into a new "
            "database (PostgreSQL: createdb; SQLite: a new file)"
        )


def _stage(archive: Archive, progress: Progress) -> dict[str, Path]:
    """Extract the files into hidden folders beside their roots (same file system, so the
    final move is a rename)."""
    staged: dict[str, Path] = {}
    for prefix in ROOTS:
        root = _root(prefix)
        root.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.restore-"))
        folder.chmod(0o755)  # mkdtemp's 0700 would keep the web server out of MEDIA_ROOT
        staged[prefix] = folder
    count = 0
    for member in archive.tar:
        prefix = PurePosixPath(member.name).parts[0]
        if prefix not in staged:
            continue
        target = staged[prefix].joinpath(*PurePosixPath(member.name).parts[1:])
        target.parent.mkdir(parents=True, exist_ok=True)
        source = archive.tar.extractfile(member)
        assert source is not None
        with target.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
        os.utime(target, (member.mtime, member.mtime))
        count += 1
        if count % 1000 == 0:
            progress(f"files: {count:,} extracted")
    progress(f"files: {count:,} extracted")
    return staged


def _restore_database(archive: Archive, into: Path, progress: Progress) -> None:
    name = archive.manifest["database"]["member"]
    dump = into / name
    source = archive.tar.extractfile(name)
    assert source is not None
    with dump.open("wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    connection.close()
    if archive.vendor == "postgresql":
        progress("database: pg_restore (one transaction)")
        args, env = _pg_args()
        once = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        _pg_tool("pg_restore", [*once, *args, str(dump)], env)
    else:
        progress("database: SQLite backup API")
        src, dst = sqlite3.connect(dump), sqlite3.connect(connection.settings_dict["NAME"])
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()


def restore(path: Path, *, progress: Progress = lambda line: None) -> list[str]:
    """Restore an archive into the configured (empty) database and storage roots. Returns
    the migrations the code has that the backup lacks."""
    archive = archive_open(path)
    staged: dict[str, Path] = {}
    try:
        progress(
            f"backup of jdreview {archive.manifest.get('version')} made "
            f"{archive.manifest.get('created_at')}"
        )
        archive_verify(archive, progress)
        behind = migrations_check(archive)
        targets_check(archive)
        staged = _stage(archive, progress)
        with tempfile.TemporaryDirectory(prefix="jdreview-restore-") as tmp:
            _restore_database(archive, Path(tmp), progress)
        for prefix, folder in staged.items():
            root = _root(prefix)
            if root.exists():
                root.rmdir()  # checked empty above
            folder.rename(root)
        staged = {}
        return behind
    finally:
        archive.tar.close()
        for folder in staged.values():
            shutil.rmtree(folder, ignore_errors=True)
