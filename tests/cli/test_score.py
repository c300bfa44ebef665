"""`auditcoach score` (DESIGN §9): the worked example exactly, and bad workbooks exit 2."""

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.engine.workbook import read_workbook, write_workbook_xlsx

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def run_score(path: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    call_command("score", str(path), "--json", *args)
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def worked_expected() -> dict:  # type: ignore[type-arg]
    """expected.json plus the keys §9 adds for review state: it has no not-yet-reviewed
    encounter, so every one carries "reviewed": true and the summary "not_reviewed": 0
    (its README: extra keys do not matter, values do; here they are pinned too)."""
    expected = json.loads((WORKED / "expected.json").read_text())
    for e in expected["encounters"]:
        e["reviewed"] = True
    expected["summary"]["not_reviewed"] = 0
    return expected  # type: ignore[no-any-return]


def test_worked_example_prints_exactly_the_expected_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # expected.json was worked by hand (see fixtures/worked/README.md): HF-1 DRG 292 → 259,
    # ΔRW 1.1731 × 6,500.00 = 7,625.15; PNA-2 640 → 193, −0.0212 × 6,500 = −137.80;
    # DX code accuracy 5/8; union 5/9; POA 3/4; total 7,487.35.
    assert run_score(WORKED, "--base-rate", "6500.00", capsys=capsys) == worked_expected()


def test_worked_example_as_xlsx_gives_the_same_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xlsx = tmp_path / "audit.xlsx"
    write_workbook_xlsx(read_workbook(WORKED).encounters, xlsx)
    assert run_score(xlsx, "--base-rate", "6500", capsys=capsys) == worked_expected()


def test_a_not_reviewed_encounter_is_listed_and_left_out_of_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The worked example plus NR-5: the coder's coding only (a heart failure stay billed
    # as DRG 293), never looked at by an auditor. §9: listed with "reviewed": false and no
    # findings, and every summary figure stays exactly the worked example's.
    folder = tmp_path / "wb"
    shutil.copytree(WORKED, folder)
    with (folder / "encounters.csv").open("a") as handle:
        handle.write("NR-5,inpatient,2026-05-20,70,M,01,,293,North,,,,coder.ana,,2026-Q2\n")
    with (folder / "codes.csv").open("a") as handle:
        handle.write("NR-5,original,ICD10CM,1,I50.9,Y,,\nNR-5,original,ICD10CM,2,E87.1,N,,\n")
    out = run_score(folder, "--base-rate", "6500.00", capsys=capsys)
    expected = worked_expected()
    assert out["encounters"][:4] == expected["encounters"]
    nr5 = out["encounters"][4]
    assert (nr5["encounter_id"], nr5["reviewed"], nr5["findings"]) == ("NR-5", False, [])
    assert (nr5["rw_delta"], nr5["financial_impact"]) == (None, None)
    assert out["summary"] == {**expected["summary"], "not_reviewed": 1}


def test_the_table_says_which_encounters_are_not_reviewed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "wb"
    shutil.copytree(WORKED, folder)
    with (folder / "encounters.csv").open("a") as handle:
        handle.write("NR-5,profee,2026-05-20,70,M,,,,,,,,,,\n")
    with (folder / "codes.csv").open("a") as handle:
        handle.write("NR-5,original,CPT,1,99213,,,\n")
    call_command("score", str(folder))
    text = capsys.readouterr().out
    assert "NR-5: not reviewed" in text
    assert "not_reviewed" in text


def test_without_base_rate_fy2026_money_is_null_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No FY2026 national standardized amount ships with the project (see codesets/data).
    out = run_score(WORKED, capsys=capsys)
    hf1 = out["encounters"][0]
    assert hf1["rw_delta"] == 1.1731
    assert hf1["financial_impact"] is None
    assert any("base rate" in w for w in hf1["warnings"])
    assert out["summary"]["financial_impact"] is None


def test_bad_workbook_exits_2_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(WORKED, bad)
    codes = (bad / "codes.csv").read_text().splitlines()
    codes[1] = codes[1].replace("ICD10CM", "ICD9")  # row 2: unknown system
    codes[2] = codes[2].replace("HF-1", "NOPE-9")  # row 3: unknown encounter id
    (bad / "codes.csv").write_text("\n".join(codes) + "\n")
    with pytest.raises(CommandError) as info:
        call_command("score", str(bad), "--json")
    assert info.value.returncode == 2
    message = str(info.value)
    assert "row 2" in message
    assert "system" in message
    assert "row 3" in message
    assert "NOPE-9" in message


def test_bad_base_rate_exits_2() -> None:
    with pytest.raises(CommandError) as info:
        call_command("score", str(WORKED), "--json", "--base-rate", "lots")
    assert info.value.returncode == 2


def test_console_command_exit_code_is_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "auditcoach.cli", "score", str(empty), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "encounters.csv" in proc.stderr
    assert proc.stdout == ""
