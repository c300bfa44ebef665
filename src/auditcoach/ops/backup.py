"""Online backup and restore of an SQLite database, with an integrity check each way.

Plain `sqlite3`, no Django: SQLite's online backup API copies the database page by page
while other connections keep reading and writing (a writer that commits meanwhile makes the
copy restart its pass, so the result is always one consistent state). A copy is trusted only
after `PRAGMA integrity_check` says `ok` and it holds the tables of an AuditCoach database.
"""

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

type Progress = Callable[[int, int], None]
"""Called with (pages copied, pages in all) as the copy goes."""

PAGES_PER_STEP = 1024
REQUIRED_TABLES = ("django_migrations", "accounts_organization", "auditlog_auditlogentry")


class BackupError(Exception):
    """The copy could not be made or is not a sound AuditCoach database."""


def integrity_problems(connection: sqlite3.Connection) -> list[str]:
    """What `PRAGMA integrity_check` reports, or [] when the database is sound."""
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:  # not a database at all
        return [str(exc)]
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


def check(path: Path) -> None:
    """Refuse a file that is not a sound SQLite database of AuditCoach."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = integrity_problems(connection)
        if problems:
            raise BackupError(f"{path} is damaged: " + "; ".join(problems[:5]))
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    finally:
        connection.close()
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{path} is not an AuditCoach database (no {', '.join(missing)})")


def _copy(
    source: sqlite3.Connection, target: sqlite3.Connection, progress: Progress | None
) -> None:
    def step(status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    source.backup(target, pages=PAGES_PER_STEP, progress=step)


def backup(
    source: sqlite3.Connection, destination: Path, *, progress: Progress | None = None
) -> None:
    """Copy the database open on `source` to the new file `destination`, then check it.

    The copy is written beside the destination and renamed into place only once it checks
    out, so a failed or interrupted backup never leaves a half-written file under that name.
    """
    if destination.exists():
        raise BackupError(f"{destination} exists already; choose a new file name")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        _copy(source, target, progress)
        problems = integrity_problems(target)
    finally:
        target.close()
    if problems:
        partial.unlink(missing_ok=True)
        raise BackupError("the copy failed its integrity check: " + "; ".join(problems[:5]))
    os.replace(partial, destination)
    check(destination)


def restore(
    backup_file: Path, target: sqlite3.Connection, *, progress: Progress | None = None
) -> None:
    """Replace the database open on `target` with the checked copy `backup_file`.

    The backup API writes every page of the target in one transaction: other connections
    see the old database or the restored one, never a mixture.
    """
    check(backup_file)
    source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        _copy(source, target, progress)
    finally:
        source.close()
    problems = integrity_problems(target)
    if problems:
        raise BackupError(
            "the restored database failed its integrity check: " + "; ".join(problems[:5])
        )
