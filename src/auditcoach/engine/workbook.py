"""Reading, validating and writing audit workbooks (DESIGN §9).

An audit workbook is an `.xlsx` file with sheets `encounters` and `codes`, or a folder with
`encounters.csv` and `codes.csv`. `read_workbook` checks every row and either returns the
encounters with their normalized code lines or raises `WorkbookError` listing every problem
by sheet, row (as a spreadsheet shows it: header = row 1) and column.

Decisions beyond §9:
- Sheet and file names, column headers and the enumerated values (setting, version, system,
  sex) are matched case-insensitively; values are trimmed; fully blank rows are skipped.
- In an `.xlsx`, typed cells are accepted where the text would be: a date cell for
  `discharge_date` (a date-time keeps its date), whole numbers for integers, a numeric
  disposition zero-padded to 2 digits (1 → "01"), a numeric CPT / ICD-10-PCS code
  zero-padded to 5 / 7 characters (Excel drops leading zeros). In CSV, text must already be
  in shape ("1" is not a disposition).
- Integers (seq, units) are capped at 2,147,483,647, the range of a database integer.
- `billed_drg` is 1–3 digits, stored zero-padded to 3 ("65" → "065").
- An encounter with original lines and no audited line is not yet reviewed (§9): its
  audited version is the original, and its audited disposition the discharge disposition
  (an `audited_disposition` given for it is not read). An encounter with no lines at all
  stays an ordinary (reviewed) one. Written back, a not-reviewed encounter has its
  original lines only and a blank `audited_disposition`, so it reads back the same.

The database's own limits are checked here, so that SQLite (which would store anything)
and PostgreSQL (which would refuse mid-import) accept and refuse exactly the same files
(docs/workbook.md, docs/uploads.md): every text column's length against its model field
(`COLUMN_MAX_LENGTHS`), no control characters (NUL, tab, line breaks, ...) inside the
cells AuditCoach reads, a discharge date from 1990-01-01 to a year after today, integers
within a database integer, at most `WorkbookLimits.max_lines_per_version` lines per
version of one encounter, capped row counts, and at least one encounter. An `.xlsx` goes
through `auditcoach.lib.safezip` (every part unpacked and counted) before calamine, which
would inflate it in memory, ever sees it.
"""

from __future__ import annotations

import csv
import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

from auditcoach.engine.codes import (
    format_modifiers,
    normalize_code,
    normalize_modifiers,
    normalize_poa,
)
from auditcoach.engine.model import GROUPS, SYSTEM_GROUP, CodeLine, Encounter, Setting, System
from auditcoach.lib.safezip import ZipLimits, ZipRefused, check_zip

__all__ = [
    "CODE_COLUMNS",
    "COLUMN_MAX_LENGTHS",
    "ENCOUNTER_COLUMNS",
    "MAX_LISTED",
    "Problem",
    "Workbook",
    "WorkbookError",
    "WorkbookLimits",
    "read_tables",
    "read_workbook",
    "write_workbook_csv",
    "write_workbook_xlsx",
    "xlsx_escape",
]

MAX_LISTED: Final = 1000
"""Problems kept and listed; the rest are only counted ("... and N more")."""

ENCOUNTER_COLUMNS: Final = (
    "encounter_id",
    "setting",
    "discharge_date",
    "age",
    "sex",
    "discharge_disposition",
    "audited_disposition",
    "billed_drg",
    "facility",
    "service_line",
    "provider",
    "payer",
    "coder",
    "auditor",
    "audit_cycle",
)
CODE_COLUMNS: Final = (
    "encounter_id",
    "version",
    "system",
    "seq",
    "code",
    "poa",
    "modifiers",
    "units",
)
_SHEETS: Final = ("encounters", "codes")
_ENCOUNTER_REQUIRED: Final = ("encounter_id", "setting", "discharge_date")
_CODE_REQUIRED: Final = ("encounter_id", "version", "system", "seq", "code")
_TEXT_COLUMNS: Final = (
    "facility",
    "service_line",
    "provider",
    "payer",
    "coder",
    "auditor",
    "audit_cycle",
)

_SETTINGS: Final[dict[str, Setting]] = {
    "inpatient": "inpatient",
    "outpatient": "outpatient",
    "profee": "profee",
}
_SYSTEMS: Final[dict[str, System]] = {
    "ICD10CM": "ICD10CM",
    "ICD10PCS": "ICD10PCS",
    "CPT": "CPT",
    "HCPCS": "HCPCS",
}
_VERSIONS: Final = {"original": 0, "audited": 1}
_SEXES: Final = frozenset({"M", "F", "U"})
_POAS: Final = frozenset({"Y", "N", "U", "W", "1", ""})
_GROUP_ORDER: Final = {group: i for i, group in enumerate(GROUPS)}
_SYSTEM_ORDER: Final = {system: _GROUP_ORDER[group] for system, group in SYSTEM_GROUP.items()}
_NUMERIC_CODE_WIDTH: Final = {"CPT": 5, "ICD10PCS": 7}
_MAX_INT: Final = 2_147_483_647
_NUMBER_TYPES: Final = (int, float)  # checked with type(): bool is not a number here
_MAX_AGE: Final = 124
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_NAMES: Final = {"\x00": "NUL", "\t": "tab", "\n": "line break", "\r": "line break"}

