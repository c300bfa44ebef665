"""Reading, validating and writing audit workbooks (DESIGN §9)."""

from __future__ import annotations

import csv
import string
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook as XlsxBook

from auditcoach.engine.model import GROUPS, SYSTEM_GROUP, SYSTEMS, CodeLine, Encounter
from auditcoach.engine.workbook import (
    CODE_COLUMNS,
    COLUMN_MAX_LENGTHS,
    ENCOUNTER_COLUMNS,
    MAX_LISTED,
    Problem,
    Workbook,
    WorkbookError,
    WorkbookLimits,
    read_workbook,
    write_workbook_csv,
    write_workbook_xlsx,
)

WORKED = Path("/work/shared/examples/worked")

# --------------------------------------------------------------------------- helpers

Row = dict[str, str]

BASE_ENCOUNTERS: list[Row] = [
    {
        "encounter_id": "E1",
        "setting": "inpatient",
        "discharge_date": "2026-05-14",
        "age": "74",
        "sex": "F",
        "discharge_disposition": "01",
        "audited_disposition": "",
        "billed_drg": "291",
    },
    {
        "encounter_id": "E2",
        "setting": "profee",
        "discharge_date": "2026-06-10",
        "age": "",
        "sex": "",
        "discharge_disposition": "",
        "audited_disposition": "",
        "billed_drg": "",
    },
]
BASE_CODES: list[Row] = [
    {"encounter_id": "E1", "version": "original", "system": "ICD10CM", "seq": "1",
     "code": "I50.9", "poa": "Y", "modifiers": "", "units": ""},
    {"encounter_id": "E1", "version": "audited", "system": "ICD10CM", "seq": "1",
     "code": "I50.23", "poa": "Y", "modifiers": "", "units": ""},
    {"encounter_id": "E2", "version": "original", "system": "CPT", "seq": "1",
     "code": "99215", "poa": "", "modifiers": "25", "units": "1"},
    {"encounter_id": "E2", "version": "audited", "system": "CPT", "seq": "1",
     "code": "99213", "poa": "", "modifiers": "25", "units": "1"},
]  # fmt: skip


def write_csv(path: Path, rows: list[Row], columns: list[str] | None = None) -> None:
    columns = columns if columns is not None else list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])


def make_folder(
    tmp_path: Path,
    encounters: list[Row] | None = None,
    codes: list[Row] | None = None,
    *,
    encounter_columns: list[str] | None = None,
    code_columns: list[str] | None = None,
) -> Path:
    folder = tmp_path / "audit"
    folder.mkdir()
    write_csv(folder / "encounters.csv", encounters or BASE_ENCOUNTERS, encounter_columns)
    write_csv(folder / "codes.csv", codes or BASE_CODES, code_columns)
    return folder


def edited(rows: list[Row], index: int, **changes: str) -> list[Row]:
    out = [dict(r) for r in rows]
    out[index].update(changes)
    return out


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    return caught.value.problems


def where(path: Path) -> list[tuple[str, int | None, str | None]]:
    return [(p.sheet, p.row, p.column) for p in problems_of(path)]


def encounter(eid: str, wb: Workbook) -> Encounter:
    return next(e for e in wb.encounters if e.encounter_id == eid)


# --------------------------------------------------------------------------- worked example


def test_worked_example_reads() -> None:
    wb = read_workbook(WORKED)
    assert [e.encounter_id for e in wb.encounters] == ["HF-1", "PNA-2", "EM-3", "OP-4"]
    assert wb.source == "worked"
    assert wb.code_rows == 25

    hf = encounter("HF-1", wb)
    assert hf.setting == "inpatient"
    assert hf.discharge_date == date(2026, 5, 14)
    assert hf.age == 74
    assert hf.sex == "F"
    assert hf.discharge_disposition == "01"
    assert hf.audited_disposition is None
    assert hf.billed_drg is None
    assert (hf.facility, hf.coder, hf.audit_cycle) == ("North", "coder.ana", "2026-Q2")
    assert [(line.system, line.seq, line.code) for line in hf.original] == [
        ("ICD10CM", 1, "I509"),
        ("ICD10CM", 2, "E871"),
        ("ICD10CM", 3, "N184"),
        ("ICD10CM", 4, "Z794"),
    ]
    assert hf.original[3].poa == "1"
    assert hf.audited[-1] == CodeLine(system="ICD10PCS", seq=1, code="0JH606Z")

    pna = encounter("PNA-2", wb)
    assert pna.discharge_disposition == "06"
    assert pna.audited_disposition == "01"
    assert [(line.code, line.poa) for line in pna.audited] == [
        ("J189", "Y"),
        ("E871", "N"),
        ("J9601", "Y"),
    ]

    op = encounter("OP-4", wb)
    injection = next(line for line in op.audited if line.code == "20610")
    assert injection.modifiers == frozenset({"RT"})
    assert injection.units == 1
    assert next(line for line in op.original if line.code == "20610").units == 2
    assert [line.system for line in op.audited] == ["ICD10CM", "CPT", "HCPCS"]

    em = encounter("EM-3", wb)
    assert em.setting == "profee"
    assert em.original[1] == CodeLine("CPT", 1, "99215", "", frozenset({"25"}), 1)


