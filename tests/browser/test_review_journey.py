"""An auditor's day: import an audit, read its summary, review an encounter, fix a code.

Everything is asserted on what the person sees. The last step checks isolation: a coder of
another organization who has the encounter's address gets a 404.
"""

import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Facility, Organization, Role, User
from auditcoach.audits.models import Encounter
from tests.browser.conftest import ConsoleErrors
from tests.factories import TEST_PASSWORD, MembershipFactory, UserFactory

WORKED = Path(__file__).resolve().parents[1] / "fixtures" / "worked"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def worked_zip(tmp_path: Path) -> Path:
    target = tmp_path / "worked-example.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("encounters.csv", "codes.csv"):
            zf.write(WORKED / name, f"worked/{name}")
    target.write_bytes(buffer.getvalue())
    return target


def test_auditor_reviews_an_encounter(
    page: Page,
    live_server: Any,
    org: Organization,
    auditor: User,
    other_org: Organization,
    tmp_path: Path,
    artifacts: Path,
    console_errors: ConsoleErrors,
) -> None:
    base = live_server.url
    # The facility's base rate of the worked example, so the dollars are its dollars.
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    rival = UserFactory(username="rival.coder")
    MembershipFactory(user=rival, organization=other_org, role=Role.CODER)

    # Sign in through the form and import the worked example through the import page.
    sign_in(page, base, "auditor")
    expect(page.get_by_role("heading", name="Audits")).to_be_visible()
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_label("Workbook").set_input_files(worked_zip(tmp_path))
    page.get_by_label("Audit name").fill("Worked example 2026-Q2")
    page.get_by_role("button", name="Import").click()

    # The summary: the worked example's pooled numbers with n and interval.
    expect(page.get_by_role("heading", name="Worked example 2026-Q2")).to_be_visible()
    expect(page.get_by_text("Imported “Worked example 2026-Q2”: 4 encounters")).to_be_visible()
    dx_row = page.locator(".scores-table tr", has_text="Code accuracy DX")
    expect(dx_row).to_contain_text("62.5%")
    expect(dx_row).to_contain_text("5/8")
    expect(dx_row).to_contain_text("30.6–86.3%")
    expect(page.locator(".stat", has_text="Financial impact")).to_contain_text("+$7,487.35")
    page.screenshot(path=str(artifacts / "audit-summary.png"), full_page=True)

    # The encounter list, then HF-1.
    page.get_by_role("link", name="Review encounters").click()
    expect(page.locator(".encounter-table tbody tr")).to_have_count(4)
    page.get_by_label("Encounter id").fill("HF")
    expect(page.locator(".encounter-table tbody tr")).to_have_count(1)  # htmx filter
    # Follow the link by its address: a click would first blur the filter field, whose
    # `change` trigger sends the list request again, racing the page on the test server's
    # one shared SQLite connection (a 404 now and then under load).
    hf1_link = page.get_by_role("link", name="HF-1").get_attribute("href")
    assert hf1_link is not None
    page.goto(base + hf1_link)
    expect(page.get_by_role("heading", name="HF-1")).to_be_visible()
    findings = page.locator(".finding")
    expect(findings).to_have_count(4)
    dx_scores = page.locator(".enc-scores tbody tr", has_text="DX")
    expect(dx_scores).to_contain_text("66.7%")
    expect(dx_scores).to_contain_text("2/3")
    page.screenshot(path=str(artifacts / "workspace-before.png"), full_page=True)

    # Change the audited N18.4 to N18.5 and press Enter: the new finding and score appear.
    hf1 = Encounter.objects.get(external_id="HF-1")
    code = page.get_by_label("Code, audited DX line 3")
    code.fill("N18.5")
    code.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved. 1 new finding.")).to_be_visible()
    expect(findings).to_have_count(5)
    new = page.locator(".finding", has=page.locator(".badge-new"))
    expect(new).to_contain_text("REVISED")
    expect(new).to_contain_text("N18.4")
    expect(new).to_contain_text("N18.5")
    expect(dx_scores).to_contain_text("33.3%")
    expect(dx_scores).to_contain_text("1/3")

    # Keyboard: `a` jumps to the add-a-code field; the added code becomes an ADDED finding.
    page.locator("body").press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#add-code")).to_be_focused()
    page.keyboard.type("J96.01")
    page.locator("#add-poa").select_option("Y")
    page.locator("#add-code").press("Enter")
    added = page.locator(".finding", has_text="J96.01")
    expect(added).to_contain_text("ADDED")
    expect(added.locator(".badge-new")).to_be_visible()
    expect(findings).to_have_count(6)
    # `n` moves through the findings and lights up their code lines.
    page.locator("body").press("Escape")
    page.keyboard.press("n")
    expect(findings.first).to_be_focused()
    expect(page.locator("tr.is-linked").first).to_be_visible()

    # Notes on a finding save in place.
    first = findings.first
    first.get_by_placeholder("Error category").fill("Specificity")
    first.get_by_label("Root cause").select_option("KNOWLEDGE_GAP")
    first.get_by_label("Rationale").fill("Acute on chronic diastolic heart failure is documented.")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_text("✓ Saved")).to_be_visible()
    page.mouse.move(0, 0)
    page.screenshot(path=str(artifacts / "review-workspace.png"), full_page=True)
    hf1.refresh_from_db()
    assert hf1.lock_version == 3
    assert hf1.findings.filter(error_category="Specificity").count() == 1

    # The summary follows: DX code accuracy is now 4/9.
    page.get_by_role("link", name="Summary").click()
    expect(page.locator(".scores-table tr", has_text="Code accuracy DX")).to_contain_text("4/9")

    # A coder of another organization with the address gets a 404.
    target = f"{base}/o/{org.slug}/encounters/{hf1.public_id}/"
    sign_out(page)
    sign_in(page, base, "rival.coder")
    response = page.goto(target)
    assert response is not None
    assert response.status == 404
    console_errors.expect("status of 404")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text(re.compile("HF-1|N18"))).to_have_count(0)
    page.screenshot(path=str(artifacts / "outsider-404.png"))