COLUMN_MAX_LENGTHS: Final[dict[str, int]] = {
    # The max_length of the field each column is stored in (audits/ and accounts/models.py).
    "encounter_id": 64,  # Encounter.external_id
    "facility": 200,  # Facility.name
    "service_line": 200,  # ServiceLine.name
    "provider": 200,  # Provider.name
    "payer": 100,  # Encounter.payer (the Payer roster allows 200)
    "coder": 200,  # Coder.name
    "auditor": 150,  # Encounter.auditor_name (the Auditor roster allows 200)
    "audit_cycle": 40,  # Encounter.cycle, Audit.cycle
    "code": 10,  # CodeLine.code, after dots and spaces are removed
}
_MAX_CODE: Final = COLUMN_MAX_LENGTHS["code"]  # checked after normalizing, in _make_line
MIN_DATE: Final = date(1990, 1, 1)
"""The earliest discharge date accepted; the latest is a year after today."""


@dataclass(frozen=True, slots=True)
class WorkbookLimits:
    """How much one workbook may hold (settings `IMPORT_MAX_*`, docs/uploads.md). `today`
    fixes the date check in tests (None: the day of reading)."""

    max_encounter_rows: int = 1_000_000
    max_code_rows: int = 2_000_000
    max_lines_per_version: int = 500
    zip: ZipLimits = field(default_factory=ZipLimits)
    today: date | None = None

    def latest_date(self) -> date:
        today = self.today or date.today()
        try:
            return today.replace(year=today.year + 1)
        except ValueError:  # 29 February
            return today.replace(year=today.year + 1, day=28)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a workbook. `row` is the row a spreadsheet shows (header = 1);
    `sheet` is the sheet (or CSV file) name, or the path's name for a file-level problem."""

    sheet: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.sheet
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class WorkbookError(Exception):
    """A workbook that cannot be used; `problems` holds up to `MAX_LISTED` of them, in
    sheet and row order, and `total` counts all of them."""

    def __init__(self, problems: Sequence[Problem], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = max(len(self.problems), total or 0)
        super().__init__(self.problems, self.total)

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems[:MAX_LISTED]]
        if self.total > len(lines):
            lines.append(f"... and {self.total - len(lines)} more")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Workbook:
    """A valid workbook: its encounters in file order, each with `original` and `audited`
    lines sorted by group (DX, PX, LINE) then seq."""

    encounters: tuple[Encounter, ...]
    source: str
    code_rows: int


class _Problems:
    """Collects problems, keeping the first `MAX_LISTED` and counting the rest."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.total = 0
        self._sheets: dict[str, int] = {}

    def add(self, sheet: str, row: int | None, column: str | None, message: str) -> None:
        self.total += 1
        self._sheets.setdefault(sheet, len(self._sheets))
        if len(self.kept) < MAX_LISTED:
            self.kept.append(Problem(sheet, row, column, message))

    def error(self) -> WorkbookError:
        order = self._sheets
        kept = sorted(self.kept, key=lambda p: (order[p.sheet], p.row or 0))
        return WorkbookError(kept, self.total)


def _check_cells(
    sheet: str,
    rownum: int,
    cells: list[str],
    columns: Sequence[tuple[str, int]],
    problems: _Problems,
) -> bool:
    """Control characters inside, and text longer than the column allows, in the cells of
    the known columns (their stripped value); True when the row is clean."""
    clean = True
    joined = "".join(cells)
    controls = _CONTROL.search(joined) is not None
    if not controls and len(joined) <= 40:
        return True
    for name, i in columns:
        value = cells[i].strip()
        if controls:
            found = _CONTROL.search(value)
            if found is not None:
                char = found.group()
                what = _CONTROL_NAMES.get(char, f"control character U+{ord(char):04X}")
                problems.add(sheet, rownum, name, f"contains a {what}; remove it")
                clean = False
                continue
        limit = COLUMN_MAX_LENGTHS.get(name)
        if limit is not None and len(value) > limit and name != "code":
            problems.add(
                sheet,
                rownum,
                name,
                f"is {len(value):,} characters long; at most {limit} are allowed: {_shown(value)}",
            )
            clean = False
    return clean


def _shown(raw: str) -> str:
    """A value quoted for a message, shortened when long."""
    text = raw if len(raw) <= 40 else raw[:37] + "..."
    return f'"{text}"'


# --------------------------------------------------------------------------- tables

Rows = Iterator[tuple[int, list[Any]]]
"""(row number as a spreadsheet shows it, cells): text for CSV, typed values for xlsx."""


@dataclass(slots=True)
class _Source:
    sheet: str  # the sheet or file name as the person named it
    rows: Rows
    typed: bool  # xlsx cells (str, float, date, ...) rather than CSV text


@dataclass(slots=True)
class _Table:
    """One sheet after its header: column positions (known columns only), header width,
    the required columns that are missing, and the data rows as text."""

    sheet: str
    columns: dict[str, int]
    width: int
    missing: set[str]
    rows: Iterator[tuple[int, list[str]]]


def _cell_text(value: object) -> str:
    """An xlsx cell as the text a person typed."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    return str(value)


