"""The sign-in throttle: atomic under parallel guesses, per username with backoff, per
address, the known-device cookie, pruning, and what the audit log keeps."""

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from auditcoach.accounts import throttle
from auditcoach.accounts.models import LoginAttempt, User
from auditcoach.auditlog.models import AuditLogEntry
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.urls("tests.accounts.urls")

LOGIN = "/accounts/login/"


def _login(client: Client, username: str, password: str, ip: str = "127.0.0.1") -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _age_all(minutes: float) -> None:
    """What the passing of time does to the recorded attempts (tests never sleep)."""
    for attempt in LoginAttempt.objects.all():
        LoginAttempt.objects.filter(pk=attempt.pk).update(
            at=attempt.at - timedelta(minutes=minutes)
        )


class CountingBackend(ModelBackend):
    """ModelBackend that counts the password checks it is asked for (from any thread)."""

    calls = 0
    lock = threading.Lock()

    def authenticate(
        self, request: Any, username: Any = None, password: Any = None, **kw: Any
    ) -> Any:
        with CountingBackend.lock:
            CountingBackend.calls += 1
        return super().authenticate(request, username=username, password=password, **kw)


@contextmanager
def _database_for_threads(tmp_path: Path) -> Iterator[None]:
    """A database that parallel connections share with real locking.

    On PostgreSQL that is the test database itself. SQLite's in-memory test database is
    "shared cache", which answers a second writer with "table is locked" at once instead of
    waiting; production SQLite is a file in WAL mode with a busy timeout, so the threads get
    a file copy of the test database, opened with the project's own connection options.
    """
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    target = tmp_path / "parallel.sqlite3"
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    connection.connection.backup(copy)
    copy.close()
    db_settings = connections.settings["default"]
    name = db_settings["NAME"]
    db_settings["NAME"] = str(target)
    try:
        yield
    finally:
        db_settings["NAME"] = name


