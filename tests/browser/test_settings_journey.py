"""A manager runs the program's settings: SLA and headline, a coder's display name, two
payers merged into one, a facility retired and gone from the dashboard's filter bar."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from auditcoach.accounts.models import Coder, Facility, Organization, Payer, User
from auditcoach.audits.models import Encounter
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from tests.accounts import rosterworld
from tests.browser.test_review_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_settings_and_rosters(
    page: Page, live_server: Any, org: Organization, manager: User, tmp_path: Path,
    artifacts: Path,
) -> None:  # fmt: skip
    audit_import(
        organization=org,
        workbook=read_workbook(rosterworld.write(tmp_path / "w", rosterworld.TWINS)),
        name="Twins",
        released=True,
    )
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The browser's own favicon probe is not the page's doing (no icon is served).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "manager")

    # Settings: SLA 10 days, record accuracy as the headline.
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    page.get_by_label("Response SLA (days)").fill("10")
    page.get_by_label("Headline score").select_option("record_accuracy")
    page.get_by_label("Default base rate (dollars)").fill("1e400")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    page.screenshot(path=str(artifacts / "settings-error.png"), full_page=True)
    page.get_by_label("Default base rate (dollars)").fill("6500.00")
    page.get_by_label("Added (missed code)").fill("2")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    page.screenshot(path=str(artifacts / "settings.png"), full_page=True)
    org.refresh_from_db()
    assert org.response_sla_days == 10
    assert org.score_settings["headline"] == "record_accuracy"

    # The next audit leads with record accuracy and shows the weighted error score.
    later = audit_import(
        organization=org,
        workbook=read_workbook(rosterworld.write(tmp_path / "later", rosterworld.TWINS)),
        name="After the change",
        released=True,
    )
    page.goto(f"{live_server.url}/o/{org.slug}/audits/{later.public_id}/")
    expect(page.locator("#headline-label")).to_have_text("Record accuracy")
    expect(page.locator("#weighted-errors")).to_contain_text("Weighted errors per 100 codes")
    expect(page.get_by_text("ADDED 2 (every other kind 1)")).to_be_visible()
    page.screenshot(path=str(artifacts / "audit-summary-settings.png"), full_page=True)

    # Rosters → Coders: give "A. Lee" the display name people read.
    page.get_by_role("link", name="Rosters", exact=True).first.click()
    page.get_by_role("navigation", name="Roster").get_by_role("link", name="Coders").click()
    row = page.locator("#roster-table tr").filter(
        has=page.get_by_role("rowheader", name="A. Lee", exact=True)
    )
    row.get_by_role("link", name="Rename").click()
    page.get_by_label("Display name").fill("Alice Lee-Park")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved coder “A. Lee”.")).to_be_visible()
    expect(page.locator("#roster-table")).to_contain_text("Alice Lee-Park")
    page.screenshot(path=str(artifacts / "rosters-coders.png"), full_page=True)
    assert Coder.objects.get(organization=org, name="A. Lee").label == "Alice Lee-Park"

    # Payers: merge "MEDICARE" into "Medicare", after seeing what moves.
    page.get_by_role("navigation", name="Roster").get_by_role("link", name="Payers").click()
    page.locator("#roster-table tr").filter(
        has=page.get_by_role("rowheader", name="MEDICARE", exact=True)
    ).get_by_role("link", name="Merge…").click()
    page.get_by_label("Merge into (the entry that stays)").select_option(label="Medicare")
    page.get_by_role("button", name="Review the merge").click()
    confirm = page.locator("#merge-confirm")
    expect(confirm).to_contain_text("encounters")
    expect(confirm.locator("td.num")).to_have_text("2")
    page.screenshot(path=str(artifacts / "rosters-merge-confirm.png"), full_page=True)
    confirm.get_by_role("button", name="Merge and delete “MEDICARE”").click()
    expect(page.get_by_text("Merged “MEDICARE” into “Medicare”")).to_be_visible()
    assert list(Payer.objects.filter(organization=org).values_list("name", flat=True)) == [
        "Medicare"
    ]
    assert Encounter.objects.filter(organization=org, payer="Medicare").count() == 6

    # Facilities: retire "North Campus"; the dashboard's filter bar stops offering it.
    page.get_by_role("navigation", name="Roster").get_by_role("link", name="Facilities").click()
    page.locator("#roster-table tr").filter(
        has=page.get_by_role("rowheader", name="North Campus", exact=True)
    ).get_by_role("button", name="Retire").click()
    expect(page.get_by_text("Retired “North Campus”")).to_be_visible()
    page.screenshot(path=str(artifacts / "rosters-facilities.png"), full_page=True)
    assert Facility.objects.get(organization=org, name="North Campus").retired_at is not None

    page.get_by_role("link", name="Dashboard").first.click()
    facility = page.get_by_label("Facility")
    expect(facility.locator("option", has_text="North Campus")).to_have_count(0)
    expect(facility.locator("option")).to_have_text(["All", "North"])
    coder = page.get_by_label("Coder")
    expect(coder.locator("option", has_text="Alice Lee-Park")).to_have_count(1)
    page.screenshot(path=str(artifacts / "dashboard-after-retire.png"), full_page=True)

    assert errors == []