def _xlsx_text_rows(raw: Rows, columns: dict[str, int]) -> Iterator[tuple[int, list[str]]]:
    """Data rows of an xlsx sheet as text, with typed cells of the columns that need it
    read as a person meant them (see the module docstring)."""
    pad2 = [columns[c] for c in ("discharge_disposition", "audited_disposition") if c in columns]
    date_col = columns.get("discharge_date")
    code_col = columns.get("code")
    system_col = columns.get("system")
    for rownum, cells in raw:
        text = [c if type(c) is str else _cell_text(c) for c in cells]
        n = len(cells)
        for i in pad2:
            if i < n and type(cells[i]) in _NUMBER_TYPES and _is_digits(text[i]):
                text[i] = text[i].zfill(2)
        if date_col is not None and date_col < n and isinstance(cells[date_col], datetime):
            text[date_col] = cells[date_col].date().isoformat()
        if (
            code_col is not None
            and system_col is not None
            and code_col < n
            and system_col < n
            and type(cells[code_col]) in _NUMBER_TYPES
            and _is_digits(text[code_col])
        ):
            width = _NUMERIC_CODE_WIDTH.get(text[system_col].strip().upper(), 0)
            text[code_col] = text[code_col].zfill(width)
        yield rownum, text


def _open_table(
    source: _Source,
    known: Sequence[str],
    required: Sequence[str],
    problems: _Problems,
) -> _Table | None:
    """Finds the header (the first row that is not blank) and maps its columns: known
    columns by position (first occurrence), reporting missing required columns and
    repeated known ones. None when the sheet has no header."""
    sheet = source.sheet
    header: list[str] | None = None
    header_row = 0
    before = problems.total
    for rownum, cells in source.rows:
        text = [_cell_text(c) for c in cells]
        if any(c.strip() for c in text):
            header, header_row = text, rownum
            break
    if header is None:
        if problems.total == before:  # (not when the file could not be read at all)
            problems.add(sheet, None, None, "is empty: there is no header row")
        return None

    columns: dict[str, int] = {}
    known_set = set(known)
    for i, cell in enumerate(header):
        name = cell.strip().lower()
        if name not in known_set:
            continue
        if name in columns:
            problems.add(
                sheet,
                header_row,
                name,
                f"column appears more than once (positions {columns[name] + 1} and {i + 1})",
            )
            continue
        columns[name] = i
    missing = {name for name in required if name not in columns}
    for name in required:
        if name in missing:
            problems.add(sheet, header_row, name, "required column is missing")
    rows = _xlsx_text_rows(source.rows, columns) if source.typed else source.rows
    return _Table(sheet, columns, len(header), missing, rows)


def _csv_rows(path: Path, sheet: str, problems: _Problems) -> Rows:
    rownum = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for rownum, cells in enumerate(csv.reader(handle), start=1):
                yield rownum, cells
    except UnicodeDecodeError:
        problems.add(sheet, None, None, "is not UTF-8 text (save it as CSV UTF-8)")
    except csv.Error as exc:
        problems.add(sheet, rownum + 1, None, f"is not readable CSV: {exc}")
    except OSError as exc:
        problems.add(sheet, None, None, f"cannot be read: {exc.strerror or exc}")


def _xlsx_rows(raw: Iterable[list[Any]]) -> Rows:
    # calamine's iter_rows starts at the sheet's first row (its columns at the first used one)
    for i, cells in enumerate(raw):
        yield i + 1, cells


# --------------------------------------------------------------------------- values


def _parse_int(raw: str, low: int, high: int) -> int | None:
    """A whole number written with ASCII digits (an optional leading +) within bounds."""
    text = raw[1:] if raw.startswith("+") else raw
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if low <= value <= high else None


def _parse_date(raw: str, cache: dict[str, date | None]) -> date | None:
    try:
        return cache[raw]
    except KeyError:
        pass
    parsed: date | None = None
    if (
        len(raw) == 10
        and raw[4] == "-"
        and raw[7] == "-"
        and raw.replace("-", "").isascii()
        and raw.replace("-", "").isdigit()
    ):
        try:
            parsed = date.fromisoformat(raw)
        except ValueError:
            parsed = None
    cache[raw] = parsed
    return parsed


