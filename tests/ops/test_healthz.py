"""`/healthz`: 200 when the database answers, 503 (never a 500) when it does not."""

import json
import os
import subprocess
import sys

import pytest

from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import ClientFor


@pytest.mark.django_db
def test_healthz_answers_ok_without_login_and_is_never_cached(client_for: ClientFor) -> None:
    before = AuditLogEntry.objects.count()
    response = client_for(None).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "application/json"
    assert client_for(None).head("/healthz").status_code == 200
    assert client_for(None).post("/healthz").status_code == 405
    assert AuditLogEntry.objects.count() == before


_PROBE = """
import json
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json(),
                  "cache": response["Cache-Control"]}))
"""


def _probe(database_url: str, tmp_path: object) -> dict[str, object]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "auditcoach.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "AUDITCOACH_VAR_DIR": str(tmp_path),
    }
    code = "import django; django.setup()\n" + _PROBE
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    # the failure is logged as one JSON line naming the error's class, nothing more
    health = [
        json.loads(line) for line in done.stderr.splitlines() if '"auditcoach.health"' in line
    ]
    result["logged"] = health
    return result


def test_healthz_is_503_when_the_sqlite_file_cannot_be_opened(tmp_path: object) -> None:
    result = _probe("sqlite:////nonexistent-directory/for/auditcoach.sqlite3", tmp_path)
    assert result["status"] == 503
    assert result["body"] == {"status": "unavailable", "database": "unreachable"}
    assert result["cache"] == "no-store"
    logged = result["logged"]
    assert isinstance(logged, list)
    assert logged
    assert logged[0]["error"] == "OperationalError"


def test_healthz_is_503_when_postgresql_refuses(tmp_path: object) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    result = _probe("postgres://postgres@127.0.0.1:9/auditcoach_nowhere", tmp_path)
    assert result["status"] == 503
    assert result["body"] == {"status": "unavailable", "database": "unreachable"}