def test_lines_are_sorted_by_group_then_seq(tmp_path: Path) -> None:
    codes = [
        {"encounter_id": "E1", "version": "original", "system": s, "seq": q, "code": c}
        for s, q, c in [
            ("HCPCS", "2", "J1100"),
            ("ICD10PCS", "1", "0JH606Z"),
            ("ICD10CM", "2", "E871"),
            ("CPT", "1", "20610"),
            ("ICD10CM", "1", "I509"),
        ]
    ]
    wb = read_workbook(make_folder(tmp_path, codes=codes))
    assert [(line.group, line.seq) for line in wb.encounters[0].original] == [
        ("DX", 1),
        ("DX", 2),
        ("PX", 1),
        ("LINE", 1),
        ("LINE", 2),
    ]
    assert wb.encounters[1].original == ()
    assert wb.encounters[1].audited == ()


def test_csv_round_trip_of_worked_example(tmp_path: Path) -> None:
    wb = read_workbook(WORKED)
    write_workbook_csv(wb.encounters, tmp_path / "out")
    again = read_workbook(tmp_path / "out")
    assert again.encounters == wb.encounters
    assert again.code_rows == wb.code_rows


def test_xlsx_written_by_writer_reads_identically(tmp_path: Path) -> None:
    wb = read_workbook(WORKED)
    write_workbook_xlsx(wb.encounters, tmp_path / "worked.xlsx")
    again = read_workbook(tmp_path / "worked.xlsx")
    assert again.encounters == wb.encounters
    assert again.source == "worked.xlsx"
    assert again.code_rows == 25


def _typed(value: str) -> object:
    """A CSV value as a person would type it into Excel: numbers become numbers."""
    if value.isdigit():
        return int(value)
    return value or None