def _is_digits(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


# --------------------------------------------------------------------------- encounters


@dataclass(slots=True)
class _Pending:
    """An encounter row that passed its checks, collecting its code lines per version
    (original = 0, audited = 1) as (line, sort key) with their row numbers."""

    fields: dict[str, Any]  # Encounter keywords except the lines
    hits: tuple[list[tuple[CodeLine, int]], list[tuple[CodeLine, int]]]
    rows: tuple[list[int], list[int]]


def _padding(table: _Table, names: Sequence[str]) -> tuple[list[int], int]:
    """Positions of `names` (a missing column reads a cell that is always blank) and the
    row length that makes every position valid."""
    blank = table.width
    positions = [table.columns.get(name, blank) for name in names]
    return positions, max(positions) + 1


def _too_many_rows(sheet: str, rownum: int, limit: int, what: str, problems: _Problems) -> None:
    problems.add(
        sheet,
        rownum,
        None,
        f"more than {limit:,} {what} rows: the rest was not read. Split the audit into "
        "smaller workbooks.",
    )


def _read_encounters(
    table: _Table, problems: _Problems, limits: WorkbookLimits
) -> tuple[dict[str, _Pending], dict[str, int]]:
    """Valid encounter rows by id (file order), and every id seen with its first row."""
    sheet = table.sheet
    missing = table.missing
    positions, width = _padding(table, ENCOUNTER_COLUMNS)
    header_width = table.width
    checked = [(name, table.columns[name]) for name in ENCOUNTER_COLUMNS if name in table.columns]
    earliest, latest = MIN_DATE, limits.latest_date()
    count = 0
    dates: dict[str, date | None] = {}
    pending: dict[str, _Pending] = {}
    seen: dict[str, int] = {}
    add = problems.add

    for rownum, cells in table.rows:
        if len(cells) > header_width:  # cells past the header's columns are not read
            del cells[header_width:]
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        values = [cells[i].strip() for i in positions]
        if not any(values):
            continue
        count += 1
        if count > limits.max_encounter_rows:
            _too_many_rows(sheet, rownum, limits.max_encounter_rows, "encounter", problems)
            break
        (eid, setting_text, date_text, age_text, sex_text, disp, audited_disp, drg) = values[:8]
        if not _check_cells(sheet, rownum, cells, checked, problems):
            if eid:  # (its code rows are not "unknown": the problem is here)
                seen.setdefault(eid, rownum)
            continue
        before = problems.total

        for name, value in (
            ("encounter_id", eid),
            ("setting", setting_text),
            ("discharge_date", date_text),
        ):
            if not value and name not in missing:
                add(sheet, rownum, name, "is required")

        if eid:
            first = seen.get(eid)
            if first is not None:
                add(
                    sheet,
                    rownum,
                    "encounter_id",
                    f"duplicate encounter_id {_shown(eid)} (first on row {first})",
                )
            else:
                seen[eid] = rownum

        setting = _SETTINGS.get(setting_text.lower())
        if setting is None and setting_text:
            add(
                sheet,
                rownum,
                "setting",
                f"must be inpatient, outpatient or profee, got {_shown(setting_text)}",
            )

        discharge = _parse_date(date_text, dates)
        if discharge is None and date_text:
            add(
                sheet,
                rownum,
                "discharge_date",
                f"must be a date written YYYY-MM-DD, got {_shown(date_text)}",
            )
        elif discharge is not None and not earliest <= discharge <= latest:
            add(
                sheet,
                rownum,
                "discharge_date",
                f"must be from {earliest.isoformat()} to {latest.isoformat()} (a year from "
                f"today), got {discharge.isoformat()}",
            )
            discharge = None

        age: int | None = None
        if age_text:
            age = _parse_int(age_text, 0, _MAX_AGE)
            if age is None:
                add(
                    sheet,
                    rownum,
                    "age",
                    f"must be a whole number from 0 to {_MAX_AGE}, got {_shown(age_text)}",
                )

        sex = sex_text.upper()
        if sex and sex not in _SEXES:
            add(sheet, rownum, "sex", f"must be M, F or U, got {_shown(sex_text)}")

        for name, value in (("discharge_disposition", disp), ("audited_disposition", audited_disp)):
            if value and not (len(value) == 2 and _is_digits(value)):
                add(sheet, rownum, name, f"must be 2 digits (e.g. 01), got {_shown(value)}")

        if drg and not (len(drg) <= 3 and _is_digits(drg)):
            add(sheet, rownum, "billed_drg", f"must be 1 to 3 digits (e.g. 291), got {_shown(drg)}")

        # (setting / discharge_date are None without a problem when their column is missing)
        if (
            problems.total == before
            and setting is not None
            and discharge is not None
            and eid not in pending
        ):
            fields: dict[str, Any] = {
                "encounter_id": eid,
                "setting": setting,
                "discharge_date": discharge,
                "age": age,
                "sex": sex or None,
                "discharge_disposition": disp or None,
                "audited_disposition": audited_disp or None,
                "billed_drg": drg.zfill(3) if drg else None,
            }
            fields.update(zip(_TEXT_COLUMNS, values[8:], strict=True))
            pending[eid] = _Pending(fields, ([], []), ([], []))
    return pending, seen


@dataclass(slots=True)
class _Memo:
    """Normalizations already done while reading one sheet (raw text → result)."""

    codes: dict[str, str] = field(default_factory=dict)
    modifiers: dict[str, frozenset[str]] = field(default_factory=dict)


def _make_line(
    sheet: str,
    rownum: int,
    raw: tuple[str, str, str, str, str, str],
    missing: set[str],
    problems: _Problems,
    memo: _Memo,
) -> CodeLine | None:
    """Validates the line fields of one codes row; None (with problems added) if bad."""
    raw_system, raw_seq, raw_code, raw_poa, raw_mods, raw_units = raw
    before = problems.total
    add = problems.add

    system_text = raw_system.strip()
    system = _SYSTEMS.get(system_text.upper())
    if system is None:
        if system_text:
            add(
                sheet,
                rownum,
                "system",
                f"must be ICD10CM, ICD10PCS, CPT or HCPCS, got {_shown(system_text)}",
            )
        elif "system" not in missing:
            add(sheet, rownum, "system", "is required")

    seq_text = raw_seq.strip()
    seq = _parse_int(seq_text, 1, _MAX_INT)
    if seq is None:
        if seq_text:
            add(sheet, rownum, "seq", f"must be a whole number ≥ 1, got {_shown(seq_text)}")
        elif "seq" not in missing:
            add(sheet, rownum, "seq", "is required")

    code = memo.codes.get(raw_code)
    if code is None:
        code = memo.codes[raw_code] = normalize_code(raw_code)
    if not code:
        if "code" not in missing:
            add(sheet, rownum, "code", "is required")
    elif not (code.isascii() and code.isalnum()):
        shown = _shown(raw_code.strip())
        add(sheet, rownum, "code", f"must be letters and digits only, got {shown}")
    elif len(code) > _MAX_CODE:
        shown = _shown(raw_code.strip())
        add(sheet, rownum, "code", f"at most {_MAX_CODE} letters and digits, got {shown}")

    poa = normalize_poa(raw_poa)
    if poa not in _POAS:
        shown = _shown(raw_poa.strip())
        add(sheet, rownum, "poa", f"must be Y, N, U, W, 1 or empty, got {shown}")

    modifiers = memo.modifiers.get(raw_mods)
    if modifiers is None:
        modifiers = memo.modifiers[raw_mods] = normalize_modifiers(raw_mods)
    if len(modifiers) > 4:
        shown = _shown(raw_mods.strip())
        add(sheet, rownum, "modifiers", f"at most four modifiers, got {len(modifiers)}: {shown}")
    for modifier in sorted(modifiers):
        if not (len(modifier) == 2 and modifier.isascii() and modifier.isalnum()):
            add(
                sheet,
                rownum,
                "modifiers",
                f"each modifier must be 2 letters or digits, separated by ; got {_shown(modifier)}",
            )

    units_text = raw_units.strip()
    units: int | None = 1
    if units_text:
        units = _parse_int(units_text, 1, _MAX_INT)
        if units is None:
            add(sheet, rownum, "units", f"must be a whole number ≥ 1, got {_shown(units_text)}")

    if problems.total != before or system is None or seq is None or units is None:
        return None
    return CodeLine(system=system, seq=seq, code=code, poa=poa, modifiers=modifiers, units=units)


def _read_codes(
    table: _Table,
    pending: dict[str, _Pending],
    seen: dict[str, int] | None,
    problems: _Problems,
    limits: WorkbookLimits,
) -> int:
    """Adds valid code rows to their pending encounters; returns the number of code rows.
    `seen` (every encounter id of the encounters sheet) is None when that sheet could
    not be read, which turns off the unknown-id check."""
    sheet = table.sheet
    missing = table.missing
    positions, width = _padding(table, CODE_COLUMNS)
    header_width = table.width
    i_eid, i_ver, i_sys, i_seq, i_code, i_poa, i_mods, i_units = positions
    checked = [(name, table.columns[name]) for name in CODE_COLUMNS if name in table.columns]
    max_lines = limits.max_lines_per_version
    crowded: set[tuple[str, int]] = set()
    # Identical raw line fields make the identical line: each combination is checked once.
    cache: dict[str, tuple[CodeLine, int]] = {}
    memo = _Memo()
    versions: dict[str, int] = {}
    last_eid: str | None = None
    target: _Pending | None = None
    count = 0
    for rownum, cells in table.rows:
        if len(cells) > header_width:  # cells past the header's columns are not read
            del cells[header_width:]
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        eid = cells[i_eid].strip()
        if not eid and not "".join(cells).strip():
            continue
        count += 1
        if count > limits.max_code_rows:
            _too_many_rows(sheet, rownum, limits.max_code_rows, "code", problems)
            break
        if not _check_cells(sheet, rownum, cells, checked, problems):
            continue
        raw = (
            cells[i_sys],
            cells[i_seq],
            cells[i_code],
            cells[i_poa],
            cells[i_mods],
            cells[i_units],
        )
        # One string hashes much faster than a tuple of six. NUL cannot collide: a field
        # holding one is never valid, so it never reaches the cache.
        key = "\0".join(raw)
        hit = cache.get(key)
        if hit is None:
            line = _make_line(sheet, rownum, raw, missing, problems, memo)
            if line is not None:
                hit = cache[key] = (line, _SYSTEM_ORDER[line.system] << 32 | line.seq)

        raw_version = cells[i_ver]
        if raw_version == "original":
            version: int | None = 0
        elif raw_version == "audited":
            version = 1
        else:
            version = versions.get(raw_version)
        if version is None:
            version = _VERSIONS.get(raw_version.strip().lower())
            if version is not None:
                versions[raw_version] = version
            elif raw_version.strip():
                shown = _shown(raw_version.strip())
                problems.add(sheet, rownum, "version", f"must be original or audited, got {shown}")
            elif "version" not in missing:
                problems.add(sheet, rownum, "version", "is required")

        if eid != last_eid:  # a file usually lists an encounter's rows together
            last_eid = eid
            target = pending.get(eid)
        if target is None:
            if not eid:
                if "encounter_id" not in missing:
                    problems.add(sheet, rownum, "encounter_id", "is required")
            elif seen is not None and eid not in seen:
                problems.add(
                    sheet,
                    rownum,
                    "encounter_id",
                    f"unknown encounter_id {_shown(eid)}: it is not in the encounters sheet",
                )
        elif hit is not None and version is not None:
            hits = target.hits[version]
            if len(hits) >= max_lines:
                if (eid, version) not in crowded:
                    crowded.add((eid, version))
                    problems.add(
                        sheet,
                        rownum,
                        None,
                        f"{_shown(eid)} has more than {max_lines} "
                        f"{('original', 'audited')[version]} code lines; at most "
                        f"{max_lines} are accepted per version of one encounter",
                    )
                continue
            hits.append(hit)
            target.rows[version].append(rownum)
    return count


def _ordered(
    sheet: str, eid: str, version: int, target: _Pending, problems: _Problems
) -> tuple[CodeLine, ...]:
    """The lines of one version sorted by (group, seq); reports duplicate seqs."""
    hits, rows = target.hits[version], target.rows[version]
    keys = [key for _, key in hits]
    ordered = sorted(keys)
    if keys == ordered and len(set(keys)) == len(keys):
        return tuple([line for line, _ in hits])
    order = sorted(range(len(keys)), key=lambda i: (keys[i], rows[i]))
    for prev, cur in pairwise(order):
        if keys[prev] == keys[cur]:
            line = hits[cur][0]
            problems.add(
                sheet,
                rows[cur],
                "seq",
                f"duplicate seq {line.seq} for {eid} {('original', 'audited')[version]} "
                f"{line.group}: rows {rows[prev]} and {rows[cur]}",
            )
    return tuple([hits[i][0] for i in order])


def _encounter(
    fields: dict[str, Any], original: tuple[CodeLine, ...], audited: tuple[CodeLine, ...]
) -> Encounter:
    """The encounter of one row; with original lines and no audited line it is not yet
    reviewed (DESIGN §9): its audited version is the original, disposition included."""
    if original and not audited:
        return Encounter(
            **{**fields, "audited_disposition": fields["discharge_disposition"]},
            original=original,
            audited=original,
            reviewed=False,
        )
    return Encounter(**fields, original=original, audited=audited)


# --------------------------------------------------------------------------- reading


def _fail(problems: _Problems, sheet: str, message: str) -> WorkbookError:
    problems.add(sheet, None, None, message)
    return problems.error()


def _folder_sources(path: Path, label: str, problems: _Problems) -> list[_Source | None]:
    try:
        files = {child.name.lower(): child for child in path.iterdir() if child.is_file()}
    except OSError as exc:
        raise _fail(problems, label, f"cannot be read: {exc.strerror or exc}") from None
    found = [files.get(f"{sheet}.csv") for sheet in _SHEETS]
    if found == [None, None]:
        raise _fail(
            problems,
            label,
            "wrong file type: a workbook folder must hold encounters.csv and codes.csv",
        )
    sources: list[_Source | None] = []
    for sheet, file in zip(_SHEETS, found, strict=True):
        if file is None:
            problems.add(f"{sheet}.csv", None, None, f"file is missing from folder {label}")
            sources.append(None)
        else:
            sources.append(_Source(file.name, _csv_rows(file, file.name, problems), typed=False))
    return sources


def _xlsx_sources(
    path: Path, label: str, problems: _Problems, limits: WorkbookLimits
) -> list[_Source | None]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with path.open("rb") as handle:
            magic = handle.read(2)
    except OSError as exc:
        raise _fail(problems, label, f"cannot be read: {exc.strerror or exc}") from None
    if magic != b"PK":  # not even the start of a zip archive: not a damaged workbook
        raise _fail(problems, label, "wrong file type: not a readable .xlsx workbook")
    try:  # every part unpacked and counted before calamine inflates anything in memory
        check_zip(path, limits.zip)
    except ZipRefused as exc:
        raise _fail(problems, label, exc.message) from None
    sources: list[_Source | None] = []
    try:
        book = CalamineWorkbook.from_path(str(path))
        by_name = {name.strip().lower(): name for name in book.sheet_names}
        for sheet in _SHEETS:
            name = by_name.get(sheet)
            if name is None:
                listed = ", ".join(book.sheet_names) or "none"
                problems.add(sheet, None, None, f"sheet is missing (the workbook has: {listed})")
                sources.append(None)
            else:
                rows = book.get_sheet_by_name(name).iter_rows()
                sources.append(_Source(name, _xlsx_rows(rows), typed=True))
    except (CalamineError, OSError, ValueError) as exc:
        raise _fail(
            problems, label, f"wrong file type: not a readable .xlsx workbook ({exc})"
        ) from None
    return sources


def _sources(path: Path, problems: _Problems, limits: WorkbookLimits) -> list[_Source | None]:
    """The encounters and codes sources, None where missing (a problem is recorded).
    Raises WorkbookError when the path is not a workbook at all."""
    label = path.name or str(path)
    if not path.exists():
        raise _fail(problems, label, "no such file or folder")
    if path.is_dir():
        return _folder_sources(path, label, problems)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raise _fail(
            problems,
            label,
            "wrong file type: give the folder that holds encounters.csv and codes.csv, "
            "not a single CSV file",
        )
    if suffix != ".xlsx":
        raise _fail(
            problems,
            label,
            "wrong file type: expected an .xlsx workbook or a folder with encounters.csv "
            "and codes.csv",
        )
    return _xlsx_sources(path, label, problems, limits)


def read_workbook(path: Path, *, limits: WorkbookLimits | None = None) -> Workbook:
    """Reads and validates an audit workbook (DESIGN §9) within `limits` (the defaults when
    None); raises WorkbookError listing every problem when anything is wrong."""
    # Millions of small long-lived objects: the cyclic collector would only re-walk them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(Path(path), limits or WorkbookLimits())
    finally:
        if enabled:
            gc.enable()


def read_tables(
    encounters: Iterable[tuple[int, list[str]]],
    codes: Iterable[tuple[int, list[str]]],
    *,
    source: str,
    sheets: tuple[str, str] = ("encounters", "codes"),
    limits: WorkbookLimits | None = None,
) -> Workbook:
    """Validates two §9 tables given as text rows, exactly as `read_workbook` validates a
    workbook's sheets: the entry of every other intake (X12, FHIR, mapped spreadsheets) so
    that all formats meet one set of rules. Each table's first non-blank row is its header
    (§9 column names); each row is (its number for problems, its cells). `sheets` names the
    two tables in problems; `source` names the workbook."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        problems = _Problems()
        enc_source = _Source(sheets[0], iter(encounters), typed=False)
        code_source = _Source(sheets[1], iter(codes), typed=False)
        return _read_sources(enc_source, code_source, problems, limits or WorkbookLimits(), source)
    finally:
        if enabled:
            gc.enable()


def _read(path: Path, limits: WorkbookLimits) -> Workbook:
    problems = _Problems()
    enc_source, code_source = _sources(path, problems, limits)
    return _read_sources(enc_source, code_source, problems, limits, path.name)


def _read_sources(
    enc_source: _Source | None,
    code_source: _Source | None,
    problems: _Problems,
    limits: WorkbookLimits,
    source: str,
) -> Workbook:
    pending: dict[str, _Pending] = {}
    seen: dict[str, int] | None = None
    if enc_source is not None:
        table = _open_table(enc_source, ENCOUNTER_COLUMNS, _ENCOUNTER_REQUIRED, problems)
        if table is not None:
            pending, seen = _read_encounters(table, problems, limits)
            if "encounter_id" in table.missing:
                seen = None

    code_rows = 0
    code_sheet = "codes"
    if code_source is not None:
        code_sheet = code_source.sheet
        table = _open_table(code_source, CODE_COLUMNS, _CODE_REQUIRED, problems)
        if table is not None:
            code_rows = _read_codes(table, pending, seen, problems, limits)

    encounters = []
    for eid, target in pending.items():
        original = _ordered(code_sheet, eid, 0, target, problems)
        audited = _ordered(code_sheet, eid, 1, target, problems)
        encounters.append(_encounter(target.fields, original, audited))
    if not problems.total and not encounters and enc_source is not None:
        problems.add(
            enc_source.sheet, None, None, "has no encounters: the workbook holds nothing to audit"
        )
    if problems.total:
        raise problems.error()
    return Workbook(encounters=tuple(encounters), source=source, code_rows=code_rows)


# --------------------------------------------------------------------------- writing


_XLSX_ESCAPE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f]")


def xlsx_escape(text: str) -> str:
    """`text` as an xlsx string cell must hold it to read back unchanged: an `_` that starts
    an `_xHHHH_` sequence, and control characters, written as the format's own escapes."""
    return _XLSX_ESCAPE.sub(
        lambda m: "_x005F_" if m.group() == "_" else f"_x{ord(m.group()):04X}_", text
    )


_XLSX_ERROR_CODES = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})


