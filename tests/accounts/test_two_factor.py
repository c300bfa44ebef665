"""Two-factor sign-in: enrolment, recovery codes, the two-step login, removing it, and the
organization's requirement for managers (enforced by TenancyMiddleware)."""

import re
import time
from base64 import b32decode
from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import ClientFor
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.urls("tests.accounts.urls")

SETUP = "/accounts/two-factor/"
CODES = "/accounts/two-factor/recovery-codes/"
LOGIN = "/accounts/login/"
CODE = "/accounts/login/code/"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The app's code, `steps_ahead` 30-second steps from now (a used step is refused, and
    tests never sleep, so a later sign-in uses the next step, which the tolerance allows)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(client: Client, user: User) -> tuple[TOTPDevice, list[str]]:
    """Sign in with the password (one step: no device yet) and set up two-factor."""
    if "_auth_user_id" not in client.session:
        assert sign_in_password(client, user.username).status_code == 302
    assert client.get(SETUP).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETUP, {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == CODES
    codes = client.get(CODES).context["codes"]
    device.refresh_from_db()
    return device, codes


def sign_in_password(client: Client, username: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": TEST_PASSWORD, **extra})


def test_enrolment_shows_a_qr_code_and_the_key(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    first = client.get(SETUP)
    html = first.content.decode()
    device = TOTPDevice.objects.get(user=auditor)
    assert not device.confirmed
    assert 'src="data:image/svg+xml' in html
    assert "Set up two-factor sign-in" in html
    key_text = first.context["key_text"]
    assert b32decode(key_text.replace(" ", "") + "=" * (-len(key_text.replace(" ", "")) % 8)) == (
        device.bin_key
    )
    assert "otpauth" not in html  # the secret travels only inside the image and as text
    # The same device (and QR code) on a reload; nothing on is confirmed yet.
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=auditor).count() == 1
    assert AuditLogEntry.objects.filter(action="auth.two_factor_setup").count() == 1


def test_a_wrong_code_does_not_confirm(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=auditor)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(SETUP, {"code": wrong})
    assert response.status_code == 200
    assert "That code does not match" in response.content.decode()
    response = client.post(SETUP, {"code": "12ab"})
    assert "Enter the 6 digits" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticDevice.objects.filter(user=auditor).exists()


def test_confirming_verifies_the_session_and_shows_ten_codes_once(
    client_for: ClientFor, auditor: User
) -> None:
    client = client_for(auditor)
    device, codes = enrol(client, auditor)
    assert device.confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert set(
        StaticToken.objects.filter(device__user=auditor).values_list("token", flat=True)
    ) == (set(codes))
    entry = AuditLogEntry.objects.get(action="auth.two_factor_enable")
    assert entry.actor == auditor
    assert entry.ip == "127.0.0.1"
    # Shown once: the next visit sends you to the account page.
    again = client.get(CODES)
    assert again.status_code == 302
    assert again["Location"] == "/accounts/"


def test_recovery_codes_download_as_text(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=auditor)
    client.post(SETUP, {"code": code_for(device)})
    html = client.get(CODES).content.decode()
    match = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)" download="([^"]+)"', html)
    assert match is not None
    assert match.group(2) == "auditcoach-recovery-codes.txt"
    text = unquote(match.group(1))
    tokens = StaticToken.objects.filter(device__user=auditor).values_list("token", flat=True)
    assert all(token in text for token in tokens)
    assert "auditor" in text


def test_sign_in_is_two_steps_with_a_device(client: Client, auditor: User) -> None:
    device, _ = enrol(client, auditor)
    client.post("/accounts/logout/")
    # Only what this sign-in writes (the log is append-only: entries are never deleted).
    before = AuditLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    response = sign_in_password(client, "auditor", next="/o/north-health/")
    assert response.status_code == 302
    assert response["Location"] == CODE
    assert "_auth_user_id" not in client.session  # not signed in until the code checks
    assert not AuditLogEntry.objects.filter(action="auth.login", pk__gt=before).exists()
    assert client.get("/o/north-health/").status_code == 302  # still a visitor

    page = client.get(CODE)
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()

    wrong = f"{(int(code_for(device, 1)) + 1) % 1_000_000:06d}"
    response = client.post(CODE, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failed = AuditLogEntry.objects.get(action="auth.otp_failed", pk__gt=before)
    assert failed.changes["username"] == "auditor"
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # its own delay

    response = client.post(CODE, {"code": code_for(device, 1)})
    assert response.status_code == 302
    assert response["Location"] == "/o/north-health/"
    assert client.session["_auth_user_id"] == str(auditor.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    login = AuditLogEntry.objects.get(action="auth.login", pk__gt=before)
    assert login.changes == {"method": "totp"}
    assert client.get("/o/north-health/").status_code == 200


def test_a_recovery_code_works_once(client: Client, auditor: User) -> None:
    _, codes = enrol(client, auditor)
    client.post("/accounts/logout/")
    sign_in_password(client, "auditor")
    response = client.post(CODE, {"code": codes[0].upper()[:4] + " " + codes[0][4:]})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(auditor.pk)
    assert StaticToken.objects.filter(device__user=auditor).count() == 9
    assert AuditLogEntry.objects.filter(action="auth.login").last().changes == {
        "method": "recovery_code"
    }
    client.post("/accounts/logout/")

    sign_in_password(client, "auditor")
    response = client.post(CODE, {"code": codes[0]})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    StaticDevice.objects.filter(user=auditor).update(throttling_failure_count=0)
    assert client.post(CODE, {"code": codes[1]}).status_code == 302


def test_code_attempts_are_throttled_with_the_password_budget(
    client: Client, auditor: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    device, _ = enrol(client, auditor)
    client.post("/accounts/logout/")
    sign_in_password(client, "auditor")
    for _ in range(2):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
        assert client.post(CODE, {"code": "000000"}).status_code == 200
    refused = client.post(CODE, {"code": code_for(device, 1)})
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditLogEntry.objects.filter(action="auth.otp_failed").count() == 2


def test_five_wrong_codes_send_you_back_to_the_password(client: Client, auditor: User) -> None:
    device, _ = enrol(client, auditor)
    client.post("/accounts/logout/")
    sign_in_password(client, "auditor")
    statuses = []
    for _ in range(5):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
        response = client.post(CODE, {"code": "000000"})
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 200, 302]
    assert response["Location"] == LOGIN
    assert client.get(CODE)["Location"] == LOGIN


def test_the_code_must_follow_the_password_quickly(client: Client, auditor: User) -> None:
    device, _ = enrol(client, auditor)
    client.post("/accounts/logout/")
    sign_in_password(client, "auditor")
    session = client.session
    session["signin_pending"]["at"] -= 301
    session.save()
    response = client.post(CODE, {"code": code_for(device, 1)})
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


def test_the_code_page_without_a_password_step_goes_to_login(client: Client, db: None) -> None:
    assert client.get(CODE)["Location"] == LOGIN
    assert client.post(CODE, {"code": "123456"})["Location"] == LOGIN


def test_removing_two_factor_asks_for_the_password(client: Client, auditor: User) -> None:
    enrol(client, auditor)
    url = "/accounts/two-factor/remove/"
    response = client.post(url, {"password": "not-it"})
    assert response.status_code == 200
    assert "That is not your password" in response.content.decode()
    assert TOTPDevice.objects.filter(user=auditor).exists()
    response = client.post(url, {"password": TEST_PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=auditor).exists()
    assert not StaticDevice.objects.filter(user=auditor).exists()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert AuditLogEntry.objects.filter(action="auth.two_factor_disable", actor=auditor).exists()
    client.post("/accounts/logout/")
    assert sign_in_password(client, "auditor")["Location"] == "/"  # one step again


def test_removing_is_refused_while_an_organization_requires_it(
    client: Client, manager: User, org: Organization
) -> None:
    device, _ = enrol(client, manager)
    Organization.objects.filter(pk=org.pk).update(require_manager_two_factor=True)
    url = "/accounts/two-factor/remove/"
    page = client.get(url)
    assert "North Health requires it for managers" in page.content.decode()
    response = client.post(url, {"password": TEST_PASSWORD})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert not AuditLogEntry.objects.filter(action="auth.two_factor_disable").exists()


def test_new_recovery_codes_replace_the_old(client: Client, auditor: User) -> None:
    _, old = enrol(client, auditor)
    url = "/accounts/two-factor/recovery-codes/new/"
    assert client.post(url, {"password": "not-it"}).status_code == 200
    assert client.post(url, {"password": TEST_PASSWORD})["Location"] == CODES
    new = client.get(CODES).context["codes"]
    tokens = set(StaticToken.objects.filter(device__user=auditor).values_list("token", flat=True))
    assert tokens == set(new)
    assert not tokens & set(old)


def test_moving_to_a_new_phone_keeps_two_factor_on(client: Client, auditor: User) -> None:
    old, _ = enrol(client, auditor)
    assert client.get(SETUP)["Location"] == "/accounts/"  # already on
    page = client.get(SETUP + "?replace=1")
    assert "Move two-factor sign-in to a new phone" in page.content.decode()
    new = TOTPDevice.objects.get(user=auditor, confirmed=False)
    assert client.post(SETUP, {"code": code_for(new), "replace": "1"})["Location"] == CODES
    assert list(TOTPDevice.objects.filter(user=auditor).values_list("pk", flat=True)) == [new.pk]
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()


def test_moving_phones_needs_a_verified_session(client_for: ClientFor, auditor: User) -> None:
    TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    client = client_for(auditor)  # signed in without passing a code
    assert client.get(SETUP + "?replace=1")["Location"] == "/accounts/"
    assert TOTPDevice.objects.filter(user=auditor).count() == 1


# --- Required for managers ---------------------------------------------------------------


@pytest.fixture
def strict_org(org: Organization) -> Organization:
    Organization.objects.filter(pk=org.pk).update(require_manager_two_factor=True)
    org.refresh_from_db()
    return org


def test_a_manager_without_a_device_is_sent_to_enrolment_first(
    client: Client, manager: User, strict_org: Organization
) -> None:
    response = sign_in_password(client, "manager")
    assert response.status_code == 302
    for url in ("/o/north-health/", "/o/north-health/write/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(SETUP + "?next=")
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "North Health requires two-factor sign-in for managers" in html
    device = TOTPDevice.objects.get(user=manager)
    response = client.post(SETUP, {"code": code_for(device), "next": "/o/north-health/"})
    assert response["Location"] == CODES
    codes_page = client.get(CODES)
    assert codes_page.context["next"] == "/o/north-health/"
    assert client.get("/o/north-health/").status_code == 200


def test_a_manager_with_an_unverified_session_is_sent_to_the_code_page(
    client_for: ClientFor, manager: User, strict_org: Organization
) -> None:
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client = client_for(manager)  # a session that never passed a code
    response = client.get("/o/north-health/")
    assert response.status_code == 302
    assert response["Location"] == CODE + "?next=%2Fo%2Fnorth-health%2F"
    page = client.get(response["Location"])
    assert "North Health requires a two-factor code for managers" in page.content.decode()
    response = client.post(response["Location"], {"code": code_for(device)})
    assert response["Location"] == "/o/north-health/"
    assert client.get("/o/north-health/").status_code == 200
    assert AuditLogEntry.objects.filter(action="auth.otp_verify", actor=manager).exists()


def test_htmx_requests_are_redirected_whole(
    client_for: ClientFor, manager: User, strict_org: Organization
) -> None:
    response = client_for(manager).get("/o/north-health/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(SETUP)


def test_other_roles_and_other_organizations_are_unaffected(
    client_for: ClientFor, manager: User, auditor: User, viewer: User, strict_org: Organization
) -> None:
    assert client_for(auditor).get("/o/north-health/").status_code == 200
    assert client_for(viewer).get("/o/north-health/").status_code == 200
    Organization.objects.filter(pk=strict_org.pk).update(require_manager_two_factor=False)
    assert client_for(manager).get("/o/north-health/").status_code == 200


def test_outsiders_still_get_404_before_any_two_factor_check(
    client_for: ClientFor, outsider: User, strict_org: Organization
) -> None:
    assert client_for(outsider).get("/o/north-health/").status_code == 404


def test_the_account_page_counts_the_recovery_codes_left(client: Client, auditor: User) -> None:
    _, codes = enrol(client, auditor)
    client.post("/accounts/logout/")
    sign_in_password(client, "auditor")
    response = client.post(CODE, {"code": codes[3]}, follow=True)
    assert "You used a recovery code; 9 left." in response.content.decode()
    html = client.get("/accounts/").content.decode()
    assert "9 recovery codes left" in html
    assert "Remove two-factor sign-in" in html


def test_an_administrator_can_remove_a_lost_authenticator(auditor: User) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    StaticDevice.objects.create(user=auditor, name="Recovery codes", confirmed=True)
    out = StringIO()
    call_command("two_factor_remove", "auditor", stdout=out)
    assert "Removed two-factor sign-in of auditor" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=auditor).exists()
    assert not StaticDevice.objects.filter(user=auditor).exists()
    entry = AuditLogEntry.objects.get(action="auth.two_factor_disable")
    assert entry.changes == {"username": "auditor", "by": "command"}
    call_command("two_factor_remove", "auditor", stdout=out)
    assert "nothing changed" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("two_factor_remove", "nobody")


def test_a_manager_who_signs_in_with_the_code_goes_straight_in(
    client: Client, manager: User, strict_org: Organization
) -> None:
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    assert sign_in_password(client, "manager", next="/o/north-health/")["Location"] == CODE
    assert client.post(CODE, {"code": code_for(device)})["Location"] == "/o/north-health/"
    assert client.get("/o/north-health/").status_code == 200
    assert client.get("/o/north-health/write/").status_code == 405  # the view itself answers
