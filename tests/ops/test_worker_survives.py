"""The worker survives (docs/operations.md): real processes on a fresh database.

On a fresh SQLite file, or a fresh PostgreSQL database when the suite runs on PostgreSQL,
with `auditcoach worker` and `auditcoach import` as separate processes:

- while the worker imports a large workbook, a second import from the command line exits
  2 with the busy message, and (SQLite) signing in answers 503 "an import is running";
- the worker is then killed (SIGKILL) mid-import; a restarted worker marks the job stalled,
  the database holds nothing of it and its upload folder is gone, and the restarted worker
  imports the next upload as usual;
- (SQLite) a worker whose database is locked by another process waits, and runs its task
  once the lock is gone, instead of exiting.

Every wait is a bounded poll on the thing awaited.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.cache.backends.filebased import FileBasedCache

pytestmark = pytest.mark.worker

ENCOUNTERS = 10_000
"""Large enough that the import, in progress batches of 2,000, is still writing while the
test runs a second import and a sign-in beside it (about 15 s on this 2-core machine)."""
PASSWORD = "a-long-test-password-1"
SETUP = """
import json
from auditcoach.accounts.models import Membership, Organization, Role, User
org = Organization.objects.create(slug="acme", name="Acme")
user = User.objects.create_user("ana", email="ana@example.org", password={password!r})
Membership.objects.create(organization=org, user=user, role=Role.AUDITOR)
print(json.dumps({{"org": org.pk}}))
"""
QUEUE = """
import json, shutil, uuid
from pathlib import Path
from django.conf import settings
from auditcoach.accounts.models import Organization, User
from auditcoach.audits.services import import_job_create
folder = Path(settings.MEDIA_ROOT) / "imports" / f"upload-{{uuid.uuid4().hex}}"
shutil.copytree({source!r}, folder / "workbook")
job = import_job_create(organization=Organization.objects.get(slug="acme"),
    path=folder / "workbook", workbook=None, name={name!r}, cycle="", released=False,
    actor=User.objects.get(username="ana"))
print(json.dumps({{"id": job.pk, "public_id": str(job.public_id), "path": job.path}}))
"""
STATE = """
import json
from django_tasks_db.models import DBTaskResult
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding, ImportJob
job = ImportJob.objects.get(pk={job_id})
print(json.dumps({{
    "status": job.status, "error": job.error,
    "audits": sorted(Audit.objects.values_list("name", flat=True)),
    "encounters": Encounter.objects.count(), "lines": CodeLine.objects.count(),
    "findings": Finding.objects.count(),
    "tasks": sorted(DBTaskResult.objects.values_list("status", flat=True)),
    "stalled_logged": AuditLogEntry.objects.filter(action="import.stalled").count(),
}}))
"""
SIGN_IN = """
import json
from django.test import Client, override_settings
# DEBUG is off, as in production; the page's static files are not collected in this test
with override_settings(STORAGES={{
    "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    "staticfiles": {{"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
}}):
    r = Client(raise_request_exception=False).post(
        "/accounts/login/", {{"username": "ana", "password": {password!r}}})
print(json.dumps({{"status": r.status_code, "retry": r.get("Retry-After"),
    "body": r.content.decode()}}))
"""


@dataclass
class Installation:
    tmp: Path
    env: dict[str, str]
    url: str
    sqlite: Path | None
    big: Path
    small: Path

    def command(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "auditcoach.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def script(self, code: str, timeout: float = 120) -> dict[str, Any]:
        done = self.command("shell", "-c", code, timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "auditcoach.cli", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """A command running beside the test, its output piped."""
        return subprocess.Popen(
            [sys.executable, "-m", "auditcoach.cli", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def worker(self, log: Path) -> subprocess.Popen[bytes]:
        return self.popen(
            "worker", "--no-reload", "--interval", "0.2", "--no-startup-delay", log=log
        )

    def cache(self) -> FileBasedCache:
        return FileBasedCache(self.env["CACHE_DIR"], {})

    def queue(self, source: Path, name: str) -> dict[str, Any]:
        return self.script(QUEUE.format(source=str(source), name=name))

    def state(self, job_id: int) -> dict[str, Any]:
        return self.script(STATE.format(job_id=job_id))

    def status(self, job_id: int) -> str:
        """The job's status straight from the database (a quick poll, no Django)."""
        query = "SELECT status FROM audits_importjob WHERE id = "
        if self.sqlite is not None:
            with sqlite3.connect(self.sqlite, timeout=30) as conn:
                (status,) = conn.execute(query + "?", [job_id]).fetchone()
        else:
            with psycopg.connect(self.url) as conn:
                (status,) = conn.execute(query + "%s", [job_id]).fetchone()
        return str(status)


