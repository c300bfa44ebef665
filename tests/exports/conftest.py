"""The world of the export tests: the worked example imported and released (so every list,
screen and analytics alike, has rows), one finding disputed, and readers of the two files.

`screen_rows(client, url, key)` walks every page of a list screen and returns the rows the
screen's context shows, so tests compare an export with what a person sees, page after page.
"""

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.test import Client
from python_calamine import CalamineWorkbook

from auditcoach.accounts.models import Coder, Facility, Organization, User
from auditcoach.audits.models import Audit, Encounter, Finding
from auditcoach.audits.services import audit_import
from auditcoach.coaching.services import audit_release, finding_dispute
from auditcoach.engine.workbook import read_workbook
from auditcoach.lib.exports import BOM

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


@pytest.fixture
def worked(org: Organization, auditor: User, coder_user: User) -> Audit:
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )
    Coder.objects.filter(organization=org, name="coder.ana").update(user=coder_user)
    Encounter.objects.filter(audit=audit).update(auditor=auditor)
    return audit


@pytest.fixture
def released(worked: Audit, auditor: User, coder_user: User) -> Audit:
    audit_release(audit=worked, actor=auditor)
    first = (
        Finding.objects.filter(encounter__audit=worked, encounter__coder__user=coder_user)
        .order_by("encounter__external_id", "position")
        .first()
    )
    assert first is not None
    finding_dispute(finding=first, actor=coder_user, rationale='=HYPERLINK("x") I coded it right')
    worked.refresh_from_db()
    return worked


def read_xlsx(response: Any) -> list[list[Any]]:
    """The first sheet of an XLSX response, read back with python-calamine."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return read_xlsx_bytes(b"".join(response.streaming_content))


def read_xlsx_bytes(data: bytes) -> list[list[Any]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    return [[_digits(v) for v in row] for row in rows]


def _digits(value: Any) -> Any:
    # Excel keeps 15 significant digits of a number (openpyxl writes 16): compare at that.
    return float(f"{value:.15g}") if isinstance(value, float) else value


def number_formats(data: bytes) -> dict[str, str]:
    """Each column's number format (header → format of its first non-empty cell), read with
    openpyxl: python-calamine reads values, not formats."""
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows())
    headers = [c.value for c in rows[0]]
    out: dict[str, str] = {}
    for row in rows[1:]:
        for header, cell in zip(headers, row, strict=False):
            if cell.value not in (None, "") and header not in out:
                out[str(header)] = cell.number_format
    return out


def read_csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :])))


type ScreenRows = Callable[..., list[Any]]


@pytest.fixture
def screen_rows() -> ScreenRows:
    def walk(client: Client, url: str, key: str = "rows", **params: str) -> list[Any]:
        rows: list[Any] = []
        number = 1
        while True:
            response = client.get(url, {**params, "page": str(number)})
            assert response.status_code == 200
            rows.extend(response.context[key])
            page = response.context.get("page")
            if page is None or not page.has_next():
                return rows
            number += 1

    return walk


def as_cells(value: Any) -> Any:
    """A Python value as calamine reads it back (numbers are floats, empty cells "")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal | float):
        return _digits(float(value))
    return value
