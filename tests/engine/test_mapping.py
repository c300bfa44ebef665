"""Any spreadsheet through a column mapping (auditcoach.intake.mapping): proposing a mapping
from the column names, the spec as JSON, reading wide and long extracts, and problems named
by the person's own file, row and column."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditcoach.engine.model import CodeLine, Encounter
from auditcoach.engine.workbook import (
    WorkbookError,
    WorkbookLimits,
    read_workbook,
    write_workbook_csv,
)
from auditcoach.intake.mapping import (
    CodeSlot,
    Field,
    MappingInvalid,
    MappingSpec,
    columns_key,
    is_extract,
    load_spec,
    preview,
    propose,
    read_mapped,
    spec_from_dict,
    spec_to_dict,
)

LIMITS = WorkbookLimits(today=date(2026, 6, 1))

HEADERS = [
    "Acct #",
    "Pt Type",
    "Disch Date",
    "Pt Age",
    "Gender",
    "Disch Disp",
    "MS-DRG",
    "Hospital",
    "Attending",
    "Payor",
    "Coded By",
    "Principal Dx",
    "POA 1",
    "Dx 2",
    "POA 2",
    "Dx 3",
    "POA 3",
    "ICD10 PCS 1",
    "ICD10 PCS 2",
    "CPT1",
    "CPT1_MOD1",
    "CPT1_MOD2",
    "CPT1 Units",
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def problems(path: Path, spec: MappingSpec) -> list[str]:
    with pytest.raises(WorkbookError) as caught:
        read_mapped(path, spec, limits=LIMITS)
    return [str(p) for p in caught.value.problems]


# --------------------------------------------------------------------------- propose


def test_propose_reads_foreign_names() -> None:
    spec = propose(HEADERS)
    assert spec.layout == "wide"
    columns = {name: f.column for name, f in spec.fields.items()}
    assert columns == {
        "encounter_id": "Acct #",
        "setting": "Pt Type",
        "discharge_date": "Disch Date",
        "age": "Pt Age",
        "sex": "Gender",
        "discharge_disposition": "Disch Disp",
        "billed_drg": "MS-DRG",
        "facility": "Hospital",
        "provider": "Attending",
        "payer": "Payor",
        "coder": "Coded By",
    }
    # "POA 1" goes with the principal diagnosis, the first slot, not with "Dx 1" (absent)
    assert spec.dx == (
        CodeSlot("Principal Dx", poa="POA 1"),
        CodeSlot("Dx 2", poa="POA 2"),
        CodeSlot("Dx 3", poa="POA 3"),
    )
    assert spec.px == (CodeSlot("ICD10 PCS 1"), CodeSlot("ICD10 PCS 2"))
    assert spec.lines == (
        CodeSlot("CPT1", modifiers=("CPT1_MOD1", "CPT1_MOD2"), units="CPT1 Units"),
    )
    assert spec.headers == tuple(HEADERS)


def test_propose_numbers_sort_numerically_and_ignore_case_and_punctuation() -> None:
    spec = propose(["ENCOUNTER", "disch_date", "DX10", "dx-2", "Dx 1", "hcpcs 1", "Mod 1 HCPCS 1"])
    assert [s.code for s in spec.dx] == ["Dx 1", "dx-2", "DX10"]
    assert spec.lines == (CodeSlot("hcpcs 1", modifiers=("Mod 1 HCPCS 1",)),)
    assert spec.get("encounter_id").column == "ENCOUNTER"
    # no setting column and nothing inpatient about it: left for the person to choose
    assert not spec.get("setting")


def test_propose_sets_inpatient_when_the_extract_has_poa_and_no_setting() -> None:
    spec = propose(["Account Number", "Discharge Date", "Dx 1", "POA 1"])
    assert spec.get("setting") == Field(constant="inpatient")


def test_propose_long_layout() -> None:
    spec = propose(["Encounter", "Disch Date", "Code Type", "Code", "Seq", "POA", "Mod1", "Mod2"])
    assert spec.layout == "long"
    assert spec.get("system").column == "Code Type"
    assert spec.get("code").column == "Code"
    assert spec.get("seq").column == "Seq"
    assert spec.get("poa").column == "POA"
    assert spec.modifiers == ("Mod1", "Mod2")


def test_columns_key_ignores_order_case_and_spacing() -> None:
    assert columns_key(["Acct #", "Dx  1"]) == columns_key(["dx 1", " ACCT #"])
    assert columns_key(["Acct #", "Dx 1"]) != columns_key(["Acct #", "Dx 2"])


# --------------------------------------------------------------------------- spec as JSON


def test_spec_round_trips_through_json() -> None:
    spec = propose(HEADERS)
    spec = MappingSpec(
        **{**_fields_of(spec), "values": {"sex": {"1": "M"}}, "date_format": "excel"}
    )
    again = spec_from_dict(json.loads(json.dumps(spec_to_dict(spec))))
    assert again == spec


def _fields_of(spec: MappingSpec) -> dict[str, object]:
    return {name: getattr(spec, name) for name in spec.__slots__}  # type: ignore[attr-defined]


def test_invalid_spec_lists_every_problem() -> None:
    with pytest.raises(MappingInvalid) as caught:
        spec_from_dict(
            {
                "layout": "tall",
                "fields": {"setting": {"constant": "hospital"}, "colour": {"column": "x"}},
                "dx": [{"poa": "POA 1"}],
                "date_format": "someday",
                "surprise": 1,
            }
        )
    text = caught.value.problems
    assert "unknown keys: surprise" in text
    assert "layout must be wide or long, got 'tall'" in text
    assert "fields: unknown field 'colour' for the wide layout" in text
    assert "dx[0].code is required" in text
    assert any(p.startswith("date_format must be one of auto") for p in text)
    assert "encounter_id: choose the column it comes from" in text
    assert "setting: the constant must be inpatient, outpatient or profee, got 'hospital'" in text


def test_load_spec_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(spec_to_dict(propose(HEADERS))))
    assert load_spec(path) == propose(HEADERS)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(MappingInvalid, match=r"bad\.json: not readable JSON"):
        load_spec(tmp_path / "bad.json")


# --------------------------------------------------------------------------- reading


ROW_1 = [
    "A100",
    "IP",
    "03/14/2026",
    "67",
    "Female",
    "01",
    "291",
    "General",
    "Smith, Ann",
    "Medicare",
    "Coder One",
    "I50.23",
    "Y",
    "N18.30",
    "n",
    "",
    "",
    "02HA0QZ",
    "",
    "",
    "",
    "",
    "",
]
ROW_2 = [
    "B200",
    "Pro",
    "2026-03-15",
    "",
    "M",
    "",
    "",
    "",
    "",
    "",
    "",
    "R07.9",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "99214",
    "25",
    "",
    "2",
]


def test_wide_extract_reads_as_a_workbook(tmp_path: Path) -> None:
    path = write(tmp_path / "extract.csv", [HEADERS, ROW_1, ROW_2])
    wb = read_mapped(path, propose(HEADERS), limits=LIMITS)
    assert wb.source == "extract.csv"
    first, second = wb.encounters
    assert (first.encounter_id, first.setting, first.discharge_date) == (
        "A100",
        "inpatient",
        date(2026, 3, 14),
    )
    assert (first.age, first.sex, first.discharge_disposition, first.billed_drg) == (
        67,
        "F",
        "01",
        "291",
    )
    assert (first.facility, first.provider, first.payer, first.coder) == (
        "General",
        "Smith, Ann",
        "Medicare",
        "Coder One",
    )
    assert [(c.system, c.seq, c.code, c.poa) for c in first.original] == [
        ("ICD10CM", 1, "I5023", "Y"),
        ("ICD10CM", 2, "N1830", "N"),
        ("ICD10PCS", 1, "02HA0QZ", ""),
    ]
    assert second.setting == "profee"
    assert second.sex == "M"
    assert second.age is None
    assert [
        (c.system, c.code, c.modifiers, c.units) for c in second.original if c.group == "LINE"
    ] == [("CPT", "99214", frozenset({"25"}), 2)]


def test_problems_name_the_source_file_row_and_column(tmp_path: Path) -> None:
    bad = list(ROW_1)
    bad[2] = "14/03/2026"  # not a US date
    bad[4] = "Woman?"  # not a sex
    bad[13] = "N18.30!"  # not a code
    bad[16] = "Y"  # a POA beside an empty Dx 3
    bad2 = list(ROW_2)
    bad2[22] = "two"  # units
    bad2[1] = ""  # setting is required
    path = write(tmp_path / "extract.csv", [HEADERS, bad, bad2])
    found = problems(
        path, MappingSpec(**{**_fields_of(propose(HEADERS)), "date_format": "MM/DD/YYYY"})
    )
    assert found == [
        'extract.csv row 2, column Disch Date: must be a date written MM/DD/YYYY (US), got "14/03/2026"',
        'extract.csv row 2, column Gender: must be M, F or U, got "Woman?"',
        'extract.csv row 2, column Dx 2: must be letters and digits only, got "N18.30!"',
        "extract.csv row 2, column POA 3: has a value but Dx 3 has no code",
        "extract.csv row 3, column Pt Type: is required",
        'extract.csv row 3, column CPT1 Units: must be a whole number ≥ 1, got "two"',
    ]


def test_a_constant_field_is_named_as_set_by_the_mapping(tmp_path: Path) -> None:
    headers = ["Acct", "Disch Date", "Dx 1"]
    path = write(tmp_path / "x.csv", [headers, ["A1", "2026-01-02", "I10"]])
    spec = propose(headers)
    ok = read_mapped(
        path,
        MappingSpec(
            **{
                **_fields_of(spec),
                "fields": {**spec.fields, "setting": Field(constant="outpatient")},
            }
        ),
        limits=LIMITS,
    )
    assert ok.encounters[0].setting == "outpatient"
    with pytest.raises(MappingInvalid):
        spec_from_dict(
            {
                **spec_to_dict(spec),
                "fields": {**spec_to_dict(spec)["fields"], "setting": {"constant": "ward"}},
            }
        )


def test_mapping_columns_missing_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", [["Acct #", "Disch Date"], ["A1", "2026-01-02"]])
    assert problems(path, propose(HEADERS))[:2] == [
        "x.csv row 1, column Pt Type: column of the mapping is not in the file",
        "x.csv row 1, column Pt Age: column of the mapping is not in the file",
    ]


def test_unreadable_and_wrong_files(tmp_path: Path) -> None:
    spec = propose(HEADERS)
    (tmp_path / "x.txt").write_text("hello")
    assert problems(tmp_path / "x.txt", spec) == [
        "x.txt: wrong file type: an extract is a .csv file or an .xlsx workbook"
    ]
    (tmp_path / "latin.csv").write_bytes("Acct #\nCaf\xe9\n".encode("latin-1"))
    assert problems(tmp_path / "latin.csv", spec) == [
        "latin.csv: is not UTF-8 text (save it as CSV UTF-8)"
    ]
    (tmp_path / "empty.csv").write_text("\n\n")
    assert problems(tmp_path / "empty.csv", spec) == ["empty.csv: is empty: there is no header row"]
    (tmp_path / "fake.xlsx").write_bytes(b"PK\x03\x04 cut short")
    assert problems(tmp_path / "fake.xlsx", spec)[0].startswith("fake.xlsx: This file is damaged")


def test_long_extract_with_versions_and_seq_by_row_order(tmp_path: Path) -> None:
    headers = [
        "Encounter",
        "Patient Type",
        "Disch Date",
        "Code Type",
        "Code",
        "POA",
        "Mods",
        "Qty",
        "Version",
    ]
    rows = [
        headers,
        ["E1", "Outpatient", "2026-02-01", "ICD-10-CM", "R07.9", "", "", "", "Original"],
        ["E1", "Outpatient", "2026-02-01", "CPT/HCPCS", "99214", "", "25 RT", "", "Original"],
        ["E1", "Outpatient", "2026-02-01", "CPT/HCPCS", "J1100", "", "", "3", "Original"],
        ["E1", "Outpatient", "2026-02-01", "DX", "R07.89", "", "", "", "Audited"],
        ["E2", "OP", "2026-02-02", "dx", "I10", "", "", "", ""],
    ]
    path = write(tmp_path / "lines.csv", rows)
    spec = propose(headers)
    assert spec.layout == "long"
    assert spec.modifiers == ("Mods",)
    e1, e2 = read_mapped(path, spec, limits=LIMITS).encounters
    assert [(c.system, c.seq, c.code, c.modifiers, c.units) for c in e1.original] == [
        ("ICD10CM", 1, "R079", frozenset(), 1),
        ("CPT", 1, "99214", frozenset({"25", "RT"}), 1),
        ("HCPCS", 2, "J1100", frozenset(), 3),
    ]
    assert [(c.system, c.seq, c.code) for c in e1.audited] == [("ICD10CM", 1, "R0789")]
    assert e2.setting == "outpatient"
    assert [c.code for c in e2.original] == ["I10"]


def test_long_extract_rows_of_one_encounter_must_agree(tmp_path: Path) -> None:
    headers = ["Encounter", "Patient Type", "Disch Date", "Code Type", "Code"]
    rows = [
        headers,
        ["E1", "OP", "2026-02-01", "DX", "R07.9"],
        ["E1", "OP", "2026-02-03", "DX", "I10"],
        ["E1", "OP", "2026-02-01", "Rx", "I10"],
    ]
    found = problems(write(tmp_path / "c.csv", rows), propose(headers))
    assert found == [
        'c.csv row 3, column Disch Date: differs from row 2, the first row of encounter "E1" '
        '("2026-02-01" there, "2026-02-03" here)',
        'c.csv row 4, column Code Type: must be ICD10CM, ICD10PCS, CPT or HCPCS, got "Rx"',
    ]


def test_xlsx_extract_with_typed_cells(tmp_path: Path) -> None:
    from openpyxl import Workbook as Book

    book = Book()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Export"
    sheet.append(
        ["Account Number", "Setting", "Discharge Date", "Disposition", "Dx 1", "PX 1", "CPT 1"]
    )
    sheet.append(["A1", "inpatient", datetime(2026, 4, 2, 0, 0), 1, "I10", 16070, 99213])
    sheet.append(["A2", "inpatient", 46023, 6, "E11.9", None, None])  # an Excel date number
    path = tmp_path / "export.xlsx"
    book.save(path)
    assert is_extract(path)
    spec = propose(
        ["Account Number", "Setting", "Discharge Date", "Disposition", "Dx 1", "PX 1", "CPT 1"]
    )
    a1, a2 = read_mapped(path, spec, limits=LIMITS).encounters
    assert a1.discharge_date == date(2026, 4, 2)
    assert a1.discharge_disposition == "01"
    assert [c.code for c in a1.original] == ["I10", "0016070", "99213"]
    assert a2.discharge_date == date(2026, 1, 1)
    assert a2.discharge_disposition == "06"
    shown = preview(path, rows=1)
    assert shown.headers[0] == "Account Number"
    assert shown.rows[0][0] == "A1"


def test_is_extract(tmp_path: Path) -> None:
    write(tmp_path / "x.csv", [["a"]])
    assert is_extract(tmp_path / "x.csv")
    folder = tmp_path / "wb"
    write_workbook_csv([], folder)
    assert not is_extract(folder)
    from auditcoach.engine.workbook import write_workbook_xlsx

    write_workbook_xlsx([], tmp_path / "wb.xlsx")
    assert not is_extract(tmp_path / "wb.xlsx")


# --------------------------------------------------------------------------- the same encounters

_DX = st.from_regex(r"[A-TV-Z][0-9][0-9A-Z]{1,5}", fullmatch=True)
_PCS = st.from_regex(r"[0-9A-HJ-NP-Z]{7}", fullmatch=True)
_CPT = st.from_regex(r"[0-9]{5}", fullmatch=True)
_HCPCS = st.from_regex(r"[A-Z][0-9]{4}", fullmatch=True)
_MOD = st.from_regex(r"[0-9A-Z]{2}", fullmatch=True)
_NAME = st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=12).map(
    str.strip
)


@st.composite
def _encounter(draw: st.DrawFn, eid: str) -> Encounter:
    setting = draw(st.sampled_from(["inpatient", "outpatient", "profee"]))
    dxs = draw(
        st.lists(
            st.tuples(_DX, st.sampled_from(["", "Y", "N", "U", "W", "1"])), min_size=1, max_size=6
        )
    )
    pcs = draw(st.lists(_PCS, max_size=3))
    lines = draw(
        st.lists(
            st.tuples(st.one_of(_CPT, _HCPCS), st.frozensets(_MOD, max_size=3), st.integers(1, 99)),
            max_size=3,
        )
    )
    original = (
        *(CodeLine("ICD10CM", i, c, p) for i, (c, p) in enumerate(dxs, 1)),
        *(CodeLine("ICD10PCS", i, c) for i, c in enumerate(pcs, 1)),
        *(
            CodeLine("HCPCS" if c[0].isalpha() else "CPT", i, c, "", m, u)
            for i, (c, m, u) in enumerate(lines, 1)
        ),
    )
    return Encounter(
        encounter_id=eid,
        setting=setting,
        discharge_date=draw(st.dates(date(1990, 1, 1), date(2026, 6, 1))),
        age=draw(st.none() | st.integers(0, 124)),
        sex=draw(st.sampled_from([None, "M", "F", "U"])),
        discharge_disposition=draw(st.sampled_from([None, "01", "06", "20"])),
        billed_drg=draw(st.sampled_from([None, "291", "065"])),
        provider=draw(_NAME),
        payer=draw(_NAME),
        original=original,
        audited=(),
    )


_SEX = {"M": "Male", "F": "Female", "U": "Unknown", None: ""}
_SETTING = {"inpatient": "IP", "outpatient": "OP", "profee": "Professional"}


def _wide_extract(encounters: list[Encounter], path: Path) -> None:
    """The encounters as a billing system's export: one row each, foreign names and values."""
    n_dx = max(len([x for x in e.original if x.group == "DX"]) for e in encounters)
    n_px = max(len([x for x in e.original if x.group == "PX"]) for e in encounters)
    n_ln = max(len([x for x in e.original if x.group == "LINE"]) for e in encounters)
    header = [
        "Acct #",
        "Pt Type",
        "Disch Date",
        "Pt Age",
        "Gender",
        "Disch Disp",
        "DRG",
        "Attending",
        "Payor",
    ]
    header += ["Principal Dx", "POA 1"] + [
        x for i in range(2, n_dx + 1) for x in (f"Dx {i}", f"POA {i}")
    ]
    header += [f"ICD10 PCS {i}" for i in range(1, n_px + 1)]
    header += [
        x
        for i in range(1, n_ln + 1)
        for x in (f"CPT{i}", *(f"CPT{i}_MOD{k}" for k in range(1, 5)), f"CPT{i} Units")
    ]
    rows = [header]
    for e in encounters:
        dx = [x for x in e.original if x.group == "DX"]
        px = [x for x in e.original if x.group == "PX"]
        ln = [x for x in e.original if x.group == "LINE"]
        row = [
            e.encounter_id,
            _SETTING[e.setting],
            e.discharge_date.strftime("%m/%d/%Y"),
            "" if e.age is None else str(e.age),
            _SEX[e.sex],
            e.discharge_disposition or "",
            e.billed_drg or "",
            e.provider,
            e.payer,
        ]
        for i in range(n_dx):
            row += [dx[i].code, dx[i].poa] if i < len(dx) else ["", ""]
        row += [px[i].code if i < len(px) else "" for i in range(n_px)]
        for i in range(n_ln):
            if i < len(ln):
                mods = sorted(ln[i].modifiers) + [""] * 4
                row += [ln[i].code, *mods[:4], str(ln[i].units)]
            else:
                row += [""] * 6
        rows.append(row)
    write(path, rows)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), n=st.integers(1, 5))
