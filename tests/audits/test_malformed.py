"""Every malformed upload of tests/fixtures/malformed (written by its make.py) is refused
cleanly with a useful message, or imported, never a server error, a traceback or a partial
write: through the upload view (checked in the request, and checked by the background job
as large files are) and through `auditcoach import`. The big bombs are made here, in
tmp_path, instead of being committed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding, ImportJob
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).parent.parent / "fixtures" / "malformed"

# Files that are imported; every other file of the corpus must be refused. A fragment of
# the message a person gets is pinned for the refused ones that matter most.
IMPORTED = {
    "csv_bom_utf8.zip",
    "csv_crlf.zip",
    "csv_cr_only.zip",
    "csv_id_64_chars.zip",
    "csv_date_1990.zip",
    "csv_500_lines.zip",
    "csv_formula_injection.zip",
    "csv_emoji_names.zip",
    "csv_zero_width_in_id.zip",
    "csv_no_code_rows.zip",
    "csv_blank_lines.zip",
    "nested_folder.zip",
    "xlsx_good.xlsx",
    "xlsx_formula_cells.xlsx",
    "xlsx_formula_text.xlsx",
    "xlsx_uppercase_sheets.xlsx",
}
MAPPED = {"xlsx_extra_sheets_only.xlsx"}
"""Not a §9 workbook but a spreadsheet of its own (no `encounters` and no `codes` sheet):
the upload page keeps it and asks for its column mapping; `auditcoach import` without
`--mapping` still refuses it."""
MESSAGES = {
    "truncated.zip": "This file is damaged",
    "truncated_tail.zip": "This file is damaged",
    "only_eocd.zip": "The .zip has no encounters.csv and no codes.csv",
    "encrypted_member.zip": "is encrypted; save it without a password",
    "crc_error.zip": "fails its checksum",
    "bzip2_members.zip": "uses a compression method",
    "many_members.zip": "This file holds 10,000 parts",
    "path_traversal.zip": "outside the archive",
    "absolute_path.zip": "outside the archive",
    "xlsx_truncated.xlsx": "This file is damaged",
    "xlsx_not_a_zip.xlsx": "not a readable .xlsx workbook",
    "csv_nul_bytes.zip": "contains a NUL; remove it",
    "csv_invalid_utf8.zip": "is not UTF-8 text",
    "csv_long_encounter_id.zip": "is 70 characters long; at most 64 are allowed",
    "csv_long_payer.zip": "is 101 characters long; at most 100 are allowed",
    "csv_long_auditor.zip": "is 151 characters long; at most 150 are allowed",
    "csv_long_coder.zip": "is 201 characters long; at most 200 are allowed",
    "csv_long_cycle.zip": "is 41 characters long; at most 40 are allowed",
    "csv_huge_cell.zip": "is 100,000 characters long; at most 200 are allowed",
    "csv_long_code.zip": "at most 10 letters and digits",
    "csv_date_0001.zip": "must be from 1990-01-01 to",
    "csv_date_9999.zip": "must be from 1990-01-01 to",
    "csv_date_1899.zip": "must be from 1990-01-01 to",
    "csv_date_1989.zip": "must be from 1990-01-01 to",
    "xlsx_date_1899.xlsx": "must be from 1990-01-01 to",
    "csv_units_2_40.zip": "must be a whole number ≥ 1",
    "csv_negative_units.zip": "must be a whole number ≥ 1",
    "csv_seq_zero.zip": "must be a whole number ≥ 1",
    "csv_501_lines.zip": "has more than 500 audited code lines",
    "csv_header_only.zip": "has no encounters",
    "xlsx_header_only.xlsx": "has no encounters",
    "csv_homoglyph_code.zip": "must be letters and digits only",
    "csv_tab_in_name.zip": "contains a tab",
    "csv_newline_in_name.zip": "contains a line break",
    "csv_bell_char.zip": "contains a control character U+0007",
    "xlsx_nul_in_cell.xlsx": "contains a NUL",
    "xlsx_extra_sheets_only.xlsx": "sheet is missing",
    "csv_ragged_rows.zip": "is required",
}


def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in {".zip", ".xlsx"})


def test_the_corpus_is_large_small_and_known() -> None:
    files = corpus()
    assert len(files) >= 60
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < 2 * 1024 * 1024
    names = {p.name for p in files}
    assert names >= IMPORTED
    assert set(MESSAGES) <= names


def _counts(org: Organization, media: Path) -> tuple[int, ...]:
    uploads = media / "imports"
    return (
        Audit.objects.filter(organization=org).count(),
        Encounter.objects.count(),
        CodeLine.objects.count(),
        Finding.objects.count(),
        len(list(uploads.iterdir())) if uploads.exists() else 0,
    )


def _page(response: Any) -> str:
    return response.content.decode()


@pytest.mark.parametrize("where", ["request", "worker"])
@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_upload_view(
    path: Path,
    where: str,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # "worker": every file counts as large, so the request only saves it and runs the zip
    # guard, and the background job (inline here) reads and validates it.
    if where == "worker":
        settings.IMPORT_CHECK_IN_REQUEST_BYTES = 0
    media = Path(settings.MEDIA_ROOT)
    before = _counts(org, media)
    client = client_for(auditor)
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("audits:import", kwargs={"org_slug": org.slug}),
            {"file": upload, "name": f"Corpus {path.stem}"},
        )
    assert response.status_code in {200, 302}
    if response.status_code == 200:  # refused in the request, with the error list
        message = _page(response)
        assert "errorlist" in message or "problems-title" in message
        assert path.name not in IMPORTED, message
        assert _counts(org, media) == before
    else:
        job = ImportJob.objects.get(organization=org, name=f"Corpus {path.stem}")
        page = client.get(response["Location"], follow=True)
        assert page.status_code == 200
        message = _page(page)
        if path.name in MAPPED:
            assert job.status == ImportJob.Status.MAPPING
            assert "Map the columns of" in message
            assert Audit.objects.filter(organization=org).count() == before[0]
            return
        if path.name in IMPORTED:
            assert job.status == ImportJob.Status.DONE, job.error
            assert Audit.objects.filter(organization=org).count() == before[0] + 1
            assert not Path(job.path).exists()
            return
        assert job.status == ImportJob.Status.FAILED, (job.status, job.error)
        assert where == "worker"  # the request path refuses with the form
        assert "problems-title" in message
        assert "Traceback" not in job.error
        assert _counts(org, media) == before
    if path.name in MESSAGES:
        assert MESSAGES[path.name] in message.replace("&quot;", '"').replace("&#x27;", "'")


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_cli_import(path: Path, org: Organization, settings: Any) -> None:
    before = _counts(org, Path(settings.MEDIA_ROOT))
    out, err = io.StringIO(), io.StringIO()
    command = ("import", str(path))
    options = {"org": org.slug, "audit": f"CLI {path.stem}", "stdout": out, "stderr": err}
    if path.name in IMPORTED:
        call_command(*command, **options)
        assert Audit.objects.get(organization=org, name=f"CLI {path.stem}")
        return
    with pytest.raises(CommandError) as caught:
        call_command(*command, **options)
    message = str(caught.value)
    assert caught.value.returncode == 2
    assert message.startswith("the workbook was rejected; nothing was imported:")
    assert "Traceback" not in message
    if path.name in MESSAGES:
        assert MESSAGES[path.name] in message
    assert _counts(org, Path(settings.MEDIA_ROOT)) == before


def test_formulas_are_kept_as_text(org: Organization) -> None:
    call_command(
        "import",
        str(CORPUS / "csv_formula_injection.zip"),
        org=org.slug,
        audit="F",
        stdout=io.StringIO(),
    )
    encounter = Encounter.objects.select_related("facility", "coder").get(audit__name="F")
    assert encounter.facility is not None
    assert encounter.coder is not None
    assert encounter.facility.name == '=HYPERLINK("http://x.test","click")'
    assert encounter.coder.name == "+cmd|' /C calc'!A0"
    # Text cells that look like formulas are text; real formula cells are never evaluated:
    # their cached value is read (none here, so the names are blank; "=1+1" is not 2).
    for name in ("xlsx_formula_text.xlsx", "xlsx_formula_cells.xlsx"):
        call_command(
            "import",
            str(CORPUS / name),
            org=org.slug,
            audit=name,
            allow_duplicates=True,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    text = Encounter.objects.select_related("facility", "coder").get(
        audit__name="xlsx_formula_text.xlsx"
    )
    assert text.facility is not None
    assert text.coder is not None
    assert (text.facility.name, text.coder.name) == ('=HYPERLINK("http://x.test","click")', "=1+1")
    formula = Encounter.objects.get(audit__name="xlsx_formula_cells.xlsx")
    assert (formula.facility_id, formula.coder_id) == (None, None)


# --------------------------------------------------------------------------- the big bombs


def _zero_bomb(path: Path, *, member: str, megabytes: int) -> None:
    """A zip whose one member inflates to `megabytes` MB of zeros (~1 MB per GB packed)."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open(member, "w", force_zip64=True) as out,
    ):
        block = b"\0" * (1024 * 1024)
        for _ in range(megabytes):
            out.write(block)


