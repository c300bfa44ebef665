"""The production switches, read at import: each case runs in a subprocess with its env."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

GOOD_KEY = secrets.token_urlsafe(64)
SMTP = "django.core.mail.backends.smtp.EmailBackend"


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests' conftest for Playwright, and a
        # deploy check error of its own (async.E001) in a real deployment.
        if k
        not in {
            "SECRET_KEY",
            "DEBUG",
            "HTTPS",
            "EMAIL_BACKEND",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    full = {
        **base,
        "DJANGO_SETTINGS_MODULE": "auditcoach.settings",
        "AUDITCOACH_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args], env=full, capture_output=True, text=True, timeout=180
    )


def _check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return _run(["-m", "auditcoach.cli", "check", "--deploy"], tmp_path, **env)


def test_check_deploy_is_clean_with_https_and_a_proper_secret_key(tmp_path: Path) -> None:
    done = _check_deploy(
        tmp_path,
        DEBUG="0",
        HTTPS="1",
        SECRET_KEY=GOOD_KEY,
        EMAIL_BACKEND=SMTP,
        ALLOWED_HOSTS="audit.example.org",
    )
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNINGS" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "SECRET_KEY is not set"),
        ("short-but-random-" + "x" * 10, "characters long; it needs at least 50"),
        ("dev-only-insecure-key-change-me", "published development key"),
        ("ab" * 30, "fewer than 5 different characters"),
    ],
)
def test_check_deploy_flags_an_unfit_secret_key(
    tmp_path: Path, key: str | None, problem: str
) -> None:
    env = {"DEBUG": "0", "HTTPS": "1", "EMAIL_BACKEND": SMTP}
    if key is not None:
        env["SECRET_KEY"] = key
    done = _check_deploy(tmp_path, **env)
    assert done.returncode != 0
    assert "auditcoach.E001" in done.stderr
    assert problem in done.stderr


_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k, None) for k in ("
    "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
    "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_PROXY_SSL_HEADER')}))"
)


def test_https_switch_turns_on_secure_cookies_hsts_redirect_and_the_proxy_header(
    tmp_path: Path,
) -> None:
    on = json.loads(_run(["-c", _SETTINGS], tmp_path, HTTPS="1").stdout)
    assert on == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    off = json.loads(_run(["-c", _SETTINGS], tmp_path).stdout)
    assert off["SESSION_COOKIE_SECURE"] is False
    assert off["SECURE_HSTS_SECONDS"] == 0
    assert off["SECURE_PROXY_SSL_HEADER"] is None


_HTTPS_PROBE = (
    "import django; django.setup(); from django.test import Client; c = Client(); "
    "r = c.get('/accounts/logout/'); print(r.status_code, r['Location']); "
    "r = c.get('/accounts/logout/', headers={'X-Forwarded-Proto': 'https'}); "
    "print(r.status_code, r['Strict-Transport-Security']); "
    "print(c.get('/healthz').status_code)"
)


def test_behind_the_proxy_http_is_redirected_and_https_gets_hsts(tmp_path: Path) -> None:
    done = _run(["-c", _HTTPS_PROBE], tmp_path, HTTPS="1", DEBUG="0", SECRET_KEY=GOOD_KEY)
    assert done.returncode == 0, done.stderr
    redirect, secure, health = done.stdout.strip().splitlines()
    assert redirect == "301 https://testserver/accounts/logout/"
    # over https the request reaches the view (logout wants POST: 405) with HSTS on
    assert secure == "405 max-age=31536000; includeSubDomains"
    assert health == "200"  # the load balancer's plain-HTTP health check is not redirected


def test_the_wsgi_application_refuses_to_load_without_a_secret_key(tmp_path: Path) -> None:
    done = _run(["-c", "import auditcoach.wsgi"], tmp_path, DEBUG="0")
    assert done.returncode != 0
    assert "AuditCoach will not serve pages: SECRET_KEY is not set" in done.stderr


def test_the_wsgi_application_loads_with_a_proper_key_or_in_development(tmp_path: Path) -> None:
    code = "import auditcoach.wsgi as w; print(callable(w.application))"
    assert _run(["-c", code], tmp_path, DEBUG="0", SECRET_KEY=GOOD_KEY).stdout.strip() == "True"
    assert _run(["-c", code], tmp_path, DEBUG="1").stdout.strip() == "True"


def test_cli_commands_still_work_without_a_secret_key(tmp_path: Path) -> None:
    worked = Path(__file__).parent.parent / "fixtures" / "worked"
    done = _run(["-m", "auditcoach.cli", "score", str(worked), "--json"], tmp_path, DEBUG="0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)


def test_serve_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    done = _run(["-m", "auditcoach.cli", "serve"], tmp_path, DEBUG="0")
    assert done.returncode == 2
    assert "AuditCoach will not serve pages: SECRET_KEY is not set" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists() or (tmp_path / "db.sqlite3").stat().st_size == 0
    assert not (tmp_path / "static").exists()  # nothing was collected, nothing started


def test_serve_refuses_debug_mode(tmp_path: Path) -> None:
    done = _run(["-m", "auditcoach.cli", "serve"], tmp_path, DEBUG="1", SECRET_KEY=GOOD_KEY)
    assert done.returncode == 2
    assert "needs DEBUG off" in done.stderr
