"""Exports of the audits area's lists: an audit's encounters (and its summary), as on screen."""

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from auditcoach.accounts.models import User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits import views as audit_views
from auditcoach.audits.models import Audit
from auditcoach.lib.exports import DATE_FORMAT, INTEGER_FORMAT, MONEY_FORMAT, mask_account
from tests.conftest import AssertTenancy, ClientFor
from tests.exports.conftest import (
    ScreenRows,
    as_cells,
    number_formats,
    read_csv,
    read_xlsx,
    read_xlsx_bytes,
)

pytestmark = pytest.mark.django_db

HEADERS = [
    "Encounter",
    "Setting",
    "Discharged",
    "Coder",
    "Original DRG",
    "Audited DRG",
    "Findings",
    "$ impact",
    "Review",
]


def encounters_url(audit: Audit) -> str:
    return reverse(
        "audits:encounters", kwargs={"org_slug": "north-health", "audit_id": audit.public_id}
    )


def expected(e: Any, *, accounts: bool) -> list[Any]:
    """One row as the screen shows it (template audits/encounters.html), DRG split in two."""
    return [
        e.external_id if accounts else mask_account(e.external_id),
        e.get_setting_display(),
        e.discharge_date,
        e.coder.label if e.coder else "",
        e.original_drg,
        e.audited_drg,
        e.finding_count,
        e.financial_impact,
        e.get_review_status_display() if e.reviewed else "Not reviewed",
    ]


@pytest.mark.parametrize("params", [{}, {"has_findings": "yes"}, {"setting": "inpatient"}])
def test_encounters_xlsx_equals_every_page_of_the_screen(
    client_for: ClientFor,
    auditor: User,
    worked: Audit,
    screen_rows: ScreenRows,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
) -> None:
    # Two rows a page, so the screen has several pages and the export must hold them all.
    monkeypatch.setattr(audit_views, "ENCOUNTERS_PER_PAGE", 2)
    client = client_for(auditor)
    url = encounters_url(worked)
    shown = screen_rows(client, url, **params)
    assert shown, "the filter should leave rows to compare"
    sheet = read_xlsx(client.get(url, {**params, "export": "xlsx"}))
    assert sheet[0] == HEADERS
    assert sheet[1:] == [[as_cells(v) for v in expected(e, accounts=False)] for e in shown]
    if not params:
        assert len(shown) > 2  # really more than one page


def test_encounters_csv_equals_the_screen(
    client_for: ClientFor, auditor: User, worked: Audit, screen_rows: ScreenRows
) -> None:
    client = client_for(auditor)
    url = encounters_url(worked)
    shown = screen_rows(client, url)
    rows = read_csv(client.get(url, {"export": "csv", "accounts": "1"}))
    assert rows[0] == HEADERS
    assert [r[0] for r in rows[1:]] == [e.external_id for e in shown]
    assert [r[2] for r in rows[1:]] == [e.discharge_date.isoformat() for e in shown]
    assert [r[7] for r in rows[1:]] == [
        "" if e.financial_impact is None else f"{e.financial_impact:.2f}" for e in shown
    ]


def test_encounters_typed_cells(client_for: ClientFor, auditor: User, worked: Audit) -> None:
    response = client_for(auditor).get(encounters_url(worked), {"export": "xlsx"})
    data = b"".join(response.streaming_content)
    sheet = read_xlsx_bytes(data)
    priced = next(r for r in sheet[1:] if r[7] != "")
    assert isinstance(priced[2], dt.date)  # Discharged: a date cell
    assert isinstance(priced[7], float)  # $ impact: a number ...
    formats = number_formats(data)
    assert formats["Discharged"] == DATE_FORMAT
    assert formats["$ impact"] == MONEY_FORMAT  # ... shown as currency
    assert formats["Findings"] == INTEGER_FORMAT


def test_encounters_export_is_logged(client_for: ClientFor, auditor: User, worked: Audit) -> None:
    before = AuditLogEntry.objects.filter(action="list.export").count()
    response = client_for(auditor).get(
        encounters_url(worked), {"export": "xlsx", "has_findings": "yes", "accounts": "1"}
    )
    sheet = read_xlsx(response)
    entry = AuditLogEntry.objects.filter(action="list.export").latest("pk")
    assert AuditLogEntry.objects.filter(action="list.export").count() == before + 1
    assert entry.actor == auditor
    assert entry.object_type == "audit"
    assert entry.object_id == str(worked.public_id)
    assert entry.changes["list"].startswith("encounters")
    assert entry.changes["filters"] == {"has_findings": "yes"}
    assert entry.changes["rows"] == len(sheet) - 1
    assert entry.changes["format"] == "xlsx"
    assert entry.changes["accounts"] is True
    assert "north-health" in response["Content-Disposition"]


def test_encounters_export_checklist(
    assert_tenancy: AssertTenancy,
    worked: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    for fmt in ("csv", "xlsx"):
        assert_tenancy(
            f"{encounters_url(worked)}?export={fmt}",
            allowed=[manager, auditor, educator, viewer],
            forbidden=[coder_user],
        )
        # Account numbers: managers and auditors only.
        assert_tenancy(
            f"{encounters_url(worked)}?export={fmt}&accounts=1",
            allowed=[manager, auditor],
            forbidden=[educator, viewer, coder_user],
        )


def test_the_screen_offers_the_export_with_its_filters(
    client_for: ClientFor, auditor: User, viewer: User, worked: Audit
) -> None:
    html = client_for(auditor).get(encounters_url(worked), {"has_findings": "yes"}).content
    assert b'name="export"' in html
    assert b'name="has_findings" value="yes"' in html
    assert b'name="accounts"' in html
    # A viewer may export, masked: no tick offered.
    html = client_for(viewer).get(encounters_url(worked)).content
    assert b'name="export"' in html
    assert b'name="accounts"' not in html
