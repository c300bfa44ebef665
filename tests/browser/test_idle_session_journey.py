"""An auditor leaves the browser open, comes back after the idle timeout, and signs in again.

Also: the production headers (Permissions-Policy, COOP, Referrer-Policy, no-store) raise no
error in Chromium's console on the pages walked through.
"""

import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import ConsoleMessage, Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.ops.sessions import ACTIVITY_KEY
from tests.browser.test_review_journey import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_idle_auditor_is_signed_out_and_comes_back_to_the_page(
    page: Page, live_server: Any, org: Organization, auditor: User, artifacts: Path
) -> None:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium asks for /favicon.ico on its own when a page names no icon: not ours.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type in ("error", "warning"):
            errors.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    base = live_server.url

    sign_in(page, base, "auditor")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    index = page.url
    response = page.goto(index + "?tab=all")
    assert response is not None
    assert response.headers["cache-control"] == "no-store"
    assert "camera=()" in response.headers["permissions-policy"]

    # 31 minutes pass without a request: move the session's last activity back.
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[ACTIVITY_KEY] = int(time.time()) - 31 * 60
    session.save()

    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("You were signed out after 30 minutes of inactivity.")).to_be_visible()
    page.screenshot(path=str(artifacts / "idle-signed-out.png"), full_page=True)

    page.get_by_label("Username").fill("auditor")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.url == index + "?tab=all"  # back where the auditor was
    assert errors == []