def _workbook(folder: Path, count: int, prefix: str) -> Path:
    folder.mkdir(parents=True)
    dx = ["I5023", "E1122", "N179", "J189", "I10", "E785", "K219", "F329"]
    with (folder / "encounters.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["encounter_id", "setting", "discharge_date", "age", "sex", "coder"])
        for i in range(count):
            out.writerow(
                [
                    f"{prefix}{i:06d}",
                    "inpatient",
                    "2026-05-01",
                    40 + i % 50,
                    "MF"[i % 2],
                    f"Coder {i % 7}",
                ]
            )
    with (folder / "codes.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["encounter_id", "version", "system", "seq", "code", "poa"])
        for i in range(count):
            for version, codes in (("original", dx[: 4 + i % 4]), ("audited", dx[1 : 5 + i % 3])):
                for seq, code in enumerate(codes, 1):
                    out.writerow([f"{prefix}{i:06d}", version, "ICD10CM", seq, code, "Y"])
    return folder


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    tmp = tmp_path_factory.mktemp("installation")
    outer = os.environ.get("DATABASE_URL", "")
    sqlite: Path | None = None
    database = ""
    if outer.startswith("postgres"):
        database = f"auditcoach_worker_{secrets.token_hex(4)}"
        parts = urlsplit(outer)
        admin = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = parts._replace(path=f"/{database}").geturl()
    else:
        sqlite = tmp / "db.sqlite3"
        url = f"sqlite:///{sqlite}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HTTPS"))},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": url,
        "AUDITCOACH_VAR_DIR": str(tmp / "var"),
        "CACHE_DIR": str(tmp / "var" / "cache"),
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "IMPORT_LEASE_SECONDS": "3",
        "SQLITE_BUSY_TIMEOUT_SECONDS": "1",
    }
    inst = Installation(
        tmp,
        env,
        url,
        sqlite,
        _workbook(tmp / "big", ENCOUNTERS, "K"),
        _workbook(tmp / "small", 3, "S"),
    )
    done = inst.command("migrate", "--noinput", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    inst.script(SETUP.format(password=PASSWORD))
    try:
        yield inst
    finally:
        if database:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _until(condition: Callable[[], bool], seconds: float, what: str, *logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(
                log.read_text(errors="replace")[-3000:] for log in logs if log.exists()
            )
            pytest.fail(f"gave up waiting for {what}:\n{tails}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_killed_mid_import_leaves_nothing_and_the_next_worker_says_so(
    installation: Installation,
) -> None:
    inst = installation
    log = inst.tmp / "worker-1.log"
    job = inst.queue(inst.big, "Big")
    cache = inst.cache()
    progress_key = f"import-progress:{job['public_id']}"
    worker = inst.worker(log)
    try:

        def writing() -> bool:
            value = cache.get(progress_key)
            return isinstance(value, tuple) and 0 < value[0] < value[1]

        _until(writing, 240, "the worker to write the first encounters", log)

        # Beside the running import: a second import exits 2, nothing of it written ...
        second = inst.spawn("import", str(inst.small), "--org", "acme", "--audit", "Second")
        # ... and on SQLite, whose one write lock the import holds, signing in is a 503.
        sign_in = (
            inst.spawn("shell", "-c", SIGN_IN.format(password=PASSWORD)) if inst.sqlite else None
        )
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, (out, err)
        assert "Another import is running" in err
        assert "Nothing was written" in err
        if sign_in is not None:
            out, err = sign_in.communicate(timeout=120)
            answer = json.loads(out.strip().splitlines()[-1])
            assert answer["status"] == 503, (answer["status"], err[-2000:])
            assert answer["retry"] == "30"
            assert "An import is running" in answer["body"]

        still = cache.get(progress_key)
        assert isinstance(still, tuple)
        assert still[0] < still[1], (
            f"the import finished before the kill ({still}); raise ENCOUNTERS"
        )
        worker.send_signal(signal.SIGKILL)  # mid-import: no handler, no clean-up
        worker.wait(timeout=30)
    finally:
        _stop(worker)

    state = inst.state(job["id"])
    assert state["status"] == "running"  # as the dead worker left it
    assert Path(job["path"]).exists()

    log2 = inst.tmp / "worker-2.log"
    restarted = inst.worker(log2)  # as the supervisor of `auditcoach serve` restarts it
    try:
        _until(
            lambda: not Path(job["path"]).parent.exists(), 120, "the stalled job's clean-up", log2
        )
        state = inst.state(job["id"])
        assert state["status"] == "stalled"
        assert "stopped while it was importing" in state["error"]
        assert (state["audits"], state["encounters"], state["lines"], state["findings"]) == (
            [],
            0,
            0,
            0,
        )
        assert state["tasks"] == ["FAILED"]  # the dead worker's task, marked failed
        assert state["stalled_logged"] == 1

        # The restarted worker goes on with the next upload.
        nxt = inst.queue(inst.small, "Next")
        _until(lambda: inst.status(nxt["id"]) == "done", 120, "the next import", log2)
        state = inst.state(nxt["id"])
        assert (state["audits"], state["encounters"]) == (["Next"], 3)
    finally:
        _stop(restarted)


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite's write lock"
)
def test_a_worker_waits_out_a_locked_sqlite_database_instead_of_exiting(
    installation: Installation,
) -> None:
    inst = installation
    assert inst.sqlite is not None
    job = inst.queue(_workbook(inst.tmp / "locked", 3, "L"), "Locked")
    log = inst.tmp / "worker-locked.log"
    holder = sqlite3.connect(inst.sqlite, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    worker = inst.worker(log)
    try:

        def waited_twice() -> bool:
            text = log.read_text(errors="replace") if log.exists() else ""
            return text.count('"worker.locked"') >= 2

        _until(waited_twice, 120, "the worker to wait on the lock twice", log)
        assert worker.poll() is None  # still there
        holder.execute("ROLLBACK")
        holder.close()
        _until(lambda: inst.status(job["id"]) == "done", 120, "the import", log)
        assert worker.poll() is None
    finally:
        holder.close()
        _stop(worker)
