"""`auditcoach load_table5 PATH --fiscal-year YYYY`: validate, install, and be seen.

No database: the command only writes a file into the user data folder (a temporary one
here, through the `AUDITCOACH_DATA_DIR` setting).
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.codesets import knowledge
from auditcoach.codesets.pricing import DATA_DIR, TABLE5_FILES, Table5Pricing

SHIPPED_FY2026 = DATA_DIR / TABLE5_FILES[2026]
WORKED = Path(__file__).parent.parent / "fixtures" / "worked"
FY2025 = date(2025, 5, 1)
FY2026 = date(2026, 5, 14)


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "codesets"
    settings.AUDITCOACH_DATA_DIR = str(folder)
    monkeypatch.delenv("AUDITCOACH_DATA_DIR", raising=False)
    knowledge.pricing.cache_clear()
    yield folder
    knowledge.pricing.cache_clear()  # later tests must not see this folder


def load(path: Path, year: str, capsys: pytest.CaptureFixture[str]) -> str:
    call_command("load_table5", str(path), "--fiscal-year", year)
    return capsys.readouterr().out


def with_weight(tmp_path: Path, drg: str, weight: str) -> Path:
    """The shipped FY2026 table with one DRG's capped weight changed."""
    lines = SHIPPED_FY2026.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    column = header.index("weight_10pct_cap_applied")
    for i, line in enumerate(lines):
        cells = line.split("\t")
        if cells[0] == drg:
            cells[column] = weight
            lines[i] = "\t".join(cells)
    out = tmp_path / f"table5_{drg}_{weight}.tsv"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_a_year_the_project_does_not_ship(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert knowledge.pricing().weight("470", FY2025) is None  # no FY2025 table ships
    out = load(SHIPPED_FY2026, "2025", capsys)
    assert "Loaded Table 5 for FY2025" in out
    assert "772 DRGs, 770 with a weight" in out
    assert "DRG 470    1.9289" in out
    assert "DRG 871    1.9425" in out
    installed = data_dir / "table5_fy2025.tsv"
    assert str(installed) in out
    assert installed.read_bytes() == SHIPPED_FY2026.read_bytes()
    # the process's pricing, a fresh instance, and one that finds the folder by the
    # environment variable all see it
    assert knowledge.pricing().weight("470", FY2025) == Decimal("1.9289")
    assert Table5Pricing(user_dir=data_dir).weight("470", FY2025) == Decimal("1.9289")
    os.environ["AUDITCOACH_DATA_DIR"] = str(data_dir)
    try:
        assert Table5Pricing().weight("470", FY2025) == Decimal("1.9289")
        assert 2025 in Table5Pricing().fiscal_years()
    finally:
        del os.environ["AUDITCOACH_DATA_DIR"]
    assert Table5Pricing().weight("470", FY2025) is None  # no folder: shipped tables only


def test_a_corrected_table_replaces_the_shipped_one(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrected = with_weight(tmp_path, "470", "1.9999")
    out = load(corrected, "2026", capsys)
    assert "It replaces the shipped table5_fy2026_v43.tsv for FY2026" in out
    assert "DRG 470    1.9999" in out
    assert knowledge.pricing().weight("470", FY2026) == Decimal("1.9999")
    assert Table5Pricing(user_dir=data_dir).weight("470", FY2026) == Decimal("1.9999")
    assert Table5Pricing(user_dir=data_dir).weight("871", FY2026) == Decimal("1.9425")
    assert Table5Pricing(user_dir=tmp_path / "elsewhere").weight("470", FY2026) == Decimal("1.9289")
    again = load(with_weight(tmp_path, "470", "1.9000"), "2027", capsys)
    assert "It replaces the shipped table5_fy2027_v44_correction_notice.tsv" in again


def test_auditcoach_score_uses_the_loaded_table(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # HF-1 (2026-05-14) regroups 292 -> 259; ΔRW = 1.1731 with the shipped table.
    load(with_weight(tmp_path, "259", "3.0000"), "2026", capsys)
    call_command("score", str(WORKED), "--json", "--base-rate", "6500")
    report = json.loads(capsys.readouterr().out)
    assert report["encounters"][0]["rw_delta"] == 2.151  # 3.0000 - 0.8490 (DRG 292)


def test_the_plain_layer_finds_the_folder_by_the_environment(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(with_weight(tmp_path, "259", "3.0000"), "2026", capsys)
    env = {**os.environ, "AUDITCOACH_DATA_DIR": str(data_dir)}
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        [str(bin_dir / "auditcoach"), "score", str(WORKED), "--json", "--base-rate", "6500"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["encounters"][0]["rw_delta"] == 2.151


def test_a_bad_file_exits_2_naming_the_line_and_column(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = with_weight(tmp_path, "003", "heavy")
    with pytest.raises(CommandError) as info:
        call_command("load_table5", str(bad), "--fiscal-year", "2025")
    assert info.value.returncode == 2
    message = str(info.value)
    assert str(bad) in message
    assert "line 4" in message  # header, 001, 002, then 003
    assert "weight_10pct_cap_applied" in message
    assert "nothing was installed" in message
    assert not (data_dir / "table5_fy2025.tsv").exists()


def test_missing_file_and_bad_year_exit_2(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as missing:
        call_command("load_table5", str(tmp_path / "nope.tsv"), "--fiscal-year", "2025")
    assert missing.value.returncode == 2
    assert "no such file" in str(missing.value)
    with pytest.raises(CommandError) as year:
        call_command("load_table5", str(SHIPPED_FY2026), "--fiscal-year", "26")
    assert year.value.returncode == 2
    assert "--fiscal-year" in str(year.value)


def test_the_folder_setting_then_environment_then_var_dir(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDITCOACH_DATA_DIR", raising=False)
    settings.AUDITCOACH_DATA_DIR = str(tmp_path / "setting")
    assert knowledge.user_data_dir() == tmp_path / "setting"
    del settings.AUDITCOACH_DATA_DIR
    monkeypatch.setenv("AUDITCOACH_DATA_DIR", str(tmp_path / "env"))
    assert knowledge.user_data_dir() == tmp_path / "env"
    monkeypatch.delenv("AUDITCOACH_DATA_DIR")
    assert knowledge.user_data_dir() == Path(settings.VAR_DIR) / "codesets"