def test_hand_made_xlsx_with_typed_cells_reads_identically(tmp_path: Path) -> None:
    """Sheet names and headers in another case, dates as date cells, dispositions and
    numbers as numeric cells (Excel drops the leading zero of 01), an unknown column."""
    book = XlsxBook()
    book.remove(book.active)
    enc = book.create_sheet("Encounters")
    codes = book.create_sheet("CODES")
    with (WORKED / "encounters.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    enc.append([f"  {name.upper()} " for name in rows[0]] + ["Notes"])
    for row in rows[1:]:
        cells = [_typed(v) for v in row]
        y, m, d = (int(x) for x in row[2].split("-"))
        cells[2] = date(y, m, d) if row[0] != "PNA-2" else datetime(y, m, d, 14, 30)
        enc.append([*cells, "free text"])
    with (WORKED / "codes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    codes.append(rows[0])
    for row in rows[1:]:
        codes.append([_typed(v) for v in row])
    path = tmp_path / "hand.XLSX"
    book.save(path)

    got = read_workbook(path)
    assert got.encounters == read_workbook(WORKED).encounters
    assert encounter("PNA-2", got).audited_disposition == "01"
    assert encounter("HF-1", got).discharge_disposition == "01"


def test_xlsx_numeric_cells_read_as_meant(tmp_path: Path) -> None:
    book = XlsxBook()
    book.remove(book.active)
    enc = book.create_sheet("encounters")
    enc.append(["encounter_id", "setting", "discharge_date", "billed_drg", "age"])
    enc.append([1001, "Inpatient", "2026-05-14", 65, 74.0])
    codes = book.create_sheet("codes")
    codes.append(["encounter_id", "version", "system", "seq", "code", "poa", "units"])
    codes.append([1001, "original", "CPT", 1.0, 100, None, 2.0])  # anesthesia CPT 00100
    codes.append([1001, "original", "ICD10PCS", 1, 16070, None, None])  # PCS 0016070
    codes.append([1001, "original", "ICD10CM", 1, "I50.9", 1, None])  # POA typed as 1
    book.save(tmp_path / "n.xlsx")
    (e,) = read_workbook(tmp_path / "n.xlsx").encounters
    assert e.encounter_id == "1001"
    assert e.setting == "inpatient"
    assert e.billed_drg == "065"
    assert e.age == 74
    assert [(line.code, line.poa, line.units) for line in e.original] == [
        ("I509", "1", 1),
        ("0016070", "", 1),
        ("00100", "", 2),
    ]


def test_xlsx_fractional_seq_is_an_error(tmp_path: Path) -> None:
    book = XlsxBook()
    book.remove(book.active)
    book.create_sheet("encounters").append(["encounter_id", "setting", "discharge_date"])
    book["encounters"].append(["E1", "profee", date(2026, 5, 14)])
    book.create_sheet("codes").append(["encounter_id", "version", "system", "seq", "code"])
    book["codes"].append(["E1", "original", "CPT", 1.5, "99213"])
    book["codes"].append(["E1", "original", "CPT", 2.0, "99214"])
    book.save(tmp_path / "f.xlsx")
    (problem,) = problems_of(tmp_path / "f.xlsx")
    assert (problem.sheet, problem.row, problem.column) == ("codes", 2, "seq")
    assert problem.message == 'must be a whole number ≥ 1, got "1.5"'


def test_csv_with_bom_blank_rows_unknown_columns_and_loose_headers(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / "ENCOUNTERS.csv").write_text(
        "\ufeff Encounter_ID ,SETTING,Discharge_Date,extra\n"
        "E1, Outpatient ,2026-05-14,x\n"
        ",,,\n"
        "\n"
        "E2,PROFEE,2026-06-01,y\n",
        encoding="utf-8",
    )
    (folder / "codes.csv").write_text(
        "\ufeffencounter_id,version,system,seq,code,comment\n"
        "E1,Original,icd10cm,1, i50.9 ,hello\n"
        "\n"
        "E2,AUDITED,cpt,1,99213,\n",
        encoding="utf-8",
    )
    wb = read_workbook(folder)
    assert [(e.encounter_id, e.setting) for e in wb.encounters] == [
        ("E1", "outpatient"),
        ("E2", "profee"),
    ]
    assert wb.code_rows == 2
    assert wb.encounters[0].original == (CodeLine("ICD10CM", 1, "I509"),)
    assert wb.encounters[1].audited == (CodeLine("CPT", 1, "99213"),)
    assert wb.encounters[0].age is None
    assert wb.encounters[0].sex is None
    assert wb.encounters[0].facility == ""


def test_normalization_of_codes_poa_modifiers(tmp_path: Path) -> None:
    codes = edited(BASE_CODES, 2, code=" 99 215 ", modifiers=" rt; 25 ;;", units="")
    codes = edited(codes, 0, poa=" y ", code="i50.9")
    wb = read_workbook(make_folder(tmp_path, codes=codes))
    e1, e2 = wb.encounters
    assert e1.original == (CodeLine("ICD10CM", 1, "I509", "Y"),)
    assert e2.original == (CodeLine("CPT", 1, "99215", "", frozenset({"RT", "25"}), 1),)


def test_same_seq_in_different_groups_is_fine(tmp_path: Path) -> None:
    codes = [
        *BASE_CODES,
        {"encounter_id": "E1", "version": "original", "system": "ICD10PCS", "seq": "1",
         "code": "0JH606Z"},
        {"encounter_id": "E1", "version": "audited", "system": "CPT", "seq": "1",
         "code": "20610"},
    ]  # fmt: skip
    wb = read_workbook(make_folder(tmp_path, codes=codes))
    assert len(wb.encounters[0].original) == 2


# --------------------------------------------------------------------------- bad values

ENC = "encounters.csv"
COD = "codes.csv"

BAD_ENCOUNTER_VALUES = [
    ("encounter_id", "", "is required"),
    ("setting", "", "is required"),
    ("setting", "emergency", 'must be inpatient, outpatient or profee, got "emergency"'),
    ("discharge_date", "", "is required"),
    ("discharge_date", "05/14/2026", 'must be a date written YYYY-MM-DD, got "05/14/2026"'),
    ("discharge_date", "2026-02-30", 'must be a date written YYYY-MM-DD, got "2026-02-30"'),
    ("discharge_date", "20260514", 'must be a date written YYYY-MM-DD, got "20260514"'),
    ("age", "-1", 'must be a whole number from 0 to 124, got "-1"'),
    ("age", "125", 'must be a whole number from 0 to 124, got "125"'),
    ("age", "74.5", 'must be a whole number from 0 to 124, got "74.5"'),
    ("age", "old", 'must be a whole number from 0 to 124, got "old"'),
    ("sex", "X", 'must be M, F or U, got "X"'),
    ("discharge_disposition", "1", 'must be 2 digits (e.g. 01), got "1"'),
    ("discharge_disposition", "001", 'must be 2 digits (e.g. 01), got "001"'),
    ("audited_disposition", "ab", 'must be 2 digits (e.g. 01), got "ab"'),
    ("billed_drg", "1234", 'must be 1 to 3 digits (e.g. 291), got "1234"'),
    ("billed_drg", "29a", 'must be 1 to 3 digits (e.g. 291), got "29a"'),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD_ENCOUNTER_VALUES)
def test_bad_encounter_value(tmp_path: Path, column: str, value: str, message: str) -> None:
    folder = make_folder(tmp_path, encounters=edited(BASE_ENCOUNTERS, 1, **{column: value}))
    found = problems_of(folder)
    if column == "encounter_id":  # E2's code rows now point at an unknown encounter
        assert [(p.sheet, p.row, p.column) for p in found] == [
            (ENC, 3, column),
            (COD, 4, "encounter_id"),
            (COD, 5, "encounter_id"),
        ]
    else:
        assert found == [Problem(ENC, 3, column, message)]


BAD_CODE_VALUES = [
    ("encounter_id", "E9", 'unknown encounter_id "E9": it is not in the encounters sheet'),
    ("encounter_id", "", "is required"),
    ("version", "final", 'must be original or audited, got "final"'),
    ("version", "", "is required"),
    ("system", "ICD9CM", 'must be ICD10CM, ICD10PCS, CPT or HCPCS, got "ICD9CM"'),
    ("system", "", "is required"),
    ("seq", "0", 'must be a whole number ≥ 1, got "0"'),
    ("seq", "1.5", 'must be a whole number ≥ 1, got "1.5"'),
    ("seq", "first", 'must be a whole number ≥ 1, got "first"'),
    ("seq", "", "is required"),
    ("code", "", "is required"),
    ("code", " . ", "is required"),
    ("code", "992-15", 'must be letters and digits only, got "992-15"'),
    ("code", "9921É", 'must be letters and digits only, got "9921É"'),
    ("poa", "X", 'must be Y, N, U, W, 1 or empty, got "X"'),
    ("poa", "yes", 'must be Y, N, U, W, 1 or empty, got "yes"'),
    ("modifiers", "25;59;RT;LT;76", 'at most four modifiers, got 5: "25;59;RT;LT;76"'),
    (
        "modifiers",
        "25,RT",
        'each modifier must be 2 letters or digits, separated by ; got "25,RT"',
    ),
    ("modifiers", "R", 'each modifier must be 2 letters or digits, separated by ; got "R"'),
    ("units", "0", 'must be a whole number ≥ 1, got "0"'),
    ("units", "-2", 'must be a whole number ≥ 1, got "-2"'),
    ("units", "1.5", 'must be a whole number ≥ 1, got "1.5"'),
    ("units", "99999999999", 'must be a whole number ≥ 1, got "99999999999"'),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD_CODE_VALUES)
def test_bad_code_value(tmp_path: Path, column: str, value: str, message: str) -> None:
    folder = make_folder(tmp_path, codes=edited(BASE_CODES, 2, **{column: value}))
    assert problems_of(folder) == [Problem(COD, 4, column, message)]


def test_case_insensitive_values_are_accepted(tmp_path: Path) -> None:
    encounters = edited(BASE_ENCOUNTERS, 0, setting="INPATIENT", sex="f")
    codes = edited(BASE_CODES, 2, version="Original", system="cpt", poa="")
    wb = read_workbook(make_folder(tmp_path, encounters, codes))
    assert wb.encounters[0].setting == "inpatient"
    assert wb.encounters[0].sex == "F"
    assert wb.encounters[1].original[0].system == "CPT"


def test_billed_drg_is_zero_padded(tmp_path: Path) -> None:
    wb = read_workbook(make_folder(tmp_path, edited(BASE_ENCOUNTERS, 0, billed_drg="65")))
    assert wb.encounters[0].billed_drg == "065"


def test_duplicate_encounter_id(tmp_path: Path) -> None:
    encounters = [*BASE_ENCOUNTERS, dict(BASE_ENCOUNTERS[0])]
    found = problems_of(make_folder(tmp_path, encounters))
    assert found == [
        Problem(ENC, 4, "encounter_id", 'duplicate encounter_id "E1" (first on row 2)')
    ]


def test_duplicate_seq_within_encounter_version_and_group(tmp_path: Path) -> None:
    codes = [
        *BASE_CODES,
        {"encounter_id": "E1", "version": "original", "system": "ICD10CM", "seq": "1",
         "code": "E87.1"},
        # CPT and HCPCS share the LINE group
        {"encounter_id": "E2", "version": "audited", "system": "HCPCS", "seq": "1",
         "code": "J1100"},
    ]  # fmt: skip
    found = problems_of(make_folder(tmp_path, codes=codes))
    assert found == [
        Problem(COD, 6, "seq", "duplicate seq 1 for E1 original DX: rows 2 and 6"),
        Problem(COD, 7, "seq", "duplicate seq 1 for E2 audited LINE: rows 5 and 7"),
    ]


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("missing", ["encounter_id", "setting", "discharge_date"])
def test_missing_required_encounter_column(tmp_path: Path, missing: str) -> None:
    columns = [c for c in BASE_ENCOUNTERS[0] if c != missing]
    folder = make_folder(tmp_path, encounter_columns=columns)
    # reported once, on the header; no cascade of blanks or unknown ids
    assert problems_of(folder) == [Problem(ENC, 1, missing, "required column is missing")]


@pytest.mark.parametrize("missing", ["encounter_id", "version", "system", "seq", "code"])
def test_missing_required_code_column(tmp_path: Path, missing: str) -> None:
    columns = [c for c in BASE_CODES[0] if c != missing]
    folder = make_folder(tmp_path, code_columns=columns)
    assert problems_of(folder) == [Problem(COD, 1, missing, "required column is missing")]


def test_optional_code_columns_may_be_absent(tmp_path: Path) -> None:
    columns = ["encounter_id", "version", "system", "seq", "code"]
    wb = read_workbook(make_folder(tmp_path, code_columns=columns))
    assert wb.encounters[1].original == (CodeLine("CPT", 1, "99215"),)


def test_repeated_column(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, code_columns=[*CODE_COLUMNS, "Code"])
    assert where(folder) == [(COD, 1, "code")]


def test_header_after_blank_rows_keeps_true_row_numbers(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    text = (folder / "codes.csv").read_text(encoding="utf-8")
    (folder / "codes.csv").write_text("\n\n" + text.replace("99215", "99-215"), "utf-8")
    assert where(folder) == [(COD, 6, "code")]


def test_path_does_not_exist(tmp_path: Path) -> None:
    found = problems_of(tmp_path / "nope.xlsx")
    assert found == [Problem("nope.xlsx", None, None, "no such file or folder")]


@pytest.mark.parametrize("name", ["audit.txt", "audit.pdf", "audit", "codes.csv"])
def test_wrong_file_type(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4 not a workbook")
    (problem,) = problems_of(path)
    assert (problem.sheet, problem.row, problem.column) == (name, None, None)
    assert problem.message.startswith("wrong file type")


@pytest.mark.parametrize("content", [b"", b"hello"])
def test_xlsx_that_is_not_a_workbook(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "audit.xlsx"
    path.write_bytes(content)
    (problem,) = problems_of(path)
    assert (problem.sheet, problem.row, problem.column) == ("audit.xlsx", None, None)
    assert problem.message.startswith("wrong file type: not a readable .xlsx workbook")


def test_xlsx_that_starts_as_a_zip_but_is_cut_short_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "audit.xlsx"
    path.write_bytes(b"PK\x03\x04garbage")
    (problem,) = problems_of(path)
    assert (problem.sheet, problem.row, problem.column) == ("audit.xlsx", None, None)
    assert problem.message.startswith("This file is damaged (not a readable zip archive")
    assert problem.message.endswith("save it again and upload the new copy.")


def test_folder_without_the_csvs(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n", encoding="utf-8")
    (problem,) = problems_of(tmp_path)
    assert (problem.sheet, problem.row, problem.column) == (tmp_path.name, None, None)
    assert "encounters.csv and codes.csv" in problem.message


def test_folder_missing_one_csv(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "codes.csv").unlink()
    assert problems_of(folder) == [Problem(COD, None, None, "file is missing from folder audit")]


def test_xlsx_missing_sheet(tmp_path: Path) -> None:
    book = XlsxBook()
    book.active.title = "encounters"
    book.active.append(["encounter_id", "setting", "discharge_date"])
    book.create_sheet("Sheet2")
    book.save(tmp_path / "a.xlsx")
    assert problems_of(tmp_path / "a.xlsx") == [
        Problem("codes", None, None, "sheet is missing (the workbook has: encounters, Sheet2)")
    ]


def test_empty_csv_and_empty_sheet(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "encounters.csv").write_bytes(b"\xef\xbb\xbf")
    assert problems_of(folder) == [Problem(ENC, None, None, "is empty: there is no header row")]

    book = XlsxBook()
    book.active.title = "encounters"
    book.active.append(["encounter_id", "setting", "discharge_date"])
    book.create_sheet("codes")
    book.save(tmp_path / "a.xlsx")
    assert problems_of(tmp_path / "a.xlsx") == [
        Problem("codes", None, None, "is empty: there is no header row")
    ]


def test_csv_not_utf8(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "encounters.csv").write_bytes(
        "encounter_id,setting,discharge_date,facility\nE1,profee,2026-05-14,Sào\n".encode("cp1252")
    )
    assert where(folder) == [(ENC, None, None)]


# --------------------------------------------------------------------------- many problems


def test_every_problem_is_listed(tmp_path: Path) -> None:
    encounters = edited(BASE_ENCOUNTERS, 0, setting="ER", age="200")
    encounters = edited(encounters, 1, discharge_date="yesterday")
    codes = edited(BASE_CODES, 0, units="-2", poa="Q")
    codes = edited(codes, 3, encounter_id="E7", seq="x")
    folder = make_folder(tmp_path, encounters, codes)
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder)
    error = caught.value
    assert [(p.sheet, p.row, p.column) for p in error.problems] == [
        (ENC, 2, "setting"),
        (ENC, 2, "age"),
        (ENC, 3, "discharge_date"),
        (COD, 2, "poa"),
        (COD, 2, "units"),
        (COD, 5, "seq"),
        (COD, 5, "encounter_id"),
    ]
    assert error.total == 7
    lines = str(error).splitlines()
    assert len(lines) == 7
    assert (
        lines[0]
        == 'encounters.csv row 2, column setting: must be inpatient, outpatient or profee, got "ER"'
    )
    assert lines[4] == 'codes.csv row 2, column units: must be a whole number ≥ 1, got "-2"'


def test_problem_str() -> None:
    assert str(Problem("codes.csv", 14, "units", 'must be a whole number ≥ 1, got "-2"')) == (
        'codes.csv row 14, column units: must be a whole number ≥ 1, got "-2"'
    )
    assert str(Problem("codes", None, None, "sheet is missing")) == "codes: sheet is missing"
    assert str(Problem("a.csv", 1, None, "x")) == "a.csv row 1: x"


def test_problems_are_capped(tmp_path: Path) -> None:
    codes = [dict(BASE_CODES[2], seq=str(i), units="0") for i in range(1, 1251)]
    with pytest.raises(WorkbookError) as caught:
        read_workbook(make_folder(tmp_path, codes=codes))
    error = caught.value
    assert len(error.problems) == MAX_LISTED
    assert error.total == 1250
    lines = str(error).splitlines()
    assert len(lines) == MAX_LISTED + 1
    assert lines[0].startswith("codes.csv row 2, column units:")
    assert lines[-1] == "... and 250 more"


# --------------------------------------------------------------------------- round trip

# Any text but surrogates and control characters (which the reader refuses, as it refuses
# dates outside 1990-01-01 .. a year from today).
_TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12).filter(
    lambda s: s == s.strip()
)
_ALNUM = string.ascii_uppercase + string.digits


@st.composite
def _lines(draw: st.DrawFn) -> tuple[CodeLine, ...]:
    lines: list[CodeLine] = []
    for group in GROUPS:
        seqs = sorted(draw(st.sets(st.integers(1, 2_147_483_647), max_size=3)))
        for seq in seqs:
            system = draw(st.sampled_from([s for s in SYSTEMS if SYSTEM_GROUP[s] == group]))
            lines.append(
                CodeLine(
                    system=system,
                    seq=seq,
                    code=draw(st.text(_ALNUM, min_size=1, max_size=8)),
                    poa=draw(st.sampled_from(["", "Y", "N", "U", "W", "1"])),
                    modifiers=draw(
                        st.frozensets(st.text(_ALNUM, min_size=2, max_size=2), max_size=4)
                    ),
                    units=draw(st.integers(1, 2_147_483_647)),
                )
            )
    return tuple(lines)


def _as_read(e: Encounter) -> Encounter:
    """What reading gives back: original lines and no audited line is not yet reviewed,
    its audited version (and disposition) a copy of the original (DESIGN §9)."""
    if e.original and not e.audited:
        return replace(
            e, audited=e.original, audited_disposition=e.discharge_disposition, reviewed=False
        )
    return e


@st.composite
def _encounter(draw: st.DrawFn, eid: str) -> Encounter:
    two_digits = st.none() | st.text(string.digits, min_size=2, max_size=2)
    return _as_read(Encounter(
        encounter_id=eid,
        setting=draw(st.sampled_from(["inpatient", "outpatient", "profee"])),
        discharge_date=draw(st.dates(date(1990, 1, 1), date.today())),
        age=draw(st.none() | st.integers(0, 124)),
        sex=draw(st.none() | st.sampled_from(["M", "F", "U"])),
        discharge_disposition=draw(two_digits),
        audited_disposition=draw(two_digits),
        billed_drg=draw(st.none() | st.text(string.digits, min_size=3, max_size=3)),
        original=draw(_lines()),
        audited=draw(_lines()),
        facility=draw(_TEXT),
        service_line=draw(_TEXT),
        provider=draw(_TEXT),
        payer=draw(_TEXT),
        coder=draw(_TEXT),
        auditor=draw(_TEXT),
        audit_cycle=draw(_TEXT),
    ))  # fmt: skip


@st.composite
def _encounters(draw: st.DrawFn) -> list[Encounter]:
    ids = draw(st.lists(_TEXT.filter(bool), unique=True, min_size=1, max_size=4))
    return [draw(_encounter(eid)) for eid in ids]


Writer = Callable[[list[Encounter], Path], Path]


def _to_csv(encounters: list[Encounter], where: Path) -> Path:
    write_workbook_csv(encounters, where / "wb")
    return where / "wb"


def _to_xlsx(encounters: list[Encounter], where: Path) -> Path:
    write_workbook_xlsx(encounters, where / "wb.xlsx")
    return where / "wb.xlsx"


@pytest.mark.parametrize("writer", [_to_csv, _to_xlsx], ids=["csv", "xlsx"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(encounters=_encounters())
def test_round_trip(
    tmp_path_factory: pytest.TempPathFactory, writer: Writer, encounters: list[Encounter]
) -> None:
    path = writer(encounters, tmp_path_factory.mktemp("rt"))
    wb = read_workbook(path)
    assert list(wb.encounters) == encounters
    assert wb.code_rows == sum(
        len(e.original) + (len(e.audited) if e.reviewed else 0) for e in encounters
    )


def test_columns_are_those_of_design_section_9() -> None:
    assert ENCOUNTER_COLUMNS[:3] == ("encounter_id", "setting", "discharge_date")
    assert len(ENCOUNTER_COLUMNS) == 15
    assert CODE_COLUMNS == (
        "encounter_id", "version", "system", "seq", "code", "poa", "modifiers", "units"
    )  # fmt: skip


# --------------------------------------------------------------------------- database limits

_ALL_ENCOUNTER_COLUMNS = list(ENCOUNTER_COLUMNS)


def _with(field: str, value: str) -> list[Row]:
    return [{**BASE_ENCOUNTERS[0], field: value}, BASE_ENCOUNTERS[1]]


@pytest.mark.parametrize(
    ("column", "limit"),
    [
        # Each limit is the max_length of the model field the column is stored in:
        # Facility/ServiceLine/Provider/Coder.name 200, Encounter.payer 100,
        # Encounter.auditor_name 150, Encounter.cycle 40.
        ("facility", 200),
        ("service_line", 200),
        ("provider", 200),
        ("coder", 200),
        ("payer", 100),
        ("auditor", 150),
        ("audit_cycle", 40),
    ],
)
def test_text_columns_are_held_to_their_database_field(
    tmp_path: Path, column: str, limit: int
) -> None:
    assert COLUMN_MAX_LENGTHS[column] == limit
    (tmp_path / "ok").mkdir()
    at_limit = make_folder(
        tmp_path / "ok", _with(column, "x" * limit), encounter_columns=_ALL_ENCOUNTER_COLUMNS
    )
    wb = read_workbook(at_limit)
    assert getattr(encounter("E1", wb), column) == "x" * limit
    over = make_folder(
        tmp_path, _with(column, "x" * (limit + 1)), encounter_columns=_ALL_ENCOUNTER_COLUMNS
    )
    (problem,) = problems_of(over)
    assert (problem.sheet, problem.row, problem.column) == ("encounters.csv", 2, column)
    assert problem.message.startswith(
        f"is {limit + 1} characters long; at most {limit} are allowed"
    )


def test_encounter_id_is_at_most_64_characters(tmp_path: Path) -> None:
    # 65 characters: refused on the encounter row and on each of its code rows (each cell
    # is too long), never reported as an "unknown" id.
    long_id = "E" * 65
    codes = [
        {**row, "encounter_id": long_id} if row["encounter_id"] == "E1" else row
        for row in BASE_CODES
    ]
    folder = make_folder(tmp_path, _with("encounter_id", long_id), codes)
    found = problems_of(folder)
    e1_rows = [i + 2 for i, row in enumerate(BASE_CODES) if row["encounter_id"] == "E1"]
    assert [(p.sheet, p.row, p.column) for p in found] == [
        ("encounters.csv", 2, "encounter_id"),
        *[("codes.csv", row, "encounter_id") for row in e1_rows],
    ]
    assert all(p.message.startswith("is 65 characters long; at most 64") for p in found)


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\x00", "NUL"),
        ("\t", "tab"),
        ("\n", "line break"),
        ("\x07", "control character U+0007"),
        ("\x7f", "control character U+007F"),
    ],
)
def test_control_characters_inside_a_cell_are_refused(
    tmp_path: Path, char: str, named: str
) -> None:
    folder = make_folder(tmp_path, _with("encounter_id", f"E{char}1"))
    found = problems_of(folder)
    assert found[0] == Problem(
        "encounters.csv", 2, "encounter_id", f"contains a {named}; remove it"
    )


def test_a_control_character_in_a_code_row(tmp_path: Path) -> None:
    codes = [*BASE_CODES[:1], {**BASE_CODES[1], "code": "I50\x0023"}, *BASE_CODES[2:]]
    folder = make_folder(tmp_path, None, codes)
    assert problems_of(folder) == [Problem("codes.csv", 3, "code", "contains a NUL; remove it")]


def test_trailing_line_breaks_are_trimmed_like_spaces(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, _with("encounter_id", "E1\r\n"))
    assert encounter("E1", read_workbook(folder)).encounter_id == "E1"


@pytest.mark.parametrize(
    ("day", "accepted"),
    [
        ("1989-12-31", False),
        ("1990-01-01", True),
        ("2027-06-01", True),
        ("2027-06-02", False),
        ("0001-01-01", False),
        ("9999-12-31", False),
    ],
)
def test_discharge_dates_from_1990_to_a_year_ahead(
    tmp_path: Path, day: str, accepted: bool
) -> None:
    # today = 2026-06-01, so the latest date is 2027-06-01.
    folder = make_folder(tmp_path, _with("discharge_date", day))
    limits = WorkbookLimits(today=date(2026, 6, 1))
    if accepted:
        wb = read_workbook(folder, limits=limits)
        assert encounter("E1", wb).discharge_date == date.fromisoformat(day)
        return
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder, limits=limits)
    assert caught.value.problems == [
        Problem(
            "encounters.csv",
            2,
            "discharge_date",
            f"must be from 1990-01-01 to 2027-06-01 (a year from today), got {day}",
        )
    ]


def test_a_year_ahead_of_29_february_is_28_february() -> None:
    assert WorkbookLimits(today=date(2028, 2, 29)).latest_date() == date(2029, 2, 28)


def test_codes_are_at_most_10_characters(tmp_path: Path) -> None:
    # CodeLine.code is 10 characters; "A1234567890" is 11 once read.
    codes = [
        *BASE_CODES,
        {
            "encounter_id": "E2",
            "version": "audited",
            "system": "ICD10CM",
            "seq": "9",
            "code": "A12.34567890",
        },
    ]
    (problem,) = problems_of(make_folder(tmp_path, None, codes))
    assert (problem.column, problem.message) == (
        "code",
        'at most 10 letters and digits, got "A12.34567890"',
    )


def test_units_and_seq_stay_within_a_database_integer(tmp_path: Path) -> None:
    codes = [
        *BASE_CODES,
        {
            "encounter_id": "E2",
            "version": "audited",
            "system": "CPT",
            "seq": "7",
            "code": "99213",
            "units": str(2**31),
        },
        {
            "encounter_id": "E2",
            "version": "audited",
            "system": "CPT",
            "seq": "0",
            "code": "99214",
            "units": "-3",
        },
    ]
    assert [
        (p.column, p.message.split(",")[0]) for p in problems_of(make_folder(tmp_path, None, codes))
    ] == [
        ("units", "must be a whole number ≥ 1"),
        ("seq", "must be a whole number ≥ 1"),
        ("units", "must be a whole number ≥ 1"),
    ]


def test_lines_per_version_of_one_encounter_are_capped(tmp_path: Path) -> None:
    # With a cap of 3, E2's four audited lines: the 4th row (file row 5 of E2's block)
    # is reported once; E2's original lines are not affected.
    codes = [
        {
            "encounter_id": "E2",
            "version": "audited",
            "system": "CPT",
            "seq": str(i),
            "code": f"9921{i}",
        }
        for i in range(1, 6)
    ]
    folder = make_folder(tmp_path, None, codes)
    limits = WorkbookLimits(max_lines_per_version=3)
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder, limits=limits)
    assert caught.value.problems == [
        Problem(
            "codes.csv",
            5,
            None,
            '"E2" has more than 3 audited code lines; at most 3 are accepted per version '
            "of one encounter",
        )
    ]
    assert (
        len(
            encounter(
                "E2", read_workbook(folder, limits=WorkbookLimits(max_lines_per_version=5))
            ).audited
        )
        == 5
    )


def test_rows_are_capped_and_the_rest_not_read(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)  # 2 encounter rows, len(BASE_CODES) code rows
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder, limits=WorkbookLimits(max_encounter_rows=1))
    assert caught.value.problems[0] == Problem(
        "encounters.csv",
        3,
        None,
        "more than 1 encounter rows: the rest was not read. Split the audit into smaller workbooks.",
    )
    with pytest.raises(WorkbookError) as caught:
        read_workbook(folder, limits=WorkbookLimits(max_code_rows=2))
    assert caught.value.problems[0].message.startswith("more than 2 code rows")
    assert caught.value.problems[0].row == 4


def test_a_workbook_without_encounters_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "encounters.csv").write_text(",".join(ENCOUNTER_COLUMNS) + "\n")
    (folder / "codes.csv").write_text(",".join(CODE_COLUMNS) + "\n")
    assert problems_of(folder) == [
        Problem(
            "encounters.csv", None, None, "has no encounters: the workbook holds nothing to audit"
        )
    ]


