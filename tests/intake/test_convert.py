"""`auditcoach convert` (DESIGN §14): the §9 CSV workbook of an 837 or FHIR file, exactly as
the expected files written by hand from the fixtures, with no database; nothing written
and exit 2 on a bad file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

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


def test_mapping_option(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("auditcoach.intake.mapping") is not None:
        pytest.skip("the mapped-spreadsheet reader is installed; its own tests cover it")
    spec = tmp_path / "mapping.json"
    spec.write_text("{}")
    with pytest.raises(CommandError) as caught:
        call_command(
            "convert",
            str(FIXTURES / "x12" / "837p_two_transactions.x12"),
            str(tmp_path / "out"),
            mapping=str(spec),
            stdout=io.StringIO(),
        )
    assert caught.value.returncode == 2
    assert "--mapping is not available" in str(caught.value)
    assert not (tmp_path / "out").exists()