def _encounter_row(e: Encounter) -> list[Any]:
    return [
        e.encounter_id,
        e.setting,
        e.discharge_date,
        e.age,
        e.sex or "",
        e.discharge_disposition or "",
        (e.audited_disposition or "") if e.reviewed else "",
        e.billed_drg or "",
        e.facility,
        e.service_line,
        e.provider,
        e.payer,
        e.coder,
        e.auditor,
        e.audit_cycle,
    ]


def _code_rows(e: Encounter) -> Iterator[list[Any]]:
    # A not-yet-reviewed encounter is written as it arrived, original lines only, so that
    # reading the workbook back gives it again (DESIGN §9).
    versions = (("original", e.original), ("audited", e.audited))
    for version, lines in versions if e.reviewed else versions[:1]:
        for line in lines:
            yield [
                e.encounter_id,
                version,
                line.system,
                line.seq,
                line.code,
                line.poa,
                format_modifiers(line.modifiers),
                line.units,
            ]


def write_workbook_csv(encounters: Iterable[Encounter], folder: Path) -> None:
    """Writes `encounters.csv` and `codes.csv` (UTF-8) into `folder`, creating it; codes
    in their normalized form (no dots)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (
        (folder / "encounters.csv").open("w", encoding="utf-8", newline="") as enc_file,
        (folder / "codes.csv").open("w", encoding="utf-8", newline="") as code_file,
    ):
        enc_writer = csv.writer(enc_file)
        code_writer = csv.writer(code_file)
        enc_writer.writerow(ENCOUNTER_COLUMNS)
        code_writer.writerow(CODE_COLUMNS)
        for e in encounters:
            row = _encounter_row(e)
            row[2] = e.discharge_date.isoformat()
            enc_writer.writerow(row)  # None (a blank age) is written as ""
            code_writer.writerows(_code_rows(e))


def write_workbook_xlsx(encounters: Iterable[Encounter], path: Path) -> None:
    """Writes an `.xlsx` with sheets `encounters` and `codes` (openpyxl, write-only): dates
    as date cells, integers as numbers, everything else as text cells."""
    from openpyxl import Workbook as XlsxBook
    from openpyxl.cell import WriteOnlyCell

    book = XlsxBook(write_only=True)
    enc_sheet = book.create_sheet("encounters")
    code_sheet = book.create_sheet("codes")

    def cell(value: Any) -> Any:
        # Text that openpyxl would take for a formula or an error, or that the xlsx format
        # would alter (control characters, "_x0041_"-style escapes), goes in an explicit
        # text cell with the format's own escapes. Blank text is no cell at all.
        if value == "":
            return None
        if type(value) is not str or (
            value[:1] not in ("=", "#") and "_x" not in value and value.isprintable()
        ):
            return value
        escaped = xlsx_escape(value)
        if escaped == value and value[:1] != "=" and value not in _XLSX_ERROR_CODES:
            return value
        text = WriteOnlyCell(enc_sheet, value=escaped)
        text.data_type = "s"
        return text

    enc_sheet.append(ENCOUNTER_COLUMNS)
    code_sheet.append(CODE_COLUMNS)
    for e in encounters:
        enc_sheet.append([cell(v) for v in _encounter_row(e)])
        for row in _code_rows(e):
            code_sheet.append([cell(v) for v in row])
    book.save(str(path))
