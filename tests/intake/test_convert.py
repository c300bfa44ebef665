"""`auditcoach convert` (DESIGN §14): the §9 CSV workbook of an 837 or FHIR file, exactly as
the expected files written by hand from the fixtures, with no database; nothing written
and exit 2 on a bad file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.intake.mapping import propose, spec_to_dict

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXPECTED = FIXTURES / "x12" / "expected"


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize(
    ("source", "expected", "fmt"),
    [
        ("x12/837i_two_interchanges.x12", "837i_two_interchanges", None),
        ("x12/837p_two_transactions.x12", "837p_two_transactions", None),
        ("fhir/claims_institutional.json", "837i_two_interchanges", None),
        ("fhir/claims_professional.ndjson", "837p_two_transactions", "fhir"),
        # a conversion converts to itself
        ("x12/expected/837i_two_interchanges", "837i_two_interchanges", "workbook"),
    ],
)
def test_convert_writes_the_14_workbook(
    source: str, expected: str, fmt: str | None, tmp_path: Path
) -> None:
    out = io.StringIO()
    options = {"stdout": out} | ({"format": fmt} if fmt else {})
    call_command("convert", str(FIXTURES / source), str(tmp_path / "out"), **options)
    for name in ("encounters.csv", "codes.csv"):
        assert _rows(tmp_path / "out" / name) == _rows(EXPECTED / expected / name), name
    assert "encounters" in out.getvalue()


def test_bad_file_writes_nothing_and_lists_every_problem(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        call_command(
            "convert",
            str(FIXTURES / "x12" / "malformed" / "truncated.x12"),
            str(tmp_path / "out"),
            stdout=io.StringIO(),
        )
    assert caught.value.returncode == 2
    message = str(caught.value)
    assert message.startswith("the file was rejected; nothing was written:")
    assert message.count("truncated.x12 row 30") == 4
    assert not (tmp_path / "out").exists()


def test_a_forced_format_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        call_command(
            "convert",
            str(FIXTURES / "x12" / "837p_two_transactions.x12"),
            str(tmp_path / "out"),
            format="fhir",
            stdout=io.StringIO(),
        )
    assert "is not a JSON object" in str(caught.value)


def test_a_mapped_spreadsheet_converts_to_the_claims_it_holds(tmp_path: Path) -> None:
    """The billing extract of tests/fixtures/mapped (its own column names), through the
    mapping `propose` makes from them written as a JSON file, converts to exactly the rows
    the two 837 fixtures of the same claims convert to."""
    source = FIXTURES / "mapped" / "claims_extract.csv"
    headers = next(csv.reader(source.open(encoding="utf-8")))
    spec = tmp_path / "mapping.json"
    spec.write_text(json.dumps(spec_to_dict(propose(headers))))
    call_command(
        "convert", str(source), str(tmp_path / "out"), mapping=str(spec), stdout=io.StringIO()
    )
    for name in ("encounters", "codes"):
        got = sorted(list(csv.reader((tmp_path / "out" / f"{name}.csv").open()))[1:])
        expected = sorted(
            row
            for folder in ("837i_two_interchanges", "837p_two_transactions")
            for row in list(
                csv.reader((FIXTURES / "x12" / "expected" / folder / f"{name}.csv").open())
            )[1:]
        )
        assert got == expected, name


def test_a_bad_mapping_file_or_one_with_format_exits_2_writing_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "mapping.json"
    spec.write_text('{"version": 1, "layout": "sideways"}')
    source = str(FIXTURES / "mapped" / "claims_extract.csv")
    for options in ({"mapping": str(spec)}, {"mapping": str(spec), "format": "x12"}):
        with pytest.raises(CommandError) as caught:
            call_command("convert", source, str(tmp_path / "out"), stdout=io.StringIO(), **options)
        assert caught.value.returncode == 2
    assert not (tmp_path / "out").exists()
