"""An audit started from the claims as billed (issue 11): the auditor uploads an 837I file,
sees its claims as not-reviewed encounters, changes a code on one (a finding appears),
marks another reviewed unchanged (a clean encounter), and the audit summary counts exactly
those two. Any console error fails the journey (the `page` fixture)."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit, Encounter, Finding
from tests.browser.test_review_journey import sign_in

CLAIMS = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "837i_two_interchanges.x12"
BANNER = "Not reviewed: the audited version is the coder's coding until you change it"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_auditor_audits_an_837_from_upload_to_summary(
    page: Page, live_server: Any, org: Organization, auditor: User, artifacts: Path
) -> None:
    base = live_server.url
    sign_in(page, base, "auditor")
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_label("Workbook, claims file or spreadsheet").set_input_files(CLAIMS)
    page.get_by_label("Audit name").fill("January claims")
    page.get_by_role("button", name="Import").click()

    # The job runs and lands on the summary: three claims, none counted yet.
    expect(page.get_by_role("heading", name="January claims")).to_be_visible()
    audit = Audit.objects.get(organization=org, name="January claims")
    assert Encounter.objects.filter(audit=audit, reviewed=False).count() == 3
    assert not Finding.objects.filter(encounter__audit=audit).exists()
    encounters = page.locator(".stat", has_text="Encounters").first
    expect(encounters.locator(".stat-value")).to_have_text("0")
    waiting = page.locator("#not-reviewed-count")
    expect(waiting.locator(".stat-value")).to_have_text("3")
    page.screenshot(path=str(artifacts / "claims-summary-before.png"), full_page=True)

    # IP-1001: the billed codes, not reviewed; a revised principal diagnosis is a finding,
    # and once reviewed the claim's billed DRG 291 is compared with its codes' grouping
    # (292): the second finding.
    waiting.get_by_role("link", name="Review them").click()
    expect(page.locator(".encounter-table tbody tr")).to_have_count(3)
    href = page.get_by_role("link", name="IP-1001").get_attribute("href")
    assert href is not None
    page.goto(base + href)
    expect(page.get_by_text(BANNER)).to_be_visible()
    code = page.get_by_label("Code, audited DX line 1")
    expect(code).to_have_value("I50.23")
    code.fill("I50.33")
    code.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved. 2 new findings.")).to_be_visible()
    expect(page.get_by_text(BANNER)).to_have_count(0)
    expect(page.locator(".finding").filter(has_text="REVISED")).to_have_count(1)
    expect(page.locator(".finding").filter(has_text="DRG_CHANGED")).to_have_count(1)
    page.screenshot(path=str(artifacts / "claims-finding.png"), full_page=True)

    # OP-2001: looked at and left as billed: marked reviewed, a clean encounter.
    op = Encounter.objects.get(audit=audit, external_id="OP-2001")
    page.goto(f"{base}/o/{org.slug}/encounters/{op.public_id}/")
    expect(page.get_by_text(BANNER)).to_be_visible()
    page.get_by_role("button", name="Mark reviewed").click()
    expect(
        page.get_by_role("status").filter(
            has_text="Marked reviewed: it counts from now on, a clean encounter."
        )
    ).to_be_visible()
    expect(page.locator(".finding")).to_have_count(0)

    # The summary counts exactly the two reviewed; one claim remains.
    page.goto(f"{base}/o/{org.slug}/audits/{audit.public_id}/")
    expect(encounters.locator(".stat-value")).to_have_text("2")
    expect(waiting.locator(".stat-value")).to_have_text("1")
    page.screenshot(path=str(artifacts / "claims-summary-after.png"), full_page=True)
    reviewed = Encounter.objects.filter(audit=audit, reviewed=True)
    assert sorted(reviewed.values_list("external_id", flat=True)) == ["IP-1001", "OP-2001"]
    assert sorted(
        Finding.objects.filter(encounter__audit=audit).values_list("kind", flat=True)
    ) == [
        "DRG_CHANGED",
        "REVISED",
    ]
