from typing import Any

import pytest
from django.test import Client

from auditcoach.accounts.models import Organization, Role, User
from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import ClientFor
from tests.factories import TEST_PASSWORD, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.urls("tests.accounts.urls")

LOGIN = "/accounts/login/"


def _login(client: Client, username: str, password: str) -> Any:
    return client.post(LOGIN, {"username": username, "password": password})


def test_login_page_renders(client: Client, db: None) -> None:
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_login_success_goes_home_and_is_logged(client: Client, auditor: User) -> None:
    response = _login(client, "auditor", TEST_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    entry = AuditLogEntry.objects.get(action="auth.login")
    assert entry.actor == auditor
    assert entry.ip == "127.0.0.1"


def test_login_rate_limit_backs_off_username(client: Client, auditor: User, settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(3):
        response = _login(client, "auditor", "wrong")
        assert response.status_code == 200
        assert b"The username or password is not right" in response.content

    # Past the limit: even the right password is refused, with the time to wait.
    response = _login(client, "auditor", TEST_PASSWORD)
    assert response.status_code == 429
    assert b"Too many sign-in attempts. Wait 1 minute" in response.content
    assert response["Retry-After"] == "60"
    assert "_auth_user_id" not in client.session
    assert AuditLogEntry.objects.filter(action="auth.login_failed").count() == 3
    assert AuditLogEntry.objects.filter(action="auth.login_throttled").count() == 1


def test_login_rate_limit_is_per_username_and_case_insensitive(
    client: Client, auditor: User, manager: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    _login(client, "auditor", "wrong")
    _login(client, "AUDITOR", "wrong")
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 429
    assert _login(client, "manager", TEST_PASSWORD).status_code == 302


def test_login_rate_limit_window_expires(client: Client, auditor: User, settings: Any) -> None:
    from datetime import timedelta

    from auditcoach.accounts.models import LoginAttempt

    settings.LOGIN_RATE_LIMIT = 1
    _login(client, "auditor", "wrong")
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 429
    # What the passing of 15 minutes does: the failures leave the window.
    for attempt in LoginAttempt.objects.all():
        LoginAttempt.objects.filter(pk=attempt.pk).update(at=attempt.at - timedelta(minutes=16))
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 302


def test_successful_login_clears_failures(client: Client, auditor: User, settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    _login(client, "auditor", "wrong")
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    _login(client, "auditor", "wrong")
    assert _login(client, "auditor", TEST_PASSWORD).status_code == 302


def test_logout_is_post_only(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    assert client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session
    assert AuditLogEntry.objects.filter(action="auth.logout", actor=auditor).exists()


def test_home_anonymous_goes_to_login(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_home_with_one_membership_redirects_to_org(client_for: ClientFor, auditor: User) -> None:
    response = client_for(auditor).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/o/north-health/?status=in_review"


def test_home_with_several_memberships_shows_chooser(
    client_for: ClientFor, auditor: User, other_org: Organization
) -> None:
    # An auditor in both (an audit firm's): the stand-in URLconf has only the audits pages;
    # the landing page of every role is tested on the real URLconf in test_landing.py.
    MembershipFactory(user=auditor, organization=other_org, role=Role.AUDITOR)
    client = client_for(auditor)
    client.get("/o/south-clinic/")  # becomes the last used
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("North Health", "South Clinic", "Auditor"):
        assert text in html
    # Each organization's link leads to the landing page of the role there.
    for slug in ("north-health", "south-clinic"):
        assert f'href="/o/{slug}/?status=in_review"' in html
    assert "Last used" in html


def test_home_without_membership_explains(client_for: ClientFor, db: None) -> None:
    from tests.factories import UserFactory

    response = client_for(UserFactory()).get("/")
    assert response.status_code == 200
    assert b"not a member of any organization" in response.content


def test_switch_lists_even_a_single_org(client_for: ClientFor, auditor: User) -> None:
    response = client_for(auditor).get("/accounts/switch/")
    assert response.status_code == 200
    assert b"North Health" in response.content


def test_switch_requires_login(client: Client, db: None) -> None:
    response = client.get("/accounts/switch/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_chooser_lists_only_own_orgs(client_for: ClientFor, auditor: User, outsider: User) -> None:
    OrganizationFactory(slug="third", name="Third Org")
    html = client_for(auditor).get("/accounts/switch/").content.decode()
    assert "South Clinic" not in html
    assert "Third Org" not in html
