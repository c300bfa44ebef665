"""An auditor filters an audit's encounters, exports them as CSV with account numbers and
gets exactly the rows the screen lists; a viewer's export control has no account tick. The
`page` fixture fails the test on any console error (CSP: the control has no inline code)."""

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from auditcoach.lib.exports import BOM
from tests.browser.test_review_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def test_an_auditor_exports_the_filtered_encounters(
    page: Page, live_server: Any, org: Organization, auditor: User, artifacts: Path
) -> None:
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )
    sign_in(page, live_server.url, "auditor")
    page.goto(
        f"{live_server.url}/o/{org.slug}/audits/{audit.public_id}/encounters/?has_findings=yes"
    )
    shown = page.locator(".encounter-table tbody tr td:first-child").all_inner_texts()
    assert shown
    control = page.get_by_role("form", name="Export this list")
    expect(control).to_be_visible()
    page.screenshot(path=str(artifacts / "export-control.png"), full_page=True)
    control.get_by_label("Export").select_option("csv")
    control.get_by_label("include account numbers").check()
    with page.expect_download() as download:
        control.get_by_role("button", name="Export").click()
    assert download.value.suggested_filename.startswith("encounters-worked-north-health-")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[len(BOM) :])))
    assert rows[0][0] == "Encounter"
    assert [r[0] for r in rows[1:]] == [s.strip() for s in shown]
