"""``manage.py restore ARCHIVE``: a backup into an empty database and empty storage roots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jdreview.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a `manage.py backup` archive into the configured database and storage "
        "roots, which must be empty. Everything is checked (checksums, migrations, empty "
        "targets) before anything is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="the .tar written by manage.py backup")

    def handle(self, *args: Any, archive: str, **options: Any) -> None:
        try:
            behind = restore(Path(archive), progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS("restored"))
        if behind:
            self.stdout.write(
                f"the backup predates {len(behind)} migration(s) of this code: run "
                "manage.py migrate"
            )