def _xlsx_bomb(path: Path, good: Path, *, megabytes: int) -> None:
    """The good workbook with its first sheet's XML padded by `megabytes` MB of spaces."""
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                with dst.open(info.filename, "w", force_zip64=True) as out:
                    head, tail = data.split(b"<sheetData>", 1)
                    out.write(head)
                    for _ in range(megabytes):
                        out.write(b" " * (1024 * 1024))
                    out.write(b"<sheetData>" + tail)
            else:
                dst.writestr(info, data)


def _overlapping_bomb(path: Path) -> None:
    """Many central-directory entries all pointing at one local member (overlapping)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("encounters.csv", b"\0" * (20 * 1024 * 1024))
    data = buf.getvalue()
    cd = data.index(b"PK\x01\x02")
    eocd = data.index(b"PK\x05\x06")
    entry = data[cd:eocd]
    entries = b"".join(
        entry.replace(b"encounters.csv", f"e{i:013d}.csv".encode()) for i in range(50)
    )
    end = bytearray(data[eocd:])
    end[8:10] = (50).to_bytes(2, "little")
    end[10:12] = (50).to_bytes(2, "little")
    end[12:16] = len(entries).to_bytes(4, "little")
    path.write_bytes(data[:cd] + entries + bytes(end))


@pytest.mark.parametrize("kind", ["zip", "xlsx", "overlap", "too_big"])
def test_bombs_are_refused_by_the_upload_and_the_cli(
    kind: str,
    tmp_path: Path,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    settings: Any,
) -> None:
    if kind == "zip":
        path = tmp_path / "bomb.zip"
        _zero_bomb(path, member="encounters.csv", megabytes=1024)
        expected = "times its packed size (a decompression bomb)"
    elif kind == "xlsx":
        path = tmp_path / "bomb.xlsx"
        _xlsx_bomb(path, CORPUS / "xlsx_good.xlsx", megabytes=1024)
        expected = "times its packed size (a decompression bomb)"
    elif kind == "overlap":
        path = tmp_path / "overlap.zip"
        _overlapping_bomb(path)
        expected = "This file is damaged"
    else:  # within the ratio, past the unpacked cap
        settings.IMPORT_MAX_UNPACKED_BYTES = 4 * 1024 * 1024
        settings.IMPORT_MAX_COMPRESSION_RATIO = 10_000
        path = tmp_path / "big.zip"
        _zero_bomb(path, member="encounters.csv", megabytes=6)
        expected = "This file is too large when unpacked: encounters.csv passes 4 MB"
    assert path.stat().st_size < 4 * 1024 * 1024
    media = Path(settings.MEDIA_ROOT)
    before = _counts(org, media)
    response = client_for(auditor).post(
        reverse("audits:import", kwargs={"org_slug": org.slug}),
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "Bomb"},
    )
    assert response.status_code == 200
    assert expected in _page(response)
    assert _counts(org, media) == before
    with pytest.raises(CommandError) as caught:
        call_command("import", str(path), org=org.slug, audit="Bomb", stdout=io.StringIO())
    assert caught.value.returncode == 2
    assert expected in str(caught.value)
    assert not ImportJob.objects.exists()
