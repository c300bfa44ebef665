"""An auditor finds a missed MCC: search the code as they type, add it, watch the DRG move.

The encounter is heart failure with a CC (DRG 292). The record supports acute respiratory
failure with hypoxia (J96.01, an MCC): adding it regroups the audited version to 291 live,
and the panel shows the dollars: (RW 291 − RW 292) × the facility's base rate, FY2026.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.audits.models import Encounter
from auditcoach.audits.services import audit_import
from auditcoach.codesets.pricing import Table5Pricing
from auditcoach.engine.workbook import read_workbook
from tests.browser.test_review_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DISCHARGE = date(2026, 5, 14)
BASE_RATE = Decimal("6500.00")


def small_workbook(folder: Path) -> Path:
    folder.mkdir()
    (folder / "encounters.csv").write_text(
        "encounter_id,setting,discharge_date,age,sex,discharge_disposition,facility,coder\n"
        f"HF-9,inpatient,{DISCHARGE.isoformat()},77,F,01,North,coder.ana\n"
    )
    (folder / "codes.csv").write_text(
        "encounter_id,version,system,seq,code,poa\n"
        "HF-9,original,ICD10CM,1,I50.23,Y\n"
        "HF-9,original,ICD10CM,2,E87.1,Y\n"
        "HF-9,audited,ICD10CM,1,I50.23,Y\n"
        "HF-9,audited,ICD10CM,2,E87.1,Y\n"
    )
    return folder


def expected_impact() -> str:
    table = Table5Pricing()
    w291, w292 = table.weight("291", DISCHARGE), table.weight("292", DISCHARGE)
    assert w291 is not None
    assert w292 is not None
    amount = ((w291 - w292) * BASE_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"+${amount:,.2f}"


def test_auditor_adds_a_missed_mcc_and_sees_the_drg_move(
    page: Page,
    live_server: Any,
    org: Organization,
    auditor: User,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    base = live_server.url
    Facility.objects.create(organization=org, name="North", base_rate=BASE_RATE)
    audit = audit_import(
        organization=org,
        workbook=read_workbook(small_workbook(tmp_path / "hf9")),
        name="Heart failure focus 2026-Q2",
        actor=auditor,
    )
    encounter = Encounter.objects.get(audit=audit, external_id="HF-9")
    assert (encounter.original_drg, encounter.audited_drg) == ("292", "292")

    # Sign in through the form, open the audit's encounters, then HF-9.
    sign_in(page, base, "auditor")
    page.get_by_role("link", name="Heart failure focus 2026-Q2").click()
    page.get_by_role("link", name="Review encounters").click()
    page.get_by_role("link", name="HF-9").click()
    expect(page.get_by_role("heading", name="HF-9")).to_be_visible()
    panel = page.locator(".drg-panel")
    expect(panel.locator(".drg-side", has_text="Audited DRG")).to_contain_text("292")
    expect(panel).to_contain_text("Heart Failure and Shock with CC")
    expect(page.locator("#a-DX-2-d .badge-cc")).to_have_text("CC")
    expect(page.locator("#a-DX-2-d")).to_contain_text("drives DRG")
    page.screenshot(path=str(artifacts / "drg-before.png"), full_page=True)

    # Type part of the code; pick J96.01 from the suggestions with the keyboard.
    field = page.locator("#add-code")
    field.click()
    field.press_sequentially("J96.0", delay=60)
    listbox = page.get_by_role("listbox", name="Matching codes")
    expect(listbox).to_be_visible()
    wanted = listbox.locator('[role="option"][data-code="J96.01"]')
    expect(wanted).to_contain_text("Acute respiratory failure with hypoxia")
    expect(field).to_have_attribute("aria-expanded", "true")
    for _ in range(20):
        field.press("ArrowDown")
        if wanted.get_attribute("aria-selected") == "true":
            break
    expect(wanted).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", wanted.get_attribute("id") or "")
    page.screenshot(path=str(artifacts / "code-search.png"))
    field.press("Enter")
    expect(listbox).to_be_hidden()
    expect(field).to_have_value("J96.01")
    expect(page.locator("#add-system")).to_have_value("ICD10CM")
    page.locator("#add-poa").select_option("Y")
    page.get_by_role("button", name="Add", exact=True).click()

    # The audited version regroups at once: 291, the dollars, and J96.01 marked MCC.
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    audited = panel.locator(".drg-side", has_text="Audited DRG")
    expect(audited.locator(".drg-code")).to_have_text("291")
    expect(audited).to_contain_text("Heart Failure and Shock with MCC")
    expect(page.locator("#drg-impact")).to_have_text(expected_impact())
    j96 = page.locator("#a-DX-3")
    expect(j96.locator(".code-input")).to_have_value("J96.01")
    j96_detail = page.locator("#a-DX-3-d")
    expect(j96_detail.locator(".badge-mcc")).to_have_text("MCC")
    expect(j96_detail).to_contain_text("drives DRG")
    expect(j96_detail).to_contain_text("Acute respiratory failure with hypoxia")
    # E87.1 is still a CC, but the MCC now drives the DRG.
    expect(page.locator("#a-DX-2-d .badge-cc")).to_have_text("CC")
    expect(page.locator("#a-DX-2-d")).not_to_contain_text("drives DRG")
    finding = page.locator(".finding", has_text="DRG_CHANGED")
    expect(finding).to_contain_text("292")
    expect(finding).to_contain_text("291")
    page.mouse.move(0, 0)
    page.screenshot(path=str(artifacts / "drg-after.png"), full_page=True)

    encounter.refresh_from_db()
    assert encounter.audited_drg == "291"
    assert f"+${encounter.financial_impact:,.2f}" == expected_impact()
