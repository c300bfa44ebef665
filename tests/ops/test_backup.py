"""`auditcoach backup` / `restore`: SQLite's online backup API, checked each way."""

import sqlite3
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from auditcoach.accounts.models import Organization
from auditcoach.ops.backup import BackupError, backup, check, restore

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded database")


def _database(path: Path, *, tables: tuple[str, ...] = ("django_migrations",
              "accounts_organization", "auditlog_auditlogentry")) -> sqlite3.Connection:  # fmt: skip
    db = sqlite3.connect(path)
    for table in tables:
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO accounts_organization (name) VALUES ('North')")
    db.commit()
    return db


def test_a_backup_is_a_checked_copy_made_under_a_new_name(tmp_path: Path) -> None:
    live = _database(tmp_path / "live.sqlite3")
    seen: list[tuple[int, int]] = []
    copy = tmp_path / "copy.sqlite3"
    backup(live, copy, progress=lambda done, total: seen.append((done, total)))
    assert seen
    assert seen[-1][0] == seen[-1][1] > 0
    check(copy)
    rows = sqlite3.connect(copy).execute("SELECT name FROM accounts_organization").fetchall()
    assert rows == [("North",)]
    assert not (tmp_path / "copy.sqlite3.partial").exists()
    with pytest.raises(BackupError, match="exists already"):
        backup(live, copy)


def test_restore_puts_the_copy_back(tmp_path: Path) -> None:
    live = _database(tmp_path / "live.sqlite3")
    copy = tmp_path / "copy.sqlite3"
    backup(live, copy)
    live.execute("INSERT INTO accounts_organization (name) VALUES ('South')")
    live.commit()
    restore(copy, live)
    assert live.execute("SELECT name FROM accounts_organization").fetchall() == [("North",)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an AuditCoach database"),  # an empty file opens as an empty database
        (b"PK\x03\x04 this is a zip, not a database" * 100, "damaged"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "damaged"),
    ],
    ids=["empty", "not-sqlite", "truncated-header"],
)
def test_a_damaged_or_foreign_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(content)
    with pytest.raises(BackupError, match=message):
        check(bad)
    target = _database(tmp_path / "live.sqlite3")
    with pytest.raises(BackupError):
        restore(bad, target)
    # Nothing was touched.
    assert target.execute("SELECT name FROM accounts_organization").fetchall() == [("North",)]


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    _database(other, tables=("django_migrations", "accounts_organization")).close()
    with pytest.raises(BackupError, match="no auditlog_auditlogentry"):
        check(other)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        check(tmp_path / "nowhere.sqlite3")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_commands_back_up_and_restore_the_app_database(tmp_path: Path) -> None:
    Organization.objects.create(slug="north", name="North")
    copy = tmp_path / "nightly.sqlite3"
    call_command("backup", str(copy))
    check(copy)
    Organization.objects.create(slug="south", name="South")

    with pytest.raises(CommandError, match="--yes") as refused:
        call_command("restore", str(copy))
    assert refused.value.returncode == 2
    assert Organization.objects.filter(slug="south").exists()

    call_command("restore", str(copy), "--yes")
    assert list(Organization.objects.values_list("slug", flat=True)) == ["north"]

    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", str(copy))
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 500)
    with pytest.raises(CommandError, match="nothing was restored"):
        call_command("restore", str(bad), "--yes")
    assert list(Organization.objects.values_list("slug", flat=True)) == ["north"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advice for PostgreSQL")
@pytest.mark.django_db
def test_on_postgresql_the_commands_point_to_pg_dump(tmp_path: Path) -> None:
    for command in (("backup", str(tmp_path / "x")), ("restore", str(tmp_path / "x"), "--yes")):
        with pytest.raises(CommandError, match="pg_dump") as refused:
            call_command(*command)
        assert refused.value.returncode == 2
    assert not (tmp_path / "x").exists()