def _in_threads[T](n: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(0..n-1)` in n threads released together; each closes its connection."""
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            result = work(i)
            with lock:
                results.append(result)
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_never_pass_the_limit(settings: Any, tmp_path: Path) -> None:
    """40 guesses at once against a limit of 10: at most 10 reach the password check.

    The old cache counter let 18 through. Each thread is its own client and database
    connection (and its own client address, so only the per-username limit is at work).
    """
    settings.LOGIN_RATE_LIMIT = 10
    settings.AUTHENTICATION_BACKENDS = ["tests.accounts.test_throttle.CountingBackend"]
    UserFactory(username="target")
    CountingBackend.calls = 0
    n = 40
    with _database_for_threads(tmp_path):
        statuses = _in_threads(
            n, lambda i: _login(Client(), "target", f"wrong-{i}", ip=f"10.0.{i}.1").status_code
        )
        outcomes = _in_threads(
            1, lambda _: list(LoginAttempt.objects.values_list("outcome", flat=True))
        )[0]

    checked = CountingBackend.calls
    # At most the limit. (Fewer is allowed: an attempt that counts after more than ten
    # others committed is refused, which under a burst errs on the safe side.)
    assert checked <= 10
    assert len(statuses) == n
    assert statuses.count(200) == checked  # each checked guess: a wrong password
    assert statuses.count(429) == n - checked
    assert sorted(outcomes) == sorted(["failed"] * checked + ["refused"] * (n - checked))


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_from_one_address_never_pass_its_limit(
    settings: Any, tmp_path: Path
) -> None:
    settings.LOGIN_ADDRESS_RATE_LIMIT = 5
    settings.AUTHENTICATION_BACKENDS = ["tests.accounts.test_throttle.CountingBackend"]
    CountingBackend.calls = 0
    with _database_for_threads(tmp_path):
        statuses = _in_threads(
            20, lambda i: _login(Client(), f"spray-{i}", "guess", ip="203.0.113.50").status_code
        )
    assert CountingBackend.calls <= 5
    assert statuses.count(429) == 20 - CountingBackend.calls


def test_backoff_doubles_and_is_capped_never_a_lockout(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    # A long window, so that no failure leaves it while the waits add up.
    settings.LOGIN_RATE_WINDOW_SECONDS = 6 * 3600
    for _ in range(2):
        assert _login(client, "auditor", "wrong").status_code == 200
    waits = []
    for _ in range(6):
        refused = _login(client, "auditor", "wrong")
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        _age_all(waits[-1] / 60 + 0.01)  # wait exactly as long as we were told
        assert _login(client, "auditor", "wrong").status_code == 200  # one more try allowed
    # 1, 2, 4, 8 minutes, then capped at 15.
    assert waits == [60, 120, 240, 480, 900, 900]
    # Once the wait is over the right password works: a backoff, not a lock-out.
    refused = _login(client, "auditor", TEST_PASSWORD)
    assert refused.status_code == 429
    _age_all(15)
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 302


def test_failures_leave_the_window(client: Client, auditor: User, settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(3):
        _login(client, "auditor", "wrong")
    assert _login(client, "auditor", "wrong").status_code == 429
    _age_all(15)  # the default window: 15 minutes
    for _ in range(3):
        assert _login(client, "auditor", "wrong").status_code == 200
    assert _login(client, "auditor", "wrong").status_code == 429


def test_refusal_says_nothing_about_whether_the_username_exists(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 1
    bodies = {}
    for username in ("auditor", "nobody-by-this-name"):
        _login(client, username, "wrong")
        response = _login(client, username, "wrong")
        assert response.status_code == 429
        bodies[username] = response.content.decode().replace(username, "USERNAME")
    assert "Too many sign-in attempts" in bodies["auditor"]

    # Identical but for the CSRF token and the CSP nonce of each render.
    def same(html: str) -> str:
        return re.sub(r'(nonce=|value=|"X-CSRFToken": )"[^"]*"', "", html)

    assert same(bodies["auditor"]) == same(bodies["nobody-by-this-name"])


def test_address_limit_counts_all_usernames(client: Client, auditor: User, settings: Any) -> None:
    settings.LOGIN_ADDRESS_RATE_LIMIT = 5
    for i in range(5):
        assert _login(client, f"spray-{i}", "guess", ip="203.0.113.7").status_code == 200
    response = _login(client, "auditor", TEST_PASSWORD, ip="203.0.113.7")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 14 * 60  # until the oldest failure leaves
    # Another address is not affected, nor is this username.
    assert _login(Client(), "auditor", TEST_PASSWORD, ip="198.51.100.2").status_code == 302
    entry = AuditLogEntry.objects.get(action="auth.login_throttled")
    assert entry.changes["limit"] == "address"
    assert entry.ip == "203.0.113.7"


def test_ipv6_clients_count_by_their_64_network(client: Client, db: None, settings: Any) -> None:
    settings.LOGIN_ADDRESS_RATE_LIMIT = 2
    _login(client, "a", "x", ip="2001:db8:1:2::1")
    _login(client, "b", "x", ip="2001:db8:1:2:ffff::9")
    assert _login(client, "c", "x", ip="2001:db8:1:2:abcd::5").status_code == 429
    assert _login(client, "c", "x", ip="2001:db8:1:3::1").status_code == 200
    assert set(LoginAttempt.objects.values_list("ip", flat=True)) == {
        "2001:db8:1:2::",
        "2001:db8:1:3::",
    }


def test_known_device_is_exempt_from_strangers_backoff(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    # The real user signs in once on their own browser: it gets the cookie.
    response = _login(client, "auditor", TEST_PASSWORD)
    assert response.status_code == 302
    cookie = response.cookies[throttle.KNOWN_DEVICE_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.KNOWN_DEVICE_DAYS * 24 * 3600
    client.post("/accounts/logout/")

    # An attacker elsewhere hammers the username into backoff.
    attacker = Client()
    for i in range(3):
        _login(attacker, "auditor", "wrong", ip=f"192.0.2.{i + 1}")
    assert _login(attacker, "auditor", TEST_PASSWORD, ip="192.0.2.9").status_code == 429

    # The real user's browser is not slowed down.
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 302


def test_known_device_still_has_its_own_limit_and_the_address_limit(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    settings.LOGIN_ADDRESS_RATE_LIMIT = 4
    _login(client, "auditor", TEST_PASSWORD)
    client.post("/accounts/logout/")
    _login(client, "auditor", "wrong")
    _login(client, "auditor", "wrong")
    assert _login(client, "auditor", "wrong").status_code == 429  # its own backoff
    _age_all(2)
    for i in range(4):
        _login(client, f"other-{i}", "wrong")
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 429  # the address limit


def test_a_forged_or_foreign_cookie_is_not_a_known_device(
    client: Client, auditor: User, manager: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 1
    # Signed in as the manager: the cookie is for the manager only.
    _login(client, "manager", TEST_PASSWORD)
    client.post("/accounts/logout/")
    Client().post(LOGIN, {"username": "auditor", "password": "wrong"})
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 429
    client.cookies[throttle.KNOWN_DEVICE_COOKIE] = "not-signed:" + throttle.identity_key("auditor")
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 429


def test_failed_login_is_logged_with_the_username_tried_and_address(
    client: Client, auditor: User
) -> None:
    long_name = "x" * 150
    _login(client, "auditor", "wrong", ip="198.51.100.20")
    _login(client, long_name, "wrong", ip="198.51.100.20")
    entries = list(AuditLogEntry.objects.filter(action="auth.login_failed").order_by("pk"))
    assert [e.changes["username"] for e in entries] == ["auditor", long_name]
    assert entries[0].object_id == str(auditor.pk)
    assert entries[1].object_id == ""
    assert {e.ip for e in entries} == {"198.51.100.20"}
    assert entries[0].changes["failures"] == 1


def test_hostile_inputs_never_500(client: Client, auditor: User) -> None:
    cases = [
        {"username": "a" * 5000, "password": "x"},
        {"username": "auditor", "password": "p" * 5000},
        {"username": "\x00auditor", "password": "x"},
        {"username": "", "password": ""},
        {},
    ]
    for data in cases:
        response = client.post(LOGIN, data)
        assert response.status_code == 200, data
    # A too-long password is refused before any hashing or counting.
    assert LoginAttempt.objects.filter(key=throttle.identity_key("auditor")).count() == 0
    response = client.post(LOGIN, {"username": "auditor", "password": "p" * 5000})
    assert b"at most 1024 characters" in response.content


def test_attempts_store_no_username_text(client: Client, auditor: User) -> None:
    _login(client, "auditor", "wrong")
    attempt = LoginAttempt.objects.get()
    assert "auditor" not in attempt.key
    assert len(attempt.key) == 64
    assert attempt.key == throttle.identity_key("  AUDITOR ")


def test_old_attempts_are_pruned_on_insert(client: Client, auditor: User) -> None:
    _login(client, "auditor", "wrong")
    _login(client, "someone", "wrong")
    _age_all(25 * 60)
    _login(client, "auditor", "wrong")
    # The day-old rows of this username and of this address are gone.
    assert LoginAttempt.objects.count() == 1
    assert LoginAttempt.objects.get().at > timezone.now() - timedelta(minutes=1)


def test_success_marks_failures_cleared(client: Client, auditor: User) -> None:
    _login(client, "auditor", "wrong")
    _login(client, "auditor", TEST_PASSWORD)
    outcomes = list(LoginAttempt.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [LoginAttempt.Outcome.CLEARED, LoginAttempt.Outcome.SUCCEEDED]


def test_wait_text() -> None:
    assert throttle.wait_text(0) == "1 second"
    assert throttle.wait_text(45) == "45 seconds"
    assert throttle.wait_text(60) == "1 minute"
    assert throttle.wait_text(61) == "2 minutes"
    assert throttle.wait_text(900) == "15 minutes"
