"""`auditcoach restore PATH --yes`: put a checked backup back as the embedded database."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from auditcoach.ops.backup import BackupError, check, restore
from auditcoach.ops.management.commands.backup import progress_printer, sqlite_connection


class Command(BaseCommand):
    help = (
        "Replace the embedded SQLite database with the backup PATH, after checking that PATH "
        "is a sound AuditCoach database. Stop the web server and the worker first."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="a file made by `auditcoach backup`")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="replace the current database without asking (it is overwritten)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target = sqlite_connection()
        path: Path = options["path"]
        try:
            check(path)
        except BackupError as exc:
            raise CommandError(f"nothing was restored: {exc}", returncode=2) from exc
        if not options["yes"]:
            raise CommandError(
                "restoring overwrites the current database: stop the web server and the "
                "worker, make a backup of the current one if you may need it, then run this "
                "again with --yes",
                returncode=2,
            )
        try:
            restore(path, target, progress=progress_printer("restored"))
        except (BackupError, OSError) as exc:
            raise CommandError(f"the restore failed: {exc}", returncode=2) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the database from {path}; integrity check: ok. "
                "Run `auditcoach migrate` if the backup is older than this version."
            )
        )
