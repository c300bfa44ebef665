"""Signing in as people do: the login page, setting up two-factor from the key on the page,
signing in with password and code, a recovery code that works once, and an organization
that requires two-factor of its managers. Any browser console error (a CSP violation is
one) fails the test; screenshots go to test-artifacts/."""

import time
from base64 import b32decode
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import ConsoleMessage, Page, expect

from auditcoach.accounts.models import Organization, User
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_console(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return errors


def code_from_key(key_text: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key the page printed."""
    key = key_text.replace(" ", "").strip()
    totp = TOTP(b32decode(key + "=" * (-len(key) % 8)))
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def password_step(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to AuditCoach")).to_be_visible()


def enrol(page: Page, artifacts: Path | None = None) -> tuple[str, list[str]]:
    """On the enrolment page: read the key, confirm with its code; the recovery codes."""
    expect(page.locator("img.qr-code")).to_be_visible()
    key_text = page.locator("#otp-key").inner_text()
    if artifacts is not None:
        page.screenshot(path=str(artifacts / "signin-enrol.png"), full_page=True)
    page.get_by_label("Code from the app").fill(code_from_key(key_text))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = [c.strip() for c in page.locator(".recovery-codes code").all_inner_texts()]
    assert len(codes) == 10
    return key_text, codes


def test_enrol_then_sign_in_with_a_code_and_a_recovery_code(
    page: Page, live_server: Any, org: Organization, auditor: User, artifacts: Path
) -> None:
    base = live_server.url
    errors = watch_console(page)

    page.goto(f"{base}/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in to AuditCoach")).to_be_visible()
    expect(page.get_by_text("protected health information")).to_be_visible()
    expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-login.png"), full_page=True)

    # Forgot your password: the same answer for any address.
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("E-mail address").fill("someone@example.org")
    page.screenshot(path=str(artifacts / "signin-reset.png"), full_page=True)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page.get_by_text("The link works once and for 60 minutes.")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-reset-sent.png"), full_page=True)
    page.get_by_role("link", name="Back to sign in").click()

    # A wrong password: a clear, announced error.
    page.get_by_label("Username").fill("auditor")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The username or password is not right")
    page.screenshot(path=str(artifacts / "signin-login-error.png"), full_page=True)

    # One step while there is no authenticator; the name in the top bar opens the account.
    password_step(page, base, "auditor")
    expect(page.get_by_role("heading", name="Audits")).to_be_visible()
    page.get_by_role("link", name="Alex Auditor").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("North Health")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-account.png"), full_page=True)
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    key_text, codes = enrol(page, artifacts)
    page.screenshot(path=str(artifacts / "signin-recovery-codes.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as text").click()
    download = download_info.value
    assert download.suggested_filename == "auditcoach-recovery-codes.txt"
    saved = Path(download.path()).read_text()
    assert all(code in saved for code in codes)
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page.get_by_text("Signing in asks for a code")).to_be_visible()
    expect(page.get_by_text("10 recovery codes left")).to_be_visible()
    page.get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-password-change.png"), full_page=True)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Remove two-factor sign-in").click()
    expect(page.get_by_role("button", name="Remove two-factor sign-in")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-two-factor-remove.png"), full_page=True)
    page.get_by_role("link", name="Keep it on").click()
    sign_out(page)

    # Password, then the code page: not signed in until the code checks.
    password_step(page, base, "auditor")
    expect(page.get_by_role("heading", name="Enter your two-factor code")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-code.png"), full_page=True)
    page.goto(f"{base}/o/north-health/")
    expect(page.get_by_role("heading", name="Sign in to AuditCoach")).to_be_visible()
    password_step(page, base, "auditor")
    # The code of the next 30-second step: the enrolment spent the current one.
    page.get_by_label("Code").fill(code_from_key(key_text, steps_ahead=1))
    page.get_by_role("button", name="Verify and continue").click()
    expect(page.get_by_role("heading", name="Audits")).to_be_visible()
    sign_out(page)

    # A recovery code signs in once.
    password_step(page, base, "auditor")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify and continue").click()
    expect(page.get_by_role("heading", name="Audits")).to_be_visible()
    expect(page.get_by_text("You used a recovery code; 9 left.")).to_be_visible()
    sign_out(page)
    password_step(page, base, "auditor")
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify and continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-code-error.png"), full_page=True)
    expect(page.get_by_role("heading", name="Enter your two-factor code")).to_be_visible()

    assert errors == []


def test_a_manager_is_sent_to_enrolment_before_anything_else(
    page: Page, live_server: Any, org: Organization, manager: User, artifacts: Path
) -> None:
    Organization.objects.filter(pk=org.pk).update(require_manager_two_factor=True)
    base = live_server.url
    errors = watch_console(page)

    password_step(page, base, "manager")
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(
        page.get_by_text("North Health requires two-factor sign-in for managers").first
    ).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-required-enrol.png"), full_page=True)
    # The dashboard's address leads to enrolment too.
    page.goto(f"{base}/o/north-health/analytics/")
    assert "/accounts/two-factor/" in page.url
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()

    enrol(page)
    page.get_by_role("link", name="I have saved them, continue").click()
    assert page.url.endswith("/o/north-health/analytics/")
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_have_count(0)
    assert errors == []
