"""A spreadsheet with foreign column names, in the browser: the auditor uploads the billing
system's export, sees its first rows and a proposed mapping, corrects the fields the names
did not give away, checks it, saves it by name and imports; the next export with the same
columns is imported with the saved mapping without a question, and the page says so with a
link to change it. Any console error (a CSP violation included) fails the journey."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Encounter, ImportJob, ImportMapping
from tests.browser.test_review_journey import sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "Acct #,Enc Type,Disch Date,Pt Age,Gender,MD Name,Principal Dx,POA 1,Dx 2,POA 2,ICD10 PCS 1,CPT1,CPT1_MOD1,CPT1 Units\n"
JUNE = (
    'ACC-1001,I,06/02/2026,71,Female,"Okafor, Ada",I50.23,Y,N18.30,N,02HA0QZ,,,\n'
    'ACC-1002,O,06/03/2026,45,Male,"Lund, Per",R07.9,,,,,93005,26,1\n'
)
JULY = 'ACC-2001,I,07/09/2026,80,Female,"Okafor, Ada",J18.9,Y,,,,,,\n'


def test_a_foreign_spreadsheet_is_mapped_saved_and_reused(
    page: Page,
    live_server: Any,
    org: Organization,
    auditor: User,
    manager: User,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    june = tmp_path / "billing-june.csv"
    june.write_text(HEADER + JUNE)
    july = tmp_path / "billing-july.csv"
    july.write_text(HEADER + JULY)

    sign_in(page, live_server.url, "auditor")
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_label("Workbook").set_input_files(june)
    page.get_by_label("Audit name").fill("June claims")
    page.get_by_role("button", name="Import").click()

    # The mapping page: the file's first rows and a mapping guessed from the names.
    expect(page.get_by_role("heading", name="Map the columns of billing-june.csv")).to_be_visible()
    preview = page.locator("#mapping-preview")
    expect(preview.locator("thead")).to_contain_text("Enc Type")
    expect(preview.locator("tbody tr")).to_have_count(2)
    expect(preview.locator("tbody tr").first).to_contain_text("Okafor, Ada")
    expect(page.get_by_label("Encounter id (account number)")).to_have_value("Acct #")
    expect(page.get_by_label("Discharge date", exact=True)).to_have_value("Disch Date")
    expect(page.get_by_label("Diagnosis 1", exact=True)).to_have_value("Principal Dx")
    expect(page.get_by_label("POA 1", exact=True)).to_have_value("POA 1")
    expect(page.get_by_label("Procedure 1", exact=True)).to_have_value("ICD10 PCS 1")
    # "Enc Type" and "MD Name" say nothing the guess could use: left for the auditor.
    expect(page.get_by_label("Provider", exact=True)).to_have_value("")

    # Checked as it stands: the setting holds "I" / "O", and a proposed constant would be
    # wrong for the outpatient row, so the auditor points the setting at its column.
    page.get_by_label("Setting", exact=True).select_option("Enc Type")
    page.get_by_label("Provider", exact=True).select_option("MD Name")
    page.get_by_label("Dates are written").select_option("MM/DD/YYYY")
    page.get_by_role("button", name="Check the mapping").click()
    expect(page.locator("#mapping-checked")).to_contain_text(
        "2 encounters and 5 code lines, nothing wrong"
    )
    page.screenshot(path=str(artifacts / "mapping-page.png"), full_page=True)

    page.get_by_label("Save this mapping as").fill("Billing export")
    page.get_by_role("button", name="Check and import").click()
    expect(
        page.get_by_text("Imported “June claims”: 2 encounters and 5 code lines.")
    ).to_be_visible()
    saved = ImportMapping.objects.get(organization=org, name="Billing export")
    first = Encounter.objects.get(audit__name="June claims", external_id="ACC-1001")
    assert (first.setting, first.sex, first.age) == ("inpatient", "F", 71)
    assert first.provider is not None
    assert first.provider.name == "Okafor, Ada"
    second = Encounter.objects.get(audit__name="June claims", external_id="ACC-1002")
    assert second.setting == "outpatient"
    line = second.code_lines.get(version="original", system="CPT")
    assert (line.code, line.modifiers, line.units) == ("93005", "26", 1)

    # The next month's export, the same columns: no mapping page this time.
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_label("Workbook").set_input_files(july)
    page.get_by_label("Audit name").fill("July claims")
    page.get_by_role("button", name="Import").click()
    expect(
        page.get_by_text("Imported “July claims”: 1 encounters and 1 code lines.")
    ).to_be_visible()
    note = page.get_by_text("were read with the saved mapping “Billing export”, without asking")
    expect(note).to_be_visible()
    assert ImportJob.objects.get(name="July claims").mapping_name == "Billing export"
    page.screenshot(path=str(artifacts / "mapping-reused.png"), full_page=True)

    page.get_by_role("link", name="Change the mapping").click()
    expect(page.get_by_role("heading", name="Column mapping “Billing export”")).to_be_visible()
    expect(page.get_by_label("Setting", exact=True)).to_have_value("Enc Type")
    assert page.url.endswith(f"/audits/mappings/{saved.public_id}/")

    # A manager keeps the saved mappings tidy: the list, a rename.
    sign_out(page)
    sign_in(page, live_server.url, "manager")
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_role("link", name="Saved column mappings").click()
    rows = page.locator("#mapping-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("One row per encounter")
    page.get_by_label("New name for Billing export").fill("Billing export (Epic)")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("Renamed the mapping to “Billing export (Epic)”.")).to_be_visible()
    page.screenshot(path=str(artifacts / "mapping-list.png"), full_page=True)
    saved.refresh_from_db()
    assert saved.name == "Billing export (Epic)"
