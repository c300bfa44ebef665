"""Uploaded workbooks and claims files: the import caps of the settings (`IMPORT_MAX_*`,
docs/uploads.md) as the plain limits the readers and the zip guard take, the unpacking of a
.zip of the two CSV files, and `read_upload`, the one reader of every format (the upload
form, its background job, `auditcoach import` and `auditcoach convert` share them)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath

from django.conf import settings

from auditcoach.engine.workbook import Problem, Workbook, WorkbookError, WorkbookLimits
from auditcoach.intake import IntakeLimits, read_intake
from auditcoach.intake.common import Format
from auditcoach.lib.safezip import ZipLimits, ZipRefused, check_zip, copy_member, open_zip

CSV_NAMES = ("encounters.csv", "codes.csv")
UPLOAD_SUFFIXES = (".xlsx", ".zip", ".x12", ".837", ".edi", ".txt", ".json", ".ndjson")
"""The file names the upload page takes: workbooks, X12 837 files, FHIR Claims."""


def safe_name(name: str, default: str = "workbook.xlsx") -> str:
    """A file name reduced to letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:100] or default


def unpack_csv_zip(archive: Path, target: Path) -> Path:
    """Copies encounters.csv and codes.csv out of the zip at `archive` (in any folder of
    it) into the new folder `target`, after the zip guard has unpacked and counted every
    member. Only those two members are written, under fixed names, so a crafted member
    path cannot write anywhere else. Raises `ZipRefused` with the message to show."""
    with archive.open("rb") as handle:
        if handle.read(2) != b"PK":
            raise ZipRefused(
                "This is not a .zip file: upload a .zip of the two CSV files.", damaged=False
            )
    limits = zip_limits()
    infos = check_zip(archive, limits)
    wanted = {}
    for info in infos:
        if info.is_dir():
            continue
        base = PurePosixPath(info.filename).name.lower()
        if base.startswith("._"):  # macOS resource forks beside the real files
            continue
        if base in CSV_NAMES:
            if base in wanted:
                raise ZipRefused(f"The .zip holds more than one {base}.", damaged=False)
            wanted[base] = info
    missing = [n for n in CSV_NAMES if n not in wanted]
    if missing:
        raise ZipRefused(f"The .zip has no {' and no '.join(missing)}.", damaged=False)
    target.mkdir()
    with open_zip(archive) as zf:
        for base, info in wanted.items():
            with (target / base).open("wb") as dst:
                copy_member(zf, info, dst, limits)
    return target


def zip_limits() -> ZipLimits:
    return ZipLimits(
        max_members=settings.IMPORT_MAX_ARCHIVE_MEMBERS,
        max_member_bytes=settings.IMPORT_MAX_UNPACKED_BYTES,
        max_total_bytes=settings.IMPORT_MAX_UNPACKED_TOTAL_BYTES,
        max_ratio=settings.IMPORT_MAX_COMPRESSION_RATIO,
    )


def workbook_limits() -> WorkbookLimits:
    return WorkbookLimits(
        max_encounter_rows=settings.IMPORT_MAX_ENCOUNTER_ROWS,
        max_code_rows=settings.IMPORT_MAX_CODE_ROWS,
        max_lines_per_version=settings.IMPORT_MAX_LINES_PER_VERSION,
        zip=zip_limits(),
    )


def intake_limits() -> IntakeLimits:
    """The claims readers' limits: at most `IMPORT_MAX_CLAIMS_BYTES` (and an upload's cap),
    since reading a claims file takes about 40 times its size in memory."""
    cap = min(settings.IMPORT_MAX_CLAIMS_BYTES, settings.IMPORT_MAX_UPLOAD_BYTES)
    return IntakeLimits(max_bytes=cap, workbook=workbook_limits())


def read_upload(path: Path, *, format: Format | None = None) -> Workbook:
    """Any importable file at `path`, validated: a workbook (.xlsx, CSV folder, or a .zip of
    the two CSV files, unpacked through the zip guard), an X12 837 or FHIR Claims (detected
    from the name and first bytes unless `format` is given). Raises WorkbookError listing
    every problem; a refused .zip is one problem."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip" and format in (None, "workbook"):
        with tempfile.TemporaryDirectory(prefix="auditcoach-import-") as tmp:
            try:
                folder = unpack_csv_zip(path, Path(tmp) / "workbook")
            except ZipRefused as exc:
                raise WorkbookError([Problem(path.name, None, None, exc.message)]) from exc
            return read_intake(folder, format="workbook", limits=intake_limits())
    return read_intake(path, format=format, limits=intake_limits())
