"""A fresh install, no demo: the operator makes the first manager from the command line; the
manager invites an auditor and a coder by e-mail; each accepts their link in their own
browser, creates a login and lands on their work; the manager links the coder's login to
the roster coder of an imported, released audit, and the coder then sees her own findings.

Everything is asserted on what each person sees; screenshots go to test-artifacts/; any
console error (a CSP violation included) fails the test.
"""

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from auditcoach.accounts.models import Coder, Membership, Organization, Role, User
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook

WORKED = Path(__file__).resolve().parents[1] / "fixtures" / "worked"
MANAGER_PASSWORD = "Harbor-lantern-2026-north"
RAJ_PASSWORD = "Quiet-orchard-71-review"
ANA_PASSWORD = "Maple-compass-38-coding"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class People:
    """Fresh browser contexts (one per person), each page's console errors collected."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def page(self) -> Page:
        context = self.browser.new_context(viewport={"width": 1440, "height": 900})
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                where = message.location.get("url", "") if message.location else ""
                self.errors.append(f"{where or page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        return page


@pytest.fixture
def people(browser: Browser) -> Iterator[People]:
    crowd = People(browser)
    yield crowd
    for context in crowd.contexts:
        context.close()


def _link_in(message: Any) -> str:
    match = re.search(r"https?://\S+/accounts/invitations/[\w-]+/", message.body)
    assert match, message.body
    return match.group(0)


def _accept(page: Page, link: str, *, first: str, last: str, password: str) -> None:
    page.goto(link)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)


def test_first_manager_invites_an_auditor_and_a_coder(
    people: People, live_server: Any, artifacts: Path, monkeypatch: Any
) -> None:
    base = live_server.url
    # --- The operator, on a fresh install: an organization and its first manager.
    call_command("org_create", "acme-health", name="Acme Health", stdout=io.StringIO())
    monkeypatch.setattr("sys.stdin", io.StringIO(MANAGER_PASSWORD + "\n"))
    call_command(
        "user_add",
        "maria.manager",
        email="maria@acme.example",
        first_name="Maria",
        last_name="Manager",
        password_stdin=True,
        stdout=io.StringIO(),
    )
    call_command(
        "member_add", "maria.manager", org="acme-health", role="manager", stdout=io.StringIO()
    )
    org = Organization.objects.get(slug="acme-health")
    # A released audit from last quarter's spreadsheets, with coder.ana on its roster.
    audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked 2026-Q2", released=True
    )

    # --- The manager signs in through the login page and lands on the dashboard.
    manager = people.page()
    manager.goto(f"{base}/accounts/login/")
    manager.get_by_label("Username").fill("maria.manager")
    manager.get_by_label("Password").fill(MANAGER_PASSWORD)
    manager.get_by_role("button", name="Sign in").click()
    expect(manager).to_have_url(f"{base}/o/acme-health/analytics/")
    expect(manager.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    # --- Members: only herself so far; she invites an auditor (linked to auditor.raj)
    # and a coder (linked later, from this screen).
    manager.get_by_role("link", name="Members").click()
    expect(manager.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(manager.get_by_text("No invitations are waiting.")).to_be_visible()
    invite = manager.locator("#invite")
    invite.get_by_label("E-mail address").fill("raj.patel@example.org")
    invite.get_by_label("Role", exact=True).select_option("auditor")
    invite.get_by_label("Link to roster entry").select_option(label="auditor.raj")
    invite.get_by_role("button", name="Send invitation").click()
    expect(
        manager.get_by_text("Invitation sent to raj.patel@example.org as auditor")
    ).to_be_visible()
    invite.get_by_label("E-mail address").fill("ana.lopez@example.org")
    invite.get_by_label("Role", exact=True).select_option("coder")
    invite.get_by_role("button", name="Send invitation").click()
    expect(manager.get_by_text("Invitation sent to ana.lopez@example.org as coder")).to_be_visible()
    pending = manager.locator(
        "section", has=manager.get_by_role("heading", name="Pending invitations")
    )
    expect(pending.locator("tbody tr")).to_have_count(2)
    expect(pending).to_contain_text("Auditor · auditor.raj")
    expect(pending).to_contain_text("Maria Manager")
    manager.screenshot(path=str(artifacts / "people-members-invited.png"), full_page=True)

    by_address = {message.to[0]: message for message in mail.outbox}
    assert set(by_address) == {"raj.patel@example.org", "ana.lopez@example.org"}
    assert (
        "Maria Manager invited you to join Acme Health" in by_address["ana.lopez@example.org"].body
    )

    # --- The auditor accepts in his own browser, creates a login and lands on the audits
    # in review.
    raj = people.page()
    raj.goto(_link_in(by_address["raj.patel@example.org"]))
    expect(raj.get_by_role("heading", name="Join Acme Health as auditor")).to_be_visible()
    expect(raj.get_by_label("Username")).to_have_value("raj.patel")
    expect(raj.get_by_role("link", name="Sign in to accept")).to_be_visible()
    raj.screenshot(path=str(artifacts / "people-invitation.png"), full_page=True)
    _accept(
        raj,
        _link_in(by_address["raj.patel@example.org"]),
        first="Raj",
        last="Patel",
        password=RAJ_PASSWORD,
    )
    raj.screenshot(path=str(artifacts / "people-accept-form.png"), full_page=True)
    raj.get_by_role("button", name="Create login and join").click()
    expect(raj).to_have_url(f"{base}/o/acme-health/?status=in_review")
    expect(raj.get_by_role("heading", name="Audits", exact=True)).to_be_visible()
    expect(raj.get_by_text("Welcome to Acme Health. You joined as auditor.")).to_be_visible()
    expect(raj.locator(".topbar-user")).to_contain_text("Raj Patel")

    # --- The coder: a weak password first (a form error), then a good one; My feedback,
    # empty until her login is linked to the roster.
    ana = people.page()
    ana_link = _link_in(by_address["ana.lopez@example.org"])
    _accept(
        ana,
        ana_link,
        first="Ana",
        last="Lopez",
        password="password",
    )
    ana.get_by_role("button", name="Create login and join").click()
    expect(ana.get_by_text("This password is too common.")).to_be_visible()
    ana.get_by_label("Password", exact=True).fill(ANA_PASSWORD)
    ana.get_by_label("Password again").fill(ANA_PASSWORD)
    ana.get_by_role("button", name="Create login and join").click()
    expect(ana).to_have_url(f"{base}/o/acme-health/coaching/feedback/")
    expect(ana.get_by_role("heading", name="My feedback")).to_be_visible()
    expect(ana.get_by_text("Your login is not linked to a coder")).to_be_visible()

    # --- The manager sees both members and links Ana's login to coder.ana.
    manager.reload()
    expect(pending.locator("tbody tr")).to_have_count(0)
    table = manager.locator("table.members-table")
    raj_row = table.locator("tr", has_text="raj.patel")
    # Linked, the roster entry reads as the person, with the workbook's name beside it.
    expect(raj_row).to_contain_text("Auditor · Raj Patel (auditor.raj)")
    expect(raj_row).to_contain_text("Active")
    ana_row = table.locator("tr", has_text="ana.lopez")
    ana_row.get_by_label("Roster entry for Ana Lopez").select_option(label="coder.ana")
    ana_row.get_by_role("button", name="Link").click()
    expect(manager.get_by_text("Ana Lopez is linked to coder.ana.")).to_be_visible()
    expect(table.locator("tr", has_text="ana.lopez")).to_contain_text(
        "Coder · Ana Lopez (coder.ana)"
    )
    manager.screenshot(path=str(artifacts / "people-members.png"), full_page=True)

    # --- Ana now sees her own released findings, and only hers.
    ana.reload()
    expect(ana.get_by_role("heading", name="Encounter HF-1")).to_be_visible()
    expect(ana.get_by_role("heading", name="Encounter EM-3")).to_be_visible()
    expect(ana.get_by_text("Encounter PNA-2")).to_have_count(0)  # coder.ben's
    ana.screenshot(path=str(artifacts / "people-coder-feedback.png"), full_page=True)

    # --- Deactivating asks first; afterwards Ana gets the 404 an outsider gets.
    table.locator("tr", has_text="ana.lopez").get_by_role(
        "link", name="Deactivate Ana Lopez"
    ).click()
    expect(manager.get_by_role("heading", name="Deactivate Ana Lopez?")).to_be_visible()
    manager.screenshot(path=str(artifacts / "people-deactivate.png"), full_page=True)
    manager.get_by_role("button", name="Deactivate Ana Lopez").click()
    expect(manager.get_by_text("Ana Lopez was deactivated")).to_be_visible()
    response = ana.goto(f"{base}/o/acme-health/coaching/feedback/")
    assert response is not None
    assert response.status == 404

    ana_user = User.objects.get(username="ana.lopez")
    assert Coder.objects.get(organization=org, name="coder.ana").user == ana_user
    roles = dict(Membership.objects.filter(organization=org).values_list("user__username", "role"))
    assert roles == {
        "maria.manager": Role.MANAGER,
        "raj.patel": Role.AUDITOR,
        "ana.lopez": Role.CODER,
    }
    # The browser logs the two error statuses this journey provokes on purpose (the weak
    # password's form, HTTP 400; the deactivated coder's 404); nothing else may complain.
    expected = {
        f"{ana_link}: Failed to load resource: the server responded with a status of 400 "
        "(Bad Request)",
        f"{base}/o/acme-health/coaching/feedback/: Failed to load resource: the server "
        "responded with a status of 404 (Not Found)",
    }
    errors = [e for e in people.errors if e not in expected]
    assert errors == [], errors
