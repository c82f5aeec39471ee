"""``manage.py backup DEST``: one archive of the database, media and model artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jdreview.backup import BackupError, backup_write


class Command(BaseCommand):
    help = (
        "Write one tar archive of the database (pg_dump, or SQLite's online backup), the "
        "media files and the model artifacts, with a manifest of versions and checksums. "
        "Safe while the app runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "dest", help="the archive to create, or a folder to write jdreview-<time>.tar in"
        )

    def handle(self, *args: Any, dest: str, **options: Any) -> None:
        try:
            path = backup_write(Path(dest), progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        size = path.stat().st_size / 1e6
        self.stdout.write(self.style.SUCCESS(f"backup written: {path} ({size:,.1f} MB)"))
