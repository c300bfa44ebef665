"""The FHIR R4 Claim reader: the fixtures of tests/fixtures/fhir hold the same claims as the
837 fixtures, so they give the same encounters; bad resources are refused at their entry."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditcoach.engine.model import CodeLine
from auditcoach.engine.workbook import WorkbookError
from auditcoach.intake import read_intake
from auditcoach.intake.fhir import read_fhir, read_fhir_text
from auditcoach.intake.x12 import read_x12

FHIR = Path(__file__).parent.parent / "fixtures" / "fhir"
X12 = Path(__file__).parent.parent / "fixtures" / "x12"


def test_bundle_gives_the_837i_encounters() -> None:
    book = read_fhir(FHIR / "claims_institutional.json")
    assert book.encounters == read_x12(X12 / "837i_two_interchanges.x12").encounters


def test_ndjson_gives_the_837p_encounters() -> None:
    book = read_intake(FHIR / "claims_professional.ndjson")
    assert book.encounters == read_x12(X12 / "837p_two_transactions.x12").encounters


def test_the_mapping_where_14_is_silent() -> None:
    first = read_fhir(FHIR / "claims_institutional.json").encounters[0]
    # identifier (not the resource id), billablePeriod.end, typeofbill 0111 → inpatient,
    # packageCode → billed DRG, the principal diagnosis first whatever its sequence,
    # onAdmission lower case → upper case, the Location's name as facility.
    assert first.encounter_id == "IP-1001"
    assert (first.setting, first.discharge_date, first.billed_drg) == (
        "inpatient",
        date(2026, 1, 4),
        "291",
    )
    assert first.original[0] == CodeLine(system="ICD10CM", seq=1, code="I5023", poa="Y")
    assert first.facility == "GENERAL HOSPITAL"


def _one(claim_changes: dict[str, object]) -> bytes:
    bundle = json.loads((FHIR / "claims_institutional.json").read_text())
    claim = bundle["entry"][7]["resource"]
    claim.update(claim_changes)
    bundle["entry"] = bundle["entry"][:8]
    return json.dumps(bundle).encode()


def test_without_identifier_the_id_and_without_period_the_latest_item_date() -> None:
    data = _one({"identifier": [], "billablePeriod": None})
    data = data.replace(b'"billablePeriod": null, ', b"")
    (e,) = read_fhir_text(data, label="b.json").encounters
    assert e.encounter_id == "c-1001"
    assert e.discharge_date == date(2026, 1, 2)  # J1100's servicedDate


def test_malformed_claims_are_refused_at_their_entry() -> None:
    with pytest.raises(WorkbookError) as caught:
        read_fhir(FHIR / "malformed_invalid_claims.json")
    problems = caught.value.problems
    assert [(p.row, p.column) for p in problems] == [
        (8, "Claim.diagnosis[0].sequence"),
        (9, "Claim.patient"),
    ]
    assert all(p.sheet == "malformed_invalid_claims.json" for p in problems)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "is not FHIR JSON"),
        (b"\xff\xfe", "is not UTF-8"),
        (b"[1, 2]\n", "is not a JSON object"),
        (b'{"resourceType": "Patient", "id": "p"}', "holds no Claim"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"resourceType": "Bundle"}', "has no entry list"),
    ],
)
def test_not_claims(data: bytes, fragment: str) -> None:
    with pytest.raises(WorkbookError) as caught:
        read_fhir_text(data, label="x.json")
    assert fragment in str(caught.value)


def test_a_bad_code_is_reported_at_its_element() -> None:
    data = _one({}).replace(b'"I50.23"', b'"I50#23"')
    with pytest.raises(WorkbookError) as caught:
        read_fhir_text(data, label="b.json")
    (problem,) = caught.value.problems
    assert problem.row == 8
    assert problem.column == "Claim.diagnosis[0].diagnosisCodeableConcept"
    assert "letters and digits only" in problem.message


_VALID = (FHIR / "claims_professional.ndjson").read_bytes()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(_VALID)),
            st.integers(min_value=0, max_value=12),
            st.sampled_from([b"", b"{", b"}", b'"', b",", b"\n", b"null", b"[", b"\xff", b"1e999"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_damaged_fhir_is_a_problem_list_never_a_crash(edits: list[tuple[int, int, bytes]]) -> None:
    data = _VALID
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut :]
    problems = None
    try:
        book = read_fhir_text(data, label="fuzz.ndjson")
    except WorkbookError as exc:
        problems = exc.problems
    if problems is None:
        assert book.encounters
    else:
        assert problems
