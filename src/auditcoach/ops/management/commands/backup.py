"""`auditcoach backup PATH`: an online, checked copy of the embedded SQLite database."""

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from auditcoach.ops.backup import BackupError, backup

POSTGRES_ADVICE = (
    "this installation uses PostgreSQL: back it up with PostgreSQL's own tools, e.g.\n"
    '  pg_dump --format=custom --file=auditcoach.dump "$DATABASE_URL"\n'
    "and restore with pg_restore (docs/backups.md)"
)


def sqlite_connection() -> Any:
    """The raw `sqlite3` connection of Django's default database, or a CommandError."""
    if connection.vendor != "sqlite":
        raise CommandError(POSTGRES_ADVICE, returncode=2)
    connection.ensure_connection()
    return connection.connection


def progress_printer(verb: str) -> Any:
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty() or total > 10_000:
            sys.stderr.write(f"\r  {verb} {done:,} / {total:,} pages")
            sys.stderr.flush()

    return show


class Command(BaseCommand):
    help = (
        "Copy the embedded SQLite database to PATH while the app keeps running (SQLite's "
        "online backup API), then verify the copy with PRAGMA integrity_check."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="the new backup file (must not exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        source = sqlite_connection()
        destination: Path = options["path"]
        try:
            backup(source, destination, progress=progress_printer("copied"))
        except (BackupError, OSError) as exc:
            raise CommandError(f"no backup was made: {exc}", returncode=2) from exc
        size = destination.stat().st_size
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up the database to {destination} ({size / 1e6:,.1f} MB); "
                "integrity check: ok."
            )
        )
