"""Your account page, password change, password reset by e-mail, and the password rules."""

import re
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from auditcoach.accounts.models import LoginAttempt, Organization, Role, User
from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import ClientFor
from tests.factories import TEST_PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.urls("tests.accounts.urls")

RESET = "/accounts/password/reset/"
NEW_PASSWORD = "violet-harbor-lantern-42"


def test_account_page_shows_who_you_are_and_your_organizations(
    client_for: ClientFor, auditor: User, other_org: Organization
) -> None:
    MembershipFactory(user=auditor, organization=other_org, role=Role.VIEWER)
    html = client_for(auditor).get("/accounts/").content.decode()
    for text in (
        "Your account",
        "Alex Auditor",
        "auditor@example.org",
        "North Health",
        "South Clinic",
        "Auditor",
        "Viewer",
        'href="/accounts/password/"',
        'href="/accounts/two-factor/"',
        "Set up two-factor sign-in",
    ):
        assert text in html, text


def test_account_page_needs_a_login_and_is_read_only(client: Client, auditor: User) -> None:
    assert client.get("/accounts/")["Location"].startswith("/accounts/login/")
    client.force_login(auditor)
    assert client.post("/accounts/").status_code == 405


def test_the_top_bar_links_to_the_account_page(client_for: ClientFor, auditor: User) -> None:
    html = client_for(auditor).get("/o/north-health/").content.decode()
    assert 'href="/accounts/"' in html


