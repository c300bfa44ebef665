"""The idle session timeout. The stored last-activity time is moved back instead of waiting."""

import time

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.ops.sessions import ACTIVITY_KEY
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db


def _set_activity(client: Client, seconds_ago: int) -> int:
    session = client.session
    stamp = int(time.time()) - seconds_ago
    session[ACTIVITY_KEY] = stamp
    session.save()
    return stamp


def _index(org: Organization) -> str:
    return reverse("audits:index", kwargs={"org_slug": org.slug})


def test_signing_in_starts_the_idle_clock(auditor: User, client_for: ClientFor) -> None:
    client = client_for(auditor)
    stamp = client.session[ACTIVITY_KEY]
    assert isinstance(stamp, int)
    assert abs(stamp - time.time()) < 120


def test_an_idle_session_is_flushed_and_sent_to_the_login_page(
    org: Organization, auditor: User, client_for: ClientFor, settings: object
) -> None:
    client = client_for(auditor)
    assert client.get(_index(org)).status_code == 200
    _set_activity(client, 31 * 60)

    response = client.get(_index(org) + "?tab=mine")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")
    assert "tab%3Dmine" in response["Location"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "You were signed out after 30 minutes of inactivity. Sign in again to continue."
    ]
    entry = AuditLogEntry.objects.get(action="auth.session_expired")
    assert entry.actor == auditor
    assert entry.changes["idle_seconds"] >= 31 * 60
    assert entry.ip == "127.0.0.1"
    # signed out for good: the next request is anonymous
    again = client.get(_index(org))
    assert again.status_code == 302
    assert "_auth_user_id" not in client.session

    login = client.get(response["Location"])
    assert b"signed out after 30 minutes of inactivity" in login.content


def test_activity_within_the_timeout_keeps_the_session(
    org: Organization, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(auditor)
    _set_activity(client, 29 * 60)
    assert client.get(_index(org)).status_code == 200
    assert client.session.get("_auth_user_id") == str(auditor.pk)


def test_the_last_activity_is_rewritten_at_most_once_a_minute(
    org: Organization, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(auditor)
    client.get(_index(org))  # remembers the organization: the session changes once
    recent = _set_activity(client, 30)
    assert client.get(_index(org)).status_code == 200
    assert client.session[ACTIVITY_KEY] == recent  # not written again within the minute

    stale = _set_activity(client, 90)
    assert client.get(_index(org)).status_code == 200
    assert client.session[ACTIVITY_KEY] > stale
    assert abs(client.session[ACTIVITY_KEY] - time.time()) < 120


def test_a_page_load_within_the_minute_writes_no_session(
    org: Organization,
    auditor: User,
    client_for: ClientFor,
    django_assert_num_queries: object,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(auditor)
    client.get(_index(org))
    _set_activity(client, 5)
    with CaptureQueriesContext(connection) as queries:
        client.get(_index(org))
    writes = [
        q["sql"] for q in queries if "django_session" in q["sql"] and "SELECT" not in q["sql"]
    ]
    assert writes == []


def test_an_idle_htmx_request_redirects_the_whole_page(
    org: Organization, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(auditor)
    _set_activity(client, 2 * 3600)
    page = "http://testserver" + _index(org) + "?status=open"
    response = client.get(
        _index(org) + "fragment/", headers={"HX-Request": "true", "HX-Current-URL": page}
    )
    assert response.status_code == 200
    target = response["HX-Redirect"]
    assert target.startswith(reverse("accounts:login") + "?next=")
    assert "status%3Dopen" in target
    assert "fragment" not in target


def test_the_idle_timeout_can_be_turned_off(
    org: Organization, auditor: User, client_for: ClientFor, settings: object
) -> None:
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 0  # type: ignore[attr-defined]
    client = client_for(auditor)
    _set_activity(client, 7 * 3600)
    assert client.get(_index(org)).status_code == 200


def test_the_message_names_the_configured_timeout(
    org: Organization, auditor: User, client_for: ClientFor, settings: object
) -> None:
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 15 * 60  # type: ignore[attr-defined]
    client = client_for(auditor)
    _set_activity(client, 16 * 60)
    response = client.get(_index(org))
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        "You were signed out after 15 minutes of inactivity. Sign in again to continue."
    ]


def test_a_locked_database_skips_the_activity_rewrite_and_the_page_still_answers(
    org: Organization, auditor: User, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a long SQLite import the once-a-minute rewrite cannot get the write lock: the
    page answers as usual and keeps the old time, to be written by a later request. (The
    save raises the error SQLite raises; test_worker_survives holds a real lock.)"""
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError

    client = client_for(auditor)
    client.get(_index(org))
    stale = _set_activity(client, 90)

    def locked(self: SessionStore, must_create: bool = False) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(SessionStore, "save", locked)
    assert client.get(_index(org)).status_code == 200
    monkeypatch.undo()
    assert client.session[ACTIVITY_KEY] == stale  # skipped, not half-written
    assert client.get(_index(org)).status_code == 200  # the next request writes it
    assert client.session[ACTIVITY_KEY] > stale
