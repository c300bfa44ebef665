"""What every intake shares: the limits, format detection, reading a file within its size
cap, and the two §9 tables a reader fills and hands to `engine.workbook.read_tables`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from auditcoach.engine.workbook import (
    CODE_COLUMNS,
    ENCOUNTER_COLUMNS,
    MAX_LISTED,
    Problem,
    Workbook,
    WorkbookError,
    WorkbookLimits,
    read_tables,
    read_workbook,
)

Format = Literal["workbook", "x12", "fhir"]
FORMATS: Final[tuple[Format, ...]] = ("workbook", "x12", "fhir")

X12_SUFFIXES: Final = frozenset({".x12", ".837", ".txt", ".edi"})
FHIR_SUFFIXES: Final = frozenset({".json", ".ndjson"})
WORKBOOK_SUFFIXES: Final = frozenset({".xlsx", ".zip"})


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """How much one claims file may hold: its size in bytes (counted while reading, not
    taken from the file system's word), the longest X12 segment and element, the longest
    FHIR text value, and the §9 limits the tables are then held to."""

    max_bytes: int = 200 * 2**20
    max_segment_chars: int = 10_000
    max_element_chars: int = 256
    max_segments: int = 50_000_000
    workbook: WorkbookLimits = field(default_factory=WorkbookLimits)


def detect_format(path: Path) -> Format | None:
    """The format of `path` from its name and first bytes: a folder or `.xlsx`/`.zip` is a
    workbook; a file starting with "ISA" (after blanks and a BOM) is X12 whatever its name;
    `.x12`/`.837`/`.txt`/`.edi` is X12; `.json`/`.ndjson` is FHIR; None otherwise."""
    if path.is_dir():
        return "workbook"
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return "workbook"
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError:
        head = b""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"ISA"):
        return "x12"
    if suffix in X12_SUFFIXES:
        return "x12"
    if suffix in FHIR_SUFFIXES or text.startswith((b"{", b"[")):
        return "fhir"
    return None


def read_capped(path: Path, label: str, limit: int) -> bytes:
    """The bytes of `path`, at most `limit` of them counted as read; WorkbookError otherwise."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise single(label, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise single(
            label,
            f"is larger than {limit / 2**20:,.0f} MB, the most that can be read; split the "
            "claims into smaller files",
        )
    return data


def single(
    label: str, message: str, row: int | None = None, column: str | None = None
) -> WorkbookError:
    return WorkbookError([Problem(label, row, column, message)])


class Collector:
    """Problems found by a reader, kept in the order they were found (first MAX_LISTED)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.kept: list[Problem] = []
        self.total = 0
        self._seen: set[tuple[int | None, str | None, str]] = set()

    def add(self, row: int | None, column: str | None, message: str) -> None:
        key = (row, column, message)
        if key in self._seen:  # the same segment read for two claims (a shared DMG, ...)
            return
        self._seen.add(key)
        self.total += 1
        if len(self.kept) < MAX_LISTED:
            self.kept.append(Problem(self.label, row, column, message))

    def error(self) -> WorkbookError:
        kept = sorted(self.kept, key=lambda p: p.row or 0)
        return WorkbookError(kept, self.total)


Where = tuple[int | None, str, str]
"""Where a cell came from: (the line or row of the source, its element or field name, the
place named in words, e.g. "segment 21 (CLM)" or "Claim c-1") for a problem."""


ENCOUNTERS, CODES = "encounters", "codes"

_HCPCS_SHAPE: Final = re.compile(r"[A-Z][0-9]{4}")


def line_system(code: str) -> str:
    """A service line's system (DESIGN §14): HCPCS when its code is a letter and four
    digits (dots, spaces and case aside), else CPT."""
    return "HCPCS" if _HCPCS_SHAPE.fullmatch(code.strip().replace(".", "").upper()) else "CPT"


class Tables:
    """The §9 encounters and codes rows a reader builds (original lines only), each row
    numbered by where it came from in the source, and where each cell came from, so a
    problem `read_tables` finds is reported at its segment and element."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.encounters: list[tuple[int, list[str]]] = [(0, list(ENCOUNTER_COLUMNS))]
        self.codes: list[tuple[int, list[str]]] = [(0, list(CODE_COLUMNS))]
        # (table, row, column) → where the cell came from; the two tables number their rows
        # independently (an X12 code row by its HI/SV segment), so the table is in the key.
        self.where: dict[tuple[str, int, str], Where] = {}
        self.ids: dict[str, str] = {}  # encounter id → where it was first read, in words

    def encounter(self, row: int, values: dict[str, str], where: dict[str, Where]) -> None:
        self.encounters.append((row, [values.get(name, "") for name in ENCOUNTER_COLUMNS]))
        for name, place in where.items():
            self.where[(ENCOUNTERS, row, name)] = place

    def code(
        self,
        row: int,
        *,
        encounter_id: str,
        system: str,
        seq: int,
        code: str,
        poa: str = "",
        modifiers: list[str] | tuple[str, ...] = (),
        units: str = "",
        where: dict[str, Where] | None = None,
    ) -> None:
        cells = [encounter_id, "original", system, str(seq), code, poa, ";".join(modifiers), units]
        self.codes.append((row, cells))
        for name, place in (where or {}).items():
            self.where[(CODES, row, name)] = place

    def validate(self, limits: WorkbookLimits) -> Workbook:
        """`read_tables` over the rows; its problems moved to their place in the source."""
        try:
            return read_tables(
                iter(self.encounters),
                iter(self.codes),
                source=self.label,
                sheets=(ENCOUNTERS, CODES),
                limits=limits,
            )
        except WorkbookError as exc:
            moved = []
            for p in exc.problems:
                place = self.where.get((p.sheet, p.row or 0, p.column or ""))
                row_place = self.where.get((p.sheet, p.row or 0, ""))
                if place is not None:
                    line, column, context = place
                    moved.append(Problem(self.label, line, column, f"{context}: {p.message}"))
                elif row_place is not None:
                    line, _, context = row_place
                    moved.append(Problem(self.label, line, p.column, f"{context}: {p.message}"))
                elif p.row == 0:
                    moved.append(Problem(self.label, None, None, p.message))
                else:
                    moved.append(Problem(self.label, p.row, p.column, p.message))
            moved.sort(key=lambda p: p.row or 0)
            raise WorkbookError(moved, exc.total) from None


def read_intake(
    path: Path, *, format: Format | None = None, limits: IntakeLimits | None = None
) -> Workbook:
    """Reads a workbook, an 837 or a FHIR file (detected when `format` is None) into a
    validated Workbook of original lines; WorkbookError lists every problem otherwise."""
    path = Path(path)
    limits = limits or IntakeLimits()
    label = path.name or str(path)
    if not path.exists():
        raise single(label, "no such file or folder")
    fmt = format or detect_format(path)
    if fmt == "workbook":
        return read_workbook(path, limits=limits.workbook)
    if fmt == "x12":
        from auditcoach.intake.x12 import read_x12

        return read_x12(path, limits=limits)
    if fmt == "fhir":
        from auditcoach.intake.fhir import read_fhir

        return read_fhir(path, limits=limits)
    raise single(
        label,
        "wrong file type: expected an audit workbook (.xlsx, a CSV folder or .zip), an X12 "
        "837 file (.x12, .837, .edi, .txt) or FHIR Claims (.json, .ndjson)",
    )
