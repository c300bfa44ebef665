"""Hostile and large uploads in the browser: an auditor uploads a decompression bomb (the
form says it is too large when unpacked), then a large workbook with problems (checked by
the background job, whose page lists them by sheet, row and column). Any console error
fails the journey."""

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit, ImportJob
from tests.browser.test_review_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _zip(target: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def test_bomb_and_large_workbook_with_problems(
    page: Page,
    live_server: Any,
    org: Organization,
    auditor: User,
    tmp_path: Path,
    artifacts: Path,
    settings: Any,
) -> None:
    settings.IMPORT_CHECK_IN_REQUEST_BYTES = 200  # these small files count as large
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    bomb = _zip(tmp_path / "bomb.zip", {"encounters.csv": b"\0" * (30 * 1024 * 1024)})
    bad = _zip(
        tmp_path / "bad.zip",
        {
            "encounters.csv": b"encounter_id,setting,discharge_date,payer\n"
            + b"E1,inpatient,2026-05-14,"
            + b"P" * 101
            + b"\n"
            + b"E2,inpatient,9999-12-31,Medicare\n",
            "codes.csv": b"encounter_id,version,system,seq,code\nE1,original,ICD10CM,1,I50.9\n",
        },
    )

    sign_in(page, live_server.url, "auditor")
    page.get_by_role("link", name="Import an audit").first.click()
    page.get_by_label("Workbook").set_input_files(bomb)
    page.get_by_label("Audit name").fill("Bomb")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("This file is too large when unpacked")).to_be_visible()
    expect(page.get_by_text("(a decompression bomb)")).to_be_visible()
    page.screenshot(path=str(artifacts / "upload-bomb.png"), full_page=True)
    assert not ImportJob.objects.exists()

    page.get_by_label("Workbook").set_input_files(bad)
    page.get_by_label("Audit name").fill("Large but wrong")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("The workbook has 2 problems; nothing was imported.")).to_be_visible()
    rows = page.locator("#job-status table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("payer")
    expect(rows.nth(0)).to_contain_text("is 101 characters long; at most 100 are allowed")
    expect(rows.nth(1)).to_contain_text("discharge_date")
    page.screenshot(path=str(artifacts / "upload-large-problems.png"), full_page=True)
    assert not Audit.objects.exists()
    assert errors == []
