"""Table5Pricing: weights by fiscal year, titles, default base rates, and the loader."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from auditcoach.codesets.pricing import (
    DATA_DIR,
    TABLE5_FILES,
    Table5Error,
    Table5Pricing,
    fiscal_year,
    load_table5,
)
from auditcoach.engine.model import Pricing

FY2026 = date(2026, 5, 14)
FY2027 = date(2026, 11, 1)

HEADER = (
    "ms_drg\tpost_acute_drg\tspecial_pay_drg\tmdc\ttype\tms_drg_title\t"
    "weight_before_cap\tweight_10pct_cap_applied\tgmlos\tamlos\n"
)


@pytest.fixture(scope="module")
def pricing() -> Table5Pricing:
    return Table5Pricing()


def test_is_a_pricing() -> None:
    p: Pricing = Table5Pricing()
    assert p.weight("470", FY2026) == Decimal("1.9289")


@pytest.mark.parametrize(
    ("drg", "weight"),
    [("470", "1.9289"), ("871", "1.9425"), ("291", "1.2838"), ("001", "28.0239")],
)
def test_fy2026_weights(pricing: Table5Pricing, drg: str, weight: str) -> None:
    assert pricing.weight(drg, FY2026) == Decimal(weight)


def test_fy2027_weight_is_the_correction_notice(pricing: Table5Pricing) -> None:
    assert pricing.weight("470", FY2027) == Decimal("1.9563")  # 1.9560 before correction
    assert pricing.weight("470", date(2026, 10, 1)) == Decimal("1.9563")
    assert pricing.weight("470", date(2026, 9, 30)) == Decimal("1.9289")


def test_worked_example_deltas(pricing: Table5Pricing) -> None:
    hf1 = date(2026, 5, 14)
    pna2 = date(2026, 6, 2)
    assert pricing.weight("259", hf1) - pricing.weight("292", hf1) == Decimal("1.1731")  # type: ignore[operator]
    assert pricing.weight("193", pna2) - pricing.weight("640", pna2) == Decimal("-0.0212")  # type: ignore[operator]


@pytest.mark.parametrize("drg", ["998", "999"])
def test_no_weight_for_ungroupable(pricing: Table5Pricing, drg: str) -> None:
    assert pricing.weight(drg, FY2026) is None
    assert pricing.weight(drg, FY2027) is None


def test_unknown_drg_and_year(pricing: Table5Pricing) -> None:
    assert pricing.weight("259", FY2027) is None  # deleted in v44
    assert pricing.weight("470", date(2025, 5, 1)) is None  # no FY2025 table
    assert pricing.weight("470", date(2027, 10, 1)) is None


def test_drg_given_without_padding(pricing: Table5Pricing) -> None:
    assert pricing.weight("1", FY2026) == Decimal("28.0239")


def test_default_base_rate(pricing: Table5Pricing) -> None:
    assert pricing.default_base_rate(FY2026) is None
    assert pricing.default_base_rate(FY2027) == Decimal("6848.98")


def test_titles(pricing: Table5Pricing) -> None:
    assert pricing.drg_title("470", FY2026) == (
        "MAJOR HIP AND KNEE JOINT REPLACEMENT OR REATTACHMENT OF LOWER EXTREMITY WITHOUT MCC"
    )
    assert pricing.drg_title("999", FY2026) == "UNGROUPABLE"
    assert pricing.drg_title("470", date(2020, 1, 1)) is None


@pytest.mark.parametrize(
    ("on", "fy"),
    [
        (date(2025, 9, 30), 2025),
        (date(2025, 10, 1), 2026),
        (date(2026, 9, 30), 2026),
        (date(2026, 10, 1), 2027),
        (date(2027, 1, 1), 2027),
    ],
)
def test_fiscal_year(on: date, fy: int) -> None:
    assert fiscal_year(on) == fy
    assert Table5Pricing.fiscal_year(on) == fy


def test_nothing_is_read_until_asked() -> None:
    p = Table5Pricing()
    assert p._loaded == {}
    assert p._base_rates is None
    p.weight("470", FY2026)
    assert list(p._loaded) == [2026]


# The shipped tables.


def test_shipped_tables_load() -> None:
    fy26 = load_table5(DATA_DIR / TABLE5_FILES[2026])
    fy27 = load_table5(DATA_DIR / TABLE5_FILES[2027])
    assert len(fy26) == 772
    assert len(fy27) == 768
    row = fy26["470"]
    assert row.weight == Decimal("1.9289")
    assert row.mdc == "08"
    assert row.drg_type == "SURG"
    assert row.post_acute is True
    assert fy26["001"].mdc == "PRE"
    assert fy27["981"].mdc is None


# The loader's errors.


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "table5.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_loader_reads_a_minimal_table(tmp_path: Path) -> None:
    path = write(tmp_path, "ms_drg\tms_drg_title\tweight_10pct_cap_applied\n1\tA\t1.5\n999\tU\t.\n")
    table = load_table5(path)
    assert table["001"].weight == Decimal("1.5")
    assert table["999"].weight is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("ms_drg,ms_drg_title,weight_10pct_cap_applied\n001,A,1.5\n", "missing columns"),
        ("ms_drg\tms_drg_title\tweight\n001\tA\t1.5\n", "weight_10pct_cap_applied"),
        ("ms_drg\tms_drg\tms_drg_title\tweight_10pct_cap_applied\n", "repeated columns: ms_drg"),
        (HEADER + "001\tNo\tNo\tPRE\tSURG\tA\t1.5\n", "line 2: 7 cells"),
        (HEADER + "01A\tNo\tNo\tPRE\tSURG\tA\t1.5\t1.5\t1\t1\n", "ms_drg must be 1-3 digits"),
        (
            HEADER
            + "001\tNo\tNo\tPRE\tSURG\tA\t1.5\t1.5\t1\t1\n"
            + "1\tNo\tNo\tPRE\tSURG\tA\t1\t1\t1\t1\n",
            "line 3: DRG 001 appears twice",
        ),
        (HEADER + "001\tNo\tNo\tPRE\tSURG\tA\t1.5\tabc\t1\t1\n", "is not a number"),
        (HEADER + "001\tNo\tNo\tPRE\tSURG\tA\t1.5\t-1\t1\t1\n", ">= 0"),
        (HEADER + "001\tMaybe\tNo\tPRE\tSURG\tA\t1.5\t1.5\t1\t1\n", "Yes or No"),
        (HEADER + "999\tNo\tNo\t\t**\tU\t\t\t\t\n", "no DRG with a weight"),
    ],
)
def test_loader_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(Table5Error, match=message) as err:
        load_table5(path)
    assert str(path) in str(err.value)


def test_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(Table5Error, match="no such file"):
        load_table5(tmp_path / "nope.tsv")


def test_pricing_from_another_directory(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text(
        "ms_drg\tms_drg_title\tweight_10pct_cap_applied\n470\tHIP\t2.0000\n", encoding="utf-8"
    )
    p = Table5Pricing(tmp_path, {2030: "t.tsv"}, base_rate_file=None)
    assert p.weight("470", date(2030, 1, 1)) == Decimal("2.0000")
    assert p.default_base_rate(date(2030, 1, 1)) is None


# --------------------------------------------------------------------------- loaded tables


def _table(folder: Path, fy: int, weight: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"table5_fy{fy}.tsv"
    path.write_text(
        f"ms_drg\tms_drg_title\tweight_10pct_cap_applied\n470\tHIP\t{weight}\n", encoding="utf-8"
    )
    return path


def test_a_loaded_table_adds_a_year_and_replaces_a_shipped_one(tmp_path: Path) -> None:
    user = tmp_path / "user"
    _table(user, 2025, "1.5000")
    _table(user, 2026, "1.7777")
    p = Table5Pricing(user_dir=user)
    assert p.weight("470", date(2025, 5, 1)) == Decimal("1.5000")  # not shipped: added
    assert p.weight("470", FY2026) == Decimal("1.7777")  # shipped: replaced
    assert p.weight("871", FY2026) is None  # the whole table is replaced, not merged
    assert p.weight("470", FY2027) == Decimal("1.9563")  # shipped, not loaded
    assert p.fiscal_years() == [2025, 2026, 2027]
    assert p.table_path(2026) == user / "table5_fy2026.tsv"
    assert p.table_path(2027) == DATA_DIR / TABLE5_FILES[2027]
    assert p.table_path(2030) is None


def test_tables_are_read_once_until_cleared(tmp_path: Path) -> None:
    user = tmp_path / "user"
    p = Table5Pricing(user_dir=user)
    assert p.weight("470", date(2025, 5, 1)) is None
    _table(user, 2025, "1.5000")
    assert p.weight("470", date(2025, 5, 1)) is None  # the absence was remembered
    p.clear()
    assert p.weight("470", date(2025, 5, 1)) == Decimal("1.5000")


def test_the_user_folder_defaults_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _table(tmp_path, 2025, "1.5000")
    monkeypatch.setenv("AUDITCOACH_DATA_DIR", str(tmp_path))
    assert Table5Pricing().user_dir == tmp_path
    assert Table5Pricing().weight("470", date(2025, 5, 1)) == Decimal("1.5000")
    monkeypatch.delenv("AUDITCOACH_DATA_DIR")
    assert Table5Pricing().user_dir is None
