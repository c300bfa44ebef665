"""`auditcoach serve` for real: DEBUG off, a fresh SQLite file, gunicorn on a free loopback port.

It migrates, collects the static files and starts gunicorn, the worker and the reminder loop
under the supervisor; the test fetches pages, static files and the health check over HTTP,
sees the reminder task run by the worker in the JSON log, then stops it all with SIGTERM.
Every wait is a bounded poll on the thing awaited.
"""

import gzip
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, **headers: str) -> Fetched:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Fetched(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return Fetched(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def _until(
    condition: Callable[[], bool], seconds: float, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"auditcoach serve exited ({process.returncode}):\n{log.read_text()[-4000:]}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)


def _health_ok(base: str) -> bool:
    try:
        return fetch(base + "/healthz").status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    port = _free_port()
    log = tmp / "serve.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HTTPS"))},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "AUDITCOACH_VAR_DIR": str(tmp / "var"),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "auditcoach.cli", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _health_ok(base), 180, process, log)
        yield Served(base, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _json_lines(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def test_the_login_page_and_its_static_files_are_served_compressed_and_hashed(
    served: Served,
) -> None:
    page = fetch(served.base + "/accounts/login/")
    assert page.status == 200
    html = page.body.decode()
    css = re.search(r'href="(/static/auditcoach/app\.[0-9a-f]{12}\.css)"', html)
    scripts = re.findall(r'<script[^>]* src="(/static/[^"]+\.js)"', html)
    assert css, html[:2000]
    htmx = [s for s in scripts if "htmx" in s]
    assert htmx, scripts
    assert all(re.search(r"\.[0-9a-f]{12}\.js$", s) for s in htmx), scripts
    for path in [css.group(1), *htmx]:
        asset = fetch(served.base + path, **{"Accept-Encoding": "gzip"})
        assert asset.status == 200, path
        assert asset.headers.get("content-encoding") in {"gzip", "br"}, (path, asset.headers)
        assert "max-age=315360000" in asset.headers["cache-control"]  # hashed: cached "forever"
        body = gzip.decompress(asset.body) if asset.headers["content-encoding"] == "gzip" else b""
        assert len(body) > 1000
    plain = fetch(served.base + css.group(1))
    assert plain.status == 200
    assert "content-encoding" not in plain.headers
    assert b"{" in plain.body
    assert fetch(served.base + "/static/auditcoach/no-such-file.css").status == 404


def test_pages_carry_the_security_headers(served: Served) -> None:
    page = fetch(served.base + "/accounts/login/")
    h = page.headers
    assert h["cache-control"] == "no-store"
    assert "camera=()" in h["permissions-policy"]
    assert "geolocation=()" in h["permissions-policy"]
    assert h["referrer-policy"] == "same-origin"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert "script-src 'self' 'nonce-" in h["content-security-policy"]


def test_the_health_check_answers(served: Served) -> None:
    health = fetch(served.base + "/healthz")
    assert health.status == 200
    assert json.loads(health.body) == {"status": "ok"}
    assert health.headers["cache-control"] == "no-store"


def test_requests_and_tasks_are_logged_as_json_lines(served: Served) -> None:
    fetch(served.base + "/accounts/login/?next=/o/secret-slug/")

    def logged() -> bool:
        lines = _json_lines(served.log)
        return any(
            r.get("event") == "request" and r.get("path") == "/accounts/login/" for r in lines
        ) and any(
            r.get("event") == "task" and "education_overdue_remind" in str(r.get("task"))
            for r in lines
        )

    # the reminder loop enqueued its task at start; the worker beside gunicorn runs it
    _until(logged, 120, served.process, served.log)
    lines = _json_lines(served.log)
    task = next(r for r in lines if r.get("event") == "task")
    assert task["outcome"] == "successful"
    request = next(r for r in lines if r.get("path") == "/accounts/login/")
    assert request["status"] == 200
    assert request["client"] == "127.0.0.1"
    assert "secret-slug" not in served.log.read_text()
    started = {r.get("program") for r in lines if r.get("event") == "supervisor.started"}
    assert started == {"web", "worker", "reminders"}


def test_sigterm_stops_everything(served: Served) -> None:
    # runs last in this module: stops the server the other tests used
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert not _health_ok(served.base)
    events = [r.get("event") for r in _json_lines(served.log)]
    assert events[-1] == "supervisor.stopped"