def test_a_workbook_as_a_wide_extract_reads_back_the_same(
    tmp_path: Path, data: st.DataObject, n: int
) -> None:
    encounters = [data.draw(_encounter(f"E{i}")) for i in range(n)]
    folder = tmp_path / f"wb{data.draw(st.integers(0, 10**9))}"
    write_workbook_csv(encounters, folder)
    extract = folder / "extract.csv"
    _wide_extract(encounters, extract)
    with extract.open(encoding="utf-8") as handle:
        headers = next(csv.reader(handle))
    spec = propose(headers)
    assert (
        read_mapped(extract, spec, limits=LIMITS).encounters
        == read_workbook(folder, limits=LIMITS).encounters
    )


def test_preview_refuses_column_names_a_mapping_cannot_hold(tmp_path: Path) -> None:
    write(tmp_path / "long.csv", [["Acct", "x" * 201], ["A1", "1"]])
    with pytest.raises(WorkbookError) as caught:
        preview(tmp_path / "long.csv")
    assert str(caught.value) == (
        "long.csv row 1, column column 2: the column name is longer than 200 characters"
    )
    write(tmp_path / "tab.csv", [["Acct", "Dx\t1"], ["A1", "I10"]])
    with pytest.raises(WorkbookError, match="holds a control character"):
        preview(tmp_path / "tab.csv")
