"""Overreads end to end: a manager sets a plan, the system picks, a second auditor reviews
blind (the page never shows the first auditor's codes), the manager reads consistency.

Everything is asserted on what each person sees; screenshots go to test-artifacts/.
"""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Encounter
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from tests.browser.test_review_journey import sign_in, sign_out
from tests.overreads.builders import make_auditor

WORKED = Path(__file__).resolve().parents[1] / "fixtures" / "worked"
# What only the first auditor coded on HF-1 (the coder billed I50.9 and no procedure).
FIRST_AUDITOR_ONLY = ("I50.23", "I5023", "0JH606Z")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plan_pick_blind_review_consistency(
    page: Page, live_server: Any, org: Organization, manager: User, auditor: User, artifacts: Path
) -> None:
    base = live_server.url
    make_auditor(org, "bea", "Bea", "Second")
    audit = audit_import(organization=org, workbook=read_workbook(WORKED), name="Q2", actor=auditor)
    Encounter.objects.filter(audit=audit).update(auditor=auditor, review_status="done")

    # The manager sets a plan: all of Alex's reviewed 2026-Q2 encounters (4), reviewer left
    # to the system; Bea is the only other auditor.
    sign_in(page, base, "manager")
    page.get_by_role("link", name="Overread plans").click()
    expect(page.get_by_role("heading", name="Overread plans")).to_be_visible()
    page.get_by_label("Auditor to overread").select_option(label="Alex Auditor")
    page.get_by_label("Cycle").fill("2026-Q2")
    page.get_by_label("Share (%)").fill("100")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_text("Plan saved: 100% of Alex Auditor's 2026-Q2.")).to_be_visible()
    page.get_by_role("button", name="Pick encounters").click()
    expect(page.get_by_text("Picked 4 encounters for overread by Bea Second.")).to_be_visible()
    expect(page.locator(".plans-table tbody tr").first).to_contain_text("fewest open overreads")
    page.screenshot(path=str(artifacts / "overread-plans.png"), full_page=True)
    sign_out(page)

    # Bea reviews HF-1 blind: the coder's codes, never Alex's.
    sign_in(page, base, "bea")
    page.get_by_role("link", name="My overreads").click()
    expect(page.locator(".queue-table tbody tr")).to_have_count(4)
    page.get_by_role("link", name="HF-1").click()
    expect(page.get_by_role("heading", name="Blind review HF-1")).to_be_visible()
    html = page.content()
    for code in FIRST_AUDITOR_ONLY:
        assert code not in html, code
    assert "Alex Auditor" not in html
    page.screenshot(path=str(artifacts / "overread-blind-start.png"), full_page=True)
    page.get_by_label("Code, diagnoses line 1").fill("I50.23")
    page.get_by_role("button", name="Save I50.9").click()
    expect(page.get_by_label("Code, diagnoses line 1")).to_have_value("I50.23")
    page.get_by_role("button", name="Remove Z79.4").click()
    expect(page.locator(".blind-table .blind-line")).to_have_count(3)
    page.screenshot(path=str(artifacts / "overread-blind-edited.png"), full_page=True)
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("Overread of HF-1 done.")).to_be_visible()
    # EM-3 as the coder billed it (99215; Alex audited 99213).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My overreads").click()
    page.get_by_role("link", name="EM-3").click()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_text("Overread of EM-3 done.")).to_be_visible()
    page.screenshot(path=str(artifacts / "overread-done.png"), full_page=True)
    sign_out(page)

    # The manager reads consistency. HF-1: Alex I50.23 E87.1 N18.4 0JH606Z vs Bea I50.23
    # E87.1 N18.4 → 3 of 4; EM-3: Alex E11.65 99213 93000 vs Bea E11.9 99215 93000 → 1 of 5.
    # Pooled 4/9 = 44.4%.
    sign_in(page, base, "manager")
    # The manager lands on the dashboard, whose consistency widget links there too.
    page.get_by_role("link", name="Consistency", exact=True).click()
    overall = page.locator("#consistency-overall tbody tr")
    expect(overall).to_contain_text("44.4%")
    expect(overall).to_contain_text("4/9")
    expect(page.locator("#consistency-auditor")).to_contain_text("Bea Second")
    page.screenshot(path=str(artifacts / "overread-consistency.png"), full_page=True)


def test_calibration_set(
    page: Page, live_server: Any, org: Organization, manager: User, auditor: User, artifacts: Path
) -> None:
    base = live_server.url
    make_auditor(org, "bea", "Bea", "Second")
    make_auditor(org, "cy", "Cy", "Third")
    audit_import(organization=org, workbook=read_workbook(WORKED), name="Q2", actor=auditor)

    sign_in(page, base, "manager")
    page.get_by_role("link", name="Calibration sets").click()
    page.get_by_label("Name").fill("Heart failure 2026")
    page.get_by_label("Audit", exact=True).select_option(label="Q2")
    page.get_by_label("Encounter ids").fill("HF-1, EM-3")
    for name in ("Alex Auditor", "Bea Second", "Cy Third"):
        page.get_by_label(name).check()
    page.get_by_role("button", name="Send to the auditors").click()
    expect(
        page.get_by_text("Calibration set “Heart failure 2026” sent to its auditors.")
    ).to_be_visible()
    expect(page.locator(".stat", has_text="Reviews done")).to_contain_text("0/6")
    sign_out(page)

    # Each auditor reviews both encounters blind; Cy changes EM-3's visit to 99213.
    for username in ("auditor", "bea", "cy"):
        sign_in(page, base, username)
        page.get_by_role("link", name="My overreads").click()
        for external_id in ("HF-1", "EM-3"):
            page.get_by_role("link", name=external_id).click()
            expect(page.get_by_role("heading", name=f"Blind review {external_id}")).to_be_visible()
            if username == "cy" and external_id == "EM-3":
                page.get_by_label("Code, service lines line 1").fill("99213")
                page.get_by_role("button", name="Save 99215").click()
                expect(page.get_by_label("Code, service lines line 1")).to_have_value("99213")
            page.get_by_role("button", name="Done").click()
            expect(page.get_by_text(f"Overread of {external_id} done.")).to_be_visible()
            page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="My overreads"
            ).click()
        sign_out(page)

    sign_in(page, base, "manager")
    page.get_by_role("link", name="Calibration sets").click()
    page.get_by_role("link", name="Heart failure 2026").click()
    expect(page.locator(".stat", has_text="Reviews done")).to_contain_text("6/6")
    # HF-1: all three leave it as coded (292, no findings). EM-3: Alex and Bea keep 99215
    # (level 5, no findings), Cy 99213 (level 3, a finding). Findings α: units (0,0,0) and
    # (0,0,1) → α = 0 (worked in tests/overreads/test_views.py); E/M has one pairable unit
    # (5, 5, 3): n₃ = 1, n₅ = 2, D_o = D_e → α = 0.
    expect(page.locator("#alpha-findings")).to_contain_text("0.000")
    expect(page.locator("#alpha-em")).to_contain_text("0.000")
    expect(page.locator(".calibration-table")).to_contain_text("E/M 3")
    page.screenshot(path=str(artifacts / "overread-calibration.png"), full_page=True)