def test_password_change(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    url = "/accounts/password/"
    page = client.get(url).content.decode()
    assert 'autocomplete="current-password"' in page
    assert 'autocomplete="new-password"' in page

    wrong_old = client.post(
        url, {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert wrong_old.status_code == 200
    assert "Your old password was entered incorrectly" in wrong_old.content.decode()

    weak = {"old_password": TEST_PASSWORD}
    for new, message in (
        ("short-pw-1", "at least 12 characters"),
        ("283947561029384", "entirely numeric"),
        ("auditor2026!", "too similar to the username"),
        ("password1234", "too common"),
    ):
        response = client.post(url, {**weak, "new_password1": new, "new_password2": new})
        assert message in response.content.decode(), new
    auditor.refresh_from_db()
    assert auditor.check_password(TEST_PASSWORD)

    response = client.post(
        url,
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == "/accounts/password/done/"
    auditor.refresh_from_db()
    assert auditor.check_password(NEW_PASSWORD)
    assert client.get("/accounts/").status_code == 200  # still signed in here
    entry = AuditLogEntry.objects.get(action="auth.password_change")
    assert entry.actor == auditor
    assert entry.ip == "127.0.0.1"
    assert "Your password has been changed" in client.get(response["Location"]).content.decode()


def test_password_change_bounds_the_length(client_for: ClientFor, auditor: User) -> None:
    huge = "x" * 5000
    response = client_for(auditor).post(
        "/accounts/password/",
        {"old_password": huge, "new_password1": huge, "new_password2": huge},
    )
    assert response.status_code == 200
    assert "at most 1024 characters" in response.content.decode()


def test_the_demo_and_test_passwords_pass_the_rules(db: None) -> None:
    user = User(username="coder.ana", first_name="Ana", last_name="Coder")
    validate_password("demo-pass-2026", user)
    validate_password(TEST_PASSWORD, user)
    with pytest.raises(ValidationError):
        validate_password("12345678901234", user)


# --- Reset by e-mail ---------------------------------------------------------------------


def _reset_link(message: Any) -> str:
    match = re.search(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match is not None, message.body
    return match.group(1)


def test_reset_sends_one_plain_email_and_the_link_works_once(client: Client, auditor: User) -> None:
    response = client.post(RESET, {"email": "AUDITOR@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["auditor@example.org"]
    assert message.subject == "Reset your AuditCoach password"
    assert not getattr(message, "alternatives", [])  # plain text only
    assert "North Health" not in message.body  # nothing but the account and the link
    assert "Account: auditor" in message.body
    assert "expires in 60 minutes" in message.body

    link = _reset_link(message)
    form_url = client.get(link)["Location"]  # Django moves the token into the session
    assert client.get(form_url).context["validlink"]
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session  # not signed in silently
    login_page = client.get("/accounts/login/").content.decode()
    assert "Your password has been changed. Sign in with your new password." in login_page
    auditor.refresh_from_db()
    assert auditor.check_password(NEW_PASSWORD)
    assert AuditLogEntry.objects.filter(action="auth.password_reset", actor=auditor).exists()

    # The second use of the same link fails, and sets nothing.
    again = client.get(link, follow=True)
    assert not again.context.get("validlink")
    assert "This link does not work" in again.content.decode()
    assert (
        client.post(form_url, {"new_password1": "x" * 20, "new_password2": "x" * 20}).status_code
        == 200
    )
    auditor.refresh_from_db()
    assert auditor.check_password(NEW_PASSWORD)


def test_an_unknown_address_gets_the_same_page_and_no_email(client: Client, auditor: User) -> None:
    known = client.post(RESET, {"email": "auditor@example.org"}, follow=True)
    unknown = client.post(RESET, {"email": "nobody@example.org"}, follow=True)
    assert len(mail.outbox) == 1
    assert known.redirect_chain == unknown.redirect_chain

    def same(response: Any) -> str:
        return re.sub(r'(nonce=|value=|"X-CSRFToken": )"[^"]*"', "", response.content.decode())

    assert same(known) == same(unknown)
    entries = list(AuditLogEntry.objects.filter(action="auth.password_reset_request"))
    assert [e.changes["sent"] for e in entries] == [True, False]


def test_reset_link_expires(client: Client, auditor: User, monkeypatch: Any, settings: Any) -> None:
    client.post(RESET, {"email": "auditor@example.org"})
    link = _reset_link(mail.outbox[0])
    real_now = PasswordResetTokenGenerator._now
    monkeypatch.setattr(
        PasswordResetTokenGenerator,
        "_now",
        lambda self: (
            real_now(self).replace(microsecond=0) + _seconds(settings.PASSWORD_RESET_TIMEOUT + 1)
        ),
    )
    response = client.get(link, follow=True)
    assert "This link does not work" in response.content.decode()


def _seconds(n: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=n)


def test_one_email_even_when_two_accounts_share_the_address(client: Client, db: None) -> None:
    UserFactory(username="kim.day", email="shared@example.org")
    UserFactory(username="kim.night", email="shared@example.org")
    client.post(RESET, {"email": "shared@example.org"})
    assert len(mail.outbox) == 1
    assert "Account: kim.day" in mail.outbox[0].body
    assert "Account: kim.night" in mail.outbox[0].body


def test_reset_requests_are_bounded_per_address(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.PASSWORD_RESET_RATE_LIMIT = 3
    for _ in range(5):
        response = client.post(RESET, {"email": "auditor@example.org"})
        assert response["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 3


def test_reset_requests_are_bounded_per_client(client: Client, db: None, settings: Any) -> None:
    settings.PASSWORD_RESET_ADDRESS_RATE_LIMIT = 4
    for i in range(4):
        assert client.post(RESET, {"email": f"p{i}@example.org"}).status_code == 302
    refused = client.post(RESET, {"email": "p9@example.org"})
    assert refused.status_code == 429
    assert "Too many reset requests from this network" in refused.content.decode()
    assert LoginAttempt.objects.filter(kind="reset").count() == 5


def test_reset_form_rejects_hostile_input(client: Client, db: None) -> None:
    for email in ("x" * 300 + "@example.org", "not-an-address", "\x00@example.org"):
        response = client.post(RESET, {"email": email})
        assert response.status_code == 200, email
    assert len(mail.outbox) == 0


def test_login_page_is_what_a_hospital_shows(client: Client, db: None) -> None:
    html = client.get("/accounts/login/").content.decode()
    for text in (
        "AuditCoach",
        "Sign in to AuditCoach",
        'autocomplete="username"',
        'autocomplete="current-password"',
        'href="/accounts/password/reset/"',
        "Forgot your password?",
        "protected health information",
        "monitored",
    ):
        assert text in html, text


def test_login_errors_are_announced(client: Client, auditor: User) -> None:
    html = client.post("/accounts/login/", {"username": "auditor", "password": "wrong"}).content
    text = html.decode()
    assert 'role="alert"' in text
    assert "The username or password is not right" in text
    blank = client.post("/accounts/login/", {"username": "", "password": ""}).content.decode()
    assert 'aria-invalid="true"' in blank
    assert "This field is required" in blank


def test_a_mail_server_failure_looks_like_any_other_request(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.MAILERS = {"default": {"BACKEND": "tests.accounts.test_passwords.BrokenBackend"}}
    response = client.post(RESET, {"email": "auditor@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    entry = AuditLogEntry.objects.get(action="auth.password_reset_request")
    assert entry.changes["sent"] is False


class BrokenBackend:
    """An e-mail backend whose server is down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise OSError("connection refused")