def test_cells_past_the_header_are_not_read_as_missing_columns(tmp_path: Path) -> None:
    folder = tmp_path / "ragged"
    folder.mkdir()
    (folder / "encounters.csv").write_text(
        "encounter_id,setting,discharge_date\nE1,inpatient,2026-05-14,extra,cells\n"
    )
    (folder / "codes.csv").write_text(",".join(CODE_COLUMNS) + "\n")
    e = encounter("E1", read_workbook(folder))
    assert (e.age, e.sex, e.facility) == (None, None, "")


def test_an_xlsx_bomb_is_refused_before_calamine(tmp_path: Path) -> None:
    import zipfile

    good = tmp_path / "good.xlsx"
    write_workbook_xlsx(read_workbook(make_folder(tmp_path)).encounters, good)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b" " * (64 * 1024 * 1024) + b"<sheetData>")
            dst.writestr(info, data)
    (problem,) = problems_of(bomb)
    assert problem.sheet == "bomb.xlsx"
    assert "unpacks to more than 100 times its packed size" in problem.message


# --------------------------------------------------------------------------- read_tables


def _csv_table(path: Path) -> list[tuple[int, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(enumerate(csv.reader(handle), start=1))


def test_read_tables_reads_the_same_encounters_as_the_workbook() -> None:
    from auditcoach.engine.workbook import read_tables

    expected = read_workbook(WORKED)
    got = read_tables(
        _csv_table(WORKED / "encounters.csv"),
        _csv_table(WORKED / "codes.csv"),
        source="worked.837",
    )
    assert got.encounters == expected.encounters
    assert got.code_rows == expected.code_rows
    assert got.source == "worked.837"


def test_read_tables_names_its_tables_in_problems() -> None:
    from auditcoach.engine.workbook import read_tables

    encounters = [(1, ["encounter_id", "setting", "discharge_date"]), (7, ["C1", "ward", ""])]
    codes = [(1, ["encounter_id", "version", "system", "seq", "code"])]
    with pytest.raises(WorkbookError) as caught:
        read_tables(encounters, codes, source="x.837", sheets=("claims.837", "claims.837 codes"))
    assert [str(p) for p in caught.value.problems] == [
        "claims.837 row 7, column discharge_date: is required",
        'claims.837 row 7, column setting: must be inpatient, outpatient or profee, got "ward"',
    ]
