"""The 837 reader (DESIGN §14): every field of the fixtures as §14 maps it, worked by hand
from the files in tests/fixtures/x12, and every malformed file refused at its segment."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditcoach.engine.model import CodeLine
from auditcoach.engine.workbook import WorkbookError, WorkbookLimits
from auditcoach.intake import IntakeLimits, detect_format, read_intake
from auditcoach.intake.x12 import read_x12, read_x12_text

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12"
MALFORMED = FIXTURES / "malformed"


def _dx(seq: int, code: str, poa: str = "") -> CodeLine:
    return CodeLine(system="ICD10CM", seq=seq, code=code, poa=poa)


def test_837i_two_interchanges_every_field() -> None:
    book = read_x12(FIXTURES / "837i_two_interchanges.x12")
    first, second, third = book.encounters
    # IP-1001: CLM05-1 = 11 → inpatient; DTP*434 RD8 ends 2026-01-04; born 1950-03-15 →
    # 75 on 2026-01-04; CL103 01; HI*DR:291; the attending NM1*71 SMITH JANE (middle Q
    # left out); the payer NM1*PR and the billing provider NM1*85.
    assert (first.encounter_id, first.setting, first.discharge_date) == (
        "IP-1001",
        "inpatient",
        date(2026, 1, 4),
    )
    assert (first.age, first.sex, first.discharge_disposition, first.billed_drg) == (
        75,
        "M",
        "01",
        "291",
    )
    assert (first.provider, first.payer, first.facility) == (
        "SMITH, JANE",
        "MEDICARE PART A",
        "GENERAL HOSPITAL",
    )
    # ABK first, then ABF in order, POA from the ninth component: Y, N, Y, 1 and blank.
    # SV2 0250 with HC:J1100:JW (letter + 4 digits → HCPCS), units SV205 = 2; the
    # revenue-only SV2 0300 gives no line.
    assert first.original == (
        _dx(1, "I5023", "Y"),
        _dx(2, "N179", "N"),
        _dx(3, "E1122", "Y"),
        _dx(4, "I10", "1"),
        _dx(5, "Z794"),
        CodeLine(system="HCPCS", seq=1, code="J1100", modifiers=frozenset({"JW"}), units=2),
    )
    # IP-1002 in the second interchange: the patient loop (HL 23) gives age and sex (born
    # 1980-06-20, F: 45 on 2026-02-15), not the subscriber's; ABN after the others; BBR
    # then BBQ; CPT 44970 with modifiers 59 and RT; CL103 06.
    assert (second.encounter_id, second.age, second.sex, second.discharge_disposition) == (
        "IP-1002",
        45,
        "F",
        "06",
    )
    assert second.payer == "ACME HEALTH PLAN"
    assert second.provider == "BROWN, ALEX"
    assert second.billed_drg is None
    assert second.original == (
        _dx(1, "K3580", "Y"),
        _dx(2, "W010XXA", "Y"),
        CodeLine(system="ICD10PCS", seq=1, code="0DTJ4ZZ"),
        CodeLine(system="ICD10PCS", seq=2, code="0DB68ZX"),
        CodeLine(system="CPT", seq=1, code="44970", modifiers=frozenset({"59", "RT"})),
    )
    # OP-2001: type of bill 13 → outpatient; seqs restart per group.
    assert (third.encounter_id, third.setting, third.discharge_date) == (
        "OP-2001",
        "outpatient",
        date(2026, 3, 1),
    )
    assert [(x.system, x.seq, x.code) for x in third.original] == [
        ("ICD10CM", 1, "R0789"),
        ("CPT", 1, "99284"),
        ("CPT", 2, "71046"),
    ]


def test_837p_two_transaction_sets() -> None:
    book = read_x12(FIXTURES / "837p_two_transactions.x12")
    a, b, c = book.encounters
    # Professional: profee, the latest DTP*472 (J1885 on 2026-01-07), no POA, the
    # rendering NM1*82 as provider, units SV104.
    assert (a.encounter_id, a.setting, a.discharge_date, a.age, a.sex) == (
        "PF-3001",
        "profee",
        date(2026, 1, 7),
        63,
        "M",
    )
    assert a.provider == "JONES, MARK"
    assert a.discharge_disposition is None
    assert a.original == (
        _dx(1, "J069"),
        _dx(2, "R509"),
        CodeLine(system="CPT", seq=1, code="99214", modifiers=frozenset({"25"})),
        CodeLine(system="CPT", seq=2, code="87880", modifiers=frozenset({"QW"})),
        CodeLine(system="HCPCS", seq=3, code="J1885", units=4),
    )
    # PF-3002: no rendering provider → the billing provider; the end of the RD8 range
    # (2026-01-09) is the latest date; four modifiers; born 1944-02-29 → 81.
    assert (b.provider, b.discharge_date, b.age) == ("VALLEY CLINIC", date(2026, 1, 9), 81)
    assert b.original[3] == CodeLine(
        system="CPT", seq=1, code="20610", modifiers=frozenset({"RT", "59", "XS", "76"})
    )
    assert b.original[4] == CodeLine(system="HCPCS", seq=2, code="J3301", units=40)
    # PF-3003: a second claim of the same subscriber, in the same transaction set.
    assert (c.encounter_id, c.payer, c.age) == ("PF-3003", "MEDICARE PART B", 81)


def test_25_diagnoses_pcs_and_a_billed_drg() -> None:
    (e,) = read_x12(FIXTURES / "837i_25_diagnoses.x12").encounters
    dx = [x for x in e.original if x.system == "ICD10CM"]
    assert [x.seq for x in dx] == list(range(1, 26))
    assert dx[0] == _dx(1, "J189", "Y")
    assert dx[24] == _dx(25, "A419", "Y")
    assert [x.poa for x in dx[3:9]] == ["Y", "1", "Y", "", "W", "U"]
    assert [x.code for x in e.original if x.system == "ICD10PCS"] == [
        "5A1955Z",
        "0BH17EZ",
        "02HV33Z",
    ]
    assert (e.billed_drg, e.discharge_disposition, e.sex, e.age) == ("871", "20", "U", 87)
    # SV2 0200 (revenue only) gives no line; J2543 with 12 units is LINE seq 1.
    lines = [x for x in e.original if x.group == "LINE"]
    assert lines == [CodeLine(system="HCPCS", seq=1, code="J2543", units=12)]


def test_one_line_file_and_a_bom_read_the_same() -> None:
    text = (FIXTURES / "837p_two_transactions.x12").read_text()
    one_line = "\ufeff  " + text.replace("~\n", "~")
    book = read_x12_text(one_line.encode(), label="one.x12")
    assert book.encounters == read_x12(FIXTURES / "837p_two_transactions.x12").encounters
    with pytest.raises(WorkbookError) as caught:
        read_x12_text(one_line.replace("SE*31*1001", "SE*30*1001").encode(), label="one.x12")
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (1, "SE01")
    assert "segment 33 (SE)" in problem.message


def test_a_line_break_as_segment_terminator() -> None:
    text = (FIXTURES / "837p_two_transactions.x12").read_text().replace("~\n", "\n")
    book = read_x12_text(text.encode(), label="lf.x12")
    assert book.encounters == read_x12(FIXTURES / "837p_two_transactions.x12").encounters
    with pytest.raises(WorkbookError) as caught:
        read_x12_text(text.replace("DMG*D8*19620815", "DMG*D8*19621315").encode(), label="lf")
    assert (caught.value.problems[0].row, caught.value.problems[0].column) == (18, "DMG02")


# (file, column, line) of the first problem, worked out from each file.
MALFORMED_CASES = {
    "se_count.x12": ("SE01", 32),
    "ge_count.x12": ("GE01", 33),
    "iea_count.x12": ("IEA01", 34),
    "se_control_number.x12": ("SE02", 32),
    "missing_clm.x12": ("CLM", None),
    "wrong_version.x12": ("GS08", 2),
    "truncated.x12": ("SV2", 30),
    "missing_iea.x12": ("IEA", 33),
    "statement_date.x12": ("DTP03", 21),
    "birth_date.x12": ("DMG02", 18),
    "missing_statement_period.x12": ("DTP*434", 20),
    "not_x12.x12": (None, 1),
    "poa_value.x12": ("HI01-9", 23),
    "sex_value.x12": ("DMG03", 18),
    "units_fraction.x12": ("SV205", 28),
    "icd9_codes.x12": ("HI01-1", 23),
    "duplicate_claim_id.x12": ("CLM01", 71),
    "binary.x12": (None, None),
    "long_element.x12": ("NM103", 26),
    "discharge_too_early.x12": ("DTP03", 21),
}


def test_the_malformed_corpus_is_known() -> None:
    names = {p.name for p in MALFORMED.iterdir()}
    assert names == set(MALFORMED_CASES)
    assert len(names) >= 12


@pytest.mark.parametrize("name", sorted(MALFORMED_CASES))
def test_malformed_837_is_refused_at_its_segment(name: str) -> None:
    with pytest.raises(WorkbookError) as caught:
        read_intake(MALFORMED / name)
    problems = caught.value.problems
    assert problems
    assert all(p.sheet == name for p in problems)
    column, line = MALFORMED_CASES[name]
    assert (problems[0].column, problems[0].row) == (column, line), problems
    if line is not None and name != "not_x12.x12":
        assert "segment" in problems[0].message or "file ends" in problems[0].message


def test_wrong_version_is_named_and_pyx12_not_run() -> None:
    with pytest.raises(WorkbookError) as caught:
        read_x12(MALFORMED / "wrong_version.x12")
    assert [p.column for p in caught.value.problems] == ["GS08", "ST03"]
    assert "004010X096A1" in caught.value.problems[0].message


def test_pyx12_findings_are_reported_with_their_element() -> None:
    # DMG03 "Q" is caught only by pyx12's code list for the element.
    with pytest.raises(WorkbookError) as caught:
        read_x12(MALFORMED / "sex_value.x12")
    (problem,) = caught.value.problems
    assert "Gender" in problem.message


def test_size_and_length_caps(tmp_path: Path) -> None:
    path = FIXTURES / "837i_two_interchanges.x12"
    size = path.stat().st_size
    with pytest.raises(WorkbookError) as caught:
        read_x12(path, limits=IntakeLimits(max_bytes=size - 1))
    assert "larger than" in str(caught.value)
    read_x12(path, limits=IntakeLimits(max_bytes=size))
    with pytest.raises(WorkbookError) as caught:
        read_x12(path, limits=IntakeLimits(max_segment_chars=40))
    assert "characters long; at most 40 are read" in str(caught.value)


def test_workbook_limits_hold_for_claims() -> None:
    limits = IntakeLimits(workbook=WorkbookLimits(max_lines_per_version=3))
    with pytest.raises(WorkbookError) as caught:
        read_x12(FIXTURES / "837i_25_diagnoses.x12", limits=limits)
    assert "more than 3 original code lines" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.x12", "x12"),
        ("a.837", "x12"),
        ("a.edi", "x12"),
        ("a.txt", "x12"),
        ("a.json", "fhir"),
        ("a.ndjson", "fhir"),
        ("a.xlsx", "workbook"),
        ("a.zip", "workbook"),
        ("a.dat", None),
    ],
)
def test_detect_format_by_name(tmp_path: Path, name: str, expected: str | None) -> None:
    path = tmp_path / name
    path.write_text("nothing")
    assert detect_format(path) == expected


def test_detect_format_sniffs_isa(tmp_path: Path) -> None:
    path = tmp_path / "claims.dat"
    path.write_bytes((FIXTURES / "837p_two_transactions.x12").read_bytes())
    assert detect_format(path) == "x12"
    assert detect_format(tmp_path) == "workbook"


_VALID = (FIXTURES / "837p_two_transactions.x12").read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(_VALID)),
            st.integers(min_value=0, max_value=12),
            st.sampled_from([b"", b"~", b"*", b":", b"\n", b"ISA", b"SE*1*1", b"\xff", b"9"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_damaged_837_is_a_problem_list_never_a_crash(
    edits: list[tuple[int, int, bytes]],
) -> None:
    # Cut, splice and corrupt a valid file anywhere: the reader returns a workbook or
    # raises WorkbookError with at least one problem, and nothing else.
    data = _VALID
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut :]
    problems = None
    try:
        book = read_x12_text(data, label="fuzz.x12")
    except WorkbookError as exc:
        problems = exc.problems
    if problems is None:
        assert book.encounters
    else:
        assert problems
        assert all(p.sheet == "fuzz.x12" for p in problems)
