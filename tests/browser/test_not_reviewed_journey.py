"""An audit that starts from the coder's coding (DESIGN §9): the auditor sees which
encounters are not reviewed yet, marks one reviewed unchanged (clean), changes a code on
another (a finding), and the summary counts exactly those that were reviewed."""

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Encounter
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from tests.browser.test_review_journey import sign_in

WORKED = Path(__file__).resolve().parents[1] / "fixtures" / "worked"
BANNER = (
    "Not reviewed: the audited version is the coder's coding until you change it or mark "
    "it reviewed"
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _workbook(tmp_path: Path) -> Path:
    """The worked example plus NR-5 and NR-6, the coder's coding only."""
    folder = tmp_path / "wb"
    shutil.copytree(WORKED, folder)
    with (folder / "encounters.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "NR-5,outpatient,2026-06-12,61,M,,,,North,,,,coder.ana,auditor,2026-Q2\n"
            "NR-6,profee,2026-06-12,44,F,,,,Clinic,,,,coder.ben,auditor,2026-Q2\n"
        )
    with (folder / "codes.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "NR-5,original,ICD10CM,1,M17.11,,,\n"
            "NR-5,original,CPT,1,20610,,RT,1\n"
            "NR-6,original,ICD10CM,1,E11.9,,,\n"
            "NR-6,original,CPT,1,99213,,,1\n"
        )
    return folder


def test_auditor_reviews_encounters_that_start_as_the_coders_coding(
    page: Page, live_server: Any, org: Organization, auditor: User, tmp_path: Path
) -> None:
    base = live_server.url
    audit = audit_import(
        organization=org, workbook=read_workbook(_workbook(tmp_path)), name="From claims"
    )
    sign_in(page, base, "auditor")
    page.goto(f"{base}/o/{org.slug}/audits/{audit.public_id}/")

    # The summary scores the four reviewed encounters and says two remain.
    encounters = page.locator(".stat", has_text="Encounters").first
    expect(encounters.locator(".stat-value")).to_have_text("4")
    waiting = page.locator("#not-reviewed-count")
    expect(waiting.locator(".stat-value")).to_have_text("2")
    page.screenshot(path="/tmp/not-reviewed-summary.png", full_page=True)

    # "Review them": the list filtered to the two, marked "Not reviewed".
    waiting.get_by_role("link", name="Review them").click()
    rows = page.locator(".encounter-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Not reviewed")

    # NR-6: the banner, no findings; Mark reviewed (the `r` key) makes it clean.
    link = page.get_by_role("link", name="NR-6").get_attribute("href")
    assert link is not None
    page.goto(base + link)
    expect(page.get_by_text(BANNER)).to_be_visible()
    expect(page.locator(".finding")).to_have_count(0)
    expect(page.locator("#not-counted")).to_be_visible()
    page.screenshot(path="/tmp/not-reviewed-workspace.png", full_page=True)
    page.locator("#not-reviewed").screenshot(path="/tmp/not-reviewed-banner.png")
    page.locator("body").press("r")
    expect(
        page.get_by_role("status").filter(
            has_text="Marked reviewed: it counts from now on, a clean encounter."
        )
    ).to_be_visible()
    expect(page.get_by_text(BANNER)).to_have_count(0)
    expect(page.locator(".enc-scores tbody tr", has_text="LINE")).to_contain_text("100.0%")
    page.screenshot(path="/tmp/not-reviewed-marked.png", full_page=True)

    # NR-5: changing a code reviews it, with the finding that change makes.
    page.goto(
        f"{base}/o/{org.slug}/encounters/{Encounter.objects.get(external_id='NR-5').public_id}/"
    )
    expect(page.get_by_text(BANNER)).to_be_visible()
    code = page.get_by_label("Code, audited DX line 1")
    code.fill("M17.12")
    code.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Saved. 1 new finding.")).to_be_visible()
    expect(page.get_by_text(BANNER)).to_have_count(0)
    expect(page.locator(".finding")).to_contain_text("REVISED")

    # The summary now scores six encounters and none remains.
    page.goto(f"{base}/o/{org.slug}/audits/{audit.public_id}/")
    expect(encounters.locator(".stat-value")).to_have_text("6")
    expect(page.locator("#not-reviewed-count")).to_have_count(0)
