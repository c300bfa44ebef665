"""The claims readers' shared §9 tables: a problem goes back to the cell it came from."""

import pytest

from auditcoach.engine.workbook import WorkbookError, WorkbookLimits
from auditcoach.intake.common import Tables


def test_a_code_rows_problem_is_placed_in_its_own_claim_when_row_numbers_meet() -> None:
    """An X12 code row is numbered 100 × its HI segment (+ element), an encounter row by its
    CLM segment, so in a long file claim B's CLM (segment 1202) and claim A's second
    diagnosis (HI at segment 12, element 2: row 1202) share a number. The problem of A's
    code row must be reported at A's HI segment, not at B's CLM."""
    tables = Tables("claims.837")
    common = {"setting": "inpatient", "discharge_date": "2026-01-04"}
    for row, claim in ((5, "A"), (1202, "B")):
        tables.encounter(
            row,
            {"encounter_id": claim, **common},
            {"": (row, "CLM", f"segment {row} (CLM) claim {claim}")},
        )
    for row, code in ((1201, "I5023"), (1202, "N179")):
        tables.code(
            row,
            encounter_id="A",
            system="ICD10CM",
            seq=row - 1200,
            code=code,
            where={"": (12, f"HI0{row - 1200}", "segment 12 (HI) claim A")},
        )
    with pytest.raises(WorkbookError) as caught:
        tables.validate(WorkbookLimits(max_lines_per_version=1))
    [problem] = caught.value.problems
    assert (problem.sheet, problem.row, problem.column) == ("claims.837", 12, "HI02")
    assert problem.message.startswith("segment 12 (HI) claim A: ")
