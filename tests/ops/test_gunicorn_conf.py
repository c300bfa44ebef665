"""Gunicorn's settings for 2 cores, and where it listens, read from the environment."""

import runpy
from typing import Any

import pytest


def _conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("BIND", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("auditcoach.ops.gunicorn_conf")


def test_defaults_suit_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf(monkeypatch)
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert (conf["workers"], conf["threads"], conf["worker_class"]) == (3, 4, "gthread")
    assert (conf["timeout"], conf["graceful_timeout"]) == (120, 30)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (1000, 100)
    assert conf["accesslog"] is None  # the application logs each request as JSON
    assert conf["errorlog"] == "-"


def test_port_bind_and_concurrency_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _conf(monkeypatch, PORT="9001")["bind"] == ["127.0.0.1:9001"]
    assert _conf(monkeypatch, PORT="9001", BIND="0.0.0.0:8080")["bind"] == ["0.0.0.0:8080"]
    assert _conf(monkeypatch, WEB_CONCURRENCY="5")["workers"] == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_CONCURRENCY", "three"),
        ("WEB_CONCURRENCY", "0"),
        ("GUNICORN_THREADS", "-1"),
        ("PORT", "80a"),
    ],
)
def test_bad_values_stop_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(SystemExit, match=name):
        _conf(monkeypatch, **{name: value})
