"""The audit lifecycle in the browser: an auditor uploads a workbook that repeats an
existing audit's encounters, reads the warning and imports it anyway, then deletes that
draft after its confirmation page; a manager archives a released audit and sees the
dashboard and the audit list change. Any console error fails the journey."""

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import ConsoleMessage, Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit, Encounter
from tests.analytics.test_command import write_workbook
from tests.analytics.test_dashboard import Q1, Q2
from tests.browser.test_review_journey import sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _zip(folder: Path, target: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("encounters.csv", "codes.csv"):
            zf.write(folder / name, f"again/{name}")
    target.write_bytes(buffer.getvalue())
    return target


def test_duplicates_archive_and_delete(
    page: Page,
    live_server: Any,
    org: Organization,
    auditor: User,
    manager: User,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The browser's own /favicon.ico probe is not a page's doing (the app serves none).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    for name, batch in (("Q1 audit", Q1), ("Q2 audit", Q2)):
        folder = write_workbook(tmp_path / name.replace(" ", "-"), batch)
        call_command("import", str(folder), "--org", org.slug, "--audit", name, "--released")
    q1_again = _zip(tmp_path / "Q1-audit", tmp_path / "q1-again.zip")

    # The auditor uploads Q1's encounters again: the warning lists them, with their audit.
    sign_in(page, base, "auditor")
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_label("Workbook").set_input_files(q1_again)
    page.get_by_label("Audit name").fill("Q1 second look")
    page.get_by_role("button", name="Import").click()
    expect(
        page.get_by_role("heading", name="2 encounters already in another audit")
    ).to_be_visible()
    rows = page.locator("#duplicate-list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("A1")
    expect(rows.nth(0)).to_contain_text("Q1 audit")
    expect(rows.nth(0)).to_contain_text("2026-Q1")
    assert not Audit.objects.filter(name="Q1 second look").exists()
    page.screenshot(path=str(artifacts / "lifecycle-duplicates.png"), full_page=True)

    # Going on imports it as usual (the progress page, then the summary).
    page.get_by_role("button", name="Import anyway").click()
    expect(page.get_by_role("heading", name="Q1 second look")).to_be_visible()
    expect(page.get_by_text("Imported “Q1 second look”: 2 encounters")).to_be_visible()
    again = Audit.objects.get(name="Q1 second look")
    assert Encounter.objects.filter(audit=again).count() == 2

    # Not released, so it can be deleted: the confirmation says what goes.
    page.get_by_role("link", name="Delete this audit…").click()
    expect(page.get_by_role("heading", name="Delete “Q1 second look”?")).to_be_visible()
    counts = page.locator("#delete-counts")
    expect(counts).to_contain_text("Encounters")
    expect(counts.locator("dd").first).to_have_text("2")
    page.screenshot(path=str(artifacts / "lifecycle-delete-confirm.png"), full_page=True)
    page.get_by_role("button", name="Delete the audit and its 2 encounters").click()
    expect(page.get_by_text("Deleted the audit “Q1 second look”: 2 encounters")).to_be_visible()
    expect(page.locator("#audit-list tbody tr")).to_have_count(2)
    assert not Audit.objects.filter(name="Q1 second look").exists()
    sign_out(page)

    # The manager archives Q2: its cycle leaves the dashboard.
    sign_in(page, base, "manager")
    page.get_by_role("link", name="Dashboard").click()
    accuracy = page.locator("#widget-accuracy svg title")
    expect(accuracy.filter(has_text="2026-Q2")).to_have_count(1)
    expect(page.locator("#widget-pchart")).to_contain_text("42.9%")
    page.get_by_role("link", name="All audits").click()
    page.get_by_role("link", name="Q2 audit").click()
    page.get_by_role("button", name="Archive this audit").click()
    expect(page.get_by_text("Archived “Q2 audit”")).to_be_visible()
    expect(page.locator(".archived-banner")).to_contain_text("Archived on")
    page.screenshot(path=str(artifacts / "lifecycle-archived-summary.png"), full_page=True)
    page.get_by_role("link", name="Dashboard").click()
    expect(accuracy.filter(has_text="2026-Q2")).to_have_count(0)
    expect(page.locator("#widget-pchart")).to_contain_text("50.0%")

    # The list hides it until asked; then it carries the badge.
    page.get_by_role("link", name="All audits").click()
    expect(page.locator("#audit-list tbody tr")).to_have_count(1)
    expect(page.get_by_text("1 archived audit hidden")).to_be_visible()
    page.get_by_label("Show archived").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#audit-list tbody tr")).to_have_count(2)
    archived_row = page.locator("#audit-list tbody tr", has_text="Q2 audit")
    expect(archived_row.locator(".badge-archived")).to_have_text("Archived")
    page.screenshot(path=str(artifacts / "lifecycle-audit-list.png"), full_page=True)

    # Filtered by status, as the landing page links it.
    page.goto(f"{base}/o/{org.slug}/?status=in_review")
    expect(page.get_by_label("Status")).to_have_value("in_review")
    expect(page.get_by_text("No current audit is in review.")).to_be_visible()

    assert errors == []
