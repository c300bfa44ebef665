"""Relative weights and default base rates from CMS IPPS tables (DESIGN §6, financial impact).

`Table5Pricing` implements `engine.model.Pricing` over the CMS Table 5 files shipped in
`codesets/data/` (one per fiscal year; see its README for sources and limits). Tables are
read on first use and cached; nothing is read at import time. Plain Python: no Django here.

`load_table5(path)` reads and validates one Table 5 TSV; a command that loads a new
year's table uses it, so its errors name the file, the line and the column.

Tables loaded by `auditcoach load_table5` live in a user data folder as
`table5_fy{YYYY}.tsv` (`user_table5_path`). `Table5Pricing` looks there too: for a year
the project does not ship, after the shipped tables (it is the only one); for a year it
ships, first, so a corrected table replaces the shipped one. The folder is `user_dir`,
by default `$AUDITCOACH_DATA_DIR` (so the plain layer, e.g. `auditcoach score`, sees it
too); the Django side passes its settings' folder (`codesets.knowledge`).
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

__all__ = [
    "BASE_RATE_FILE",
    "DATA_DIR",
    "TABLE5_FILES",
    "USER_DATA_ENV",
    "Table5Error",
    "Table5Pricing",
    "Table5Row",
    "fiscal_year",
    "load_base_rates",
    "load_table5",
    "user_table5_path",
]

DATA_DIR = Path(__file__).resolve().parent / "data"

# Fiscal year -> Table 5 file in DATA_DIR. FY2027 is the correction-notice table (CN3,
# 2026-09-29), which supersedes the final rule's; no FY2025 (v42) table could be obtained.
TABLE5_FILES: dict[int, str] = {
    2026: "table5_fy2026_v43.tsv",
    2027: "table5_fy2027_v44_correction_notice.tsv",
}
BASE_RATE_FILE = "ipps_fy2027_standardized_amounts_partial.tsv"
USER_DATA_ENV = "AUDITCOACH_DATA_DIR"
_USER_TABLE5 = "table5_fy{fy}.tsv"

TABLE5_REQUIRED = ("ms_drg", "ms_drg_title", "weight_10pct_cap_applied")
TABLE5_OPTIONAL = (
    "post_acute_drg",
    "special_pay_drg",
    "mdc",
    "type",
    "weight_before_cap",
    "gmlos",
    "amlos",
)
_LABOR = "operating standardized amount - labor-related"
_NONLABOR = "operating standardized amount - nonlabor-related"
_BASE_RATE_COLUMNS = ("fiscal_year", "component", "amount_usd")


class Table5Error(ValueError):
    """A Table 5 (or rates) file that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Table5Row:
    """One MS-DRG of CMS Table 5. `weight` is the "10% cap applied" weight payment uses;
    None for 998/999 (and any DRG CMS prints without one)."""

    drg: str  # 3 digits
    title: str
    weight: Decimal | None
    weight_before_cap: Decimal | None = None
    mdc: str | None = None  # "01".."25", "PRE", or None (981-989, 998, 999)
    drg_type: str | None = None  # "MED", "SURG", or None ("**")
    post_acute: bool | None = None
    special_pay: bool | None = None
    gmlos: Decimal | None = None
    amlos: Decimal | None = None


def fiscal_year(on: date) -> int:
    """The federal fiscal year of a date: FY2026 = 2025-10-01..2026-09-30."""
    return on.year + 1 if on.month >= 10 else on.year


def user_table5_path(user_dir: str | Path, fy: int) -> Path:
    """Where a loaded Table 5 of fiscal year `fy` lives in a user data folder."""
    return Path(user_dir) / _USER_TABLE5.format(fy=fy)


def _where(path: Path, line: int) -> str:
    return f"{path}: line {line}"


def _decimal(raw: str, *, path: Path, line: int, column: str) -> Decimal | None:
    """CMS prints a missing number as "." or leaves it blank."""
    raw = raw.strip()
    if raw in ("", "."):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Table5Error(f"{_where(path, line)}: {column} is not a number: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise Table5Error(f"{_where(path, line)}: {column} must be a number >= 0: {raw!r}")
    return value


def _yes_no(raw: str, *, path: Path, line: int, column: str) -> bool | None:
    value = raw.strip().upper()
    if value == "":
        return None
    if value in ("YES", "Y"):
        return True
    if value in ("NO", "N"):
        return False
    raise Table5Error(f"{_where(path, line)}: {column} must be Yes or No: {raw!r}")


def load_table5(path: str | Path) -> dict[str, Table5Row]:
    """Read one Table 5 TSV (UTF-8, tab-separated, one header row) into rows by DRG.

    The header must name `ms_drg`, `ms_drg_title` and `weight_10pct_cap_applied`; the
    other columns of the CMS table (post_acute_drg, special_pay_drg, mdc, type,
    weight_before_cap, gmlos, amlos) are read when present, unknown ones are ignored.
    DRGs are zero-padded to 3 digits. Raises `Table5Error` (a ValueError) naming the file
    and line for: a missing file, an empty file, a missing or repeated column, a row with
    the wrong number of cells, a DRG that is not 1-3 digits or appears twice, a weight or
    length of stay that is not a number >= 0, and a table without any weighted DRG.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise Table5Error(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise Table5Error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise Table5Error(f"{path}: the file is empty (expected a header row)")
    header = [name.strip().lower() for name in rows[0]]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise Table5Error(f"{_where(path, 1)}: repeated columns: {', '.join(repeated)}")
    missing = [name for name in TABLE5_REQUIRED if name not in header]
    if missing:
        raise Table5Error(
            f"{_where(path, 1)}: missing columns: {', '.join(missing)} "
            f"(the header has: {', '.join(header) or 'nothing'}; is it tab-separated?)"
        )
    col = {name: i for i, name in enumerate(header)}

    out: dict[str, Table5Row] = {}
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(header):
            raise Table5Error(
                f"{_where(path, line)}: {len(cells)} cells, the header has {len(header)}"
            )

        def cell(name: str, cells: list[str] = cells) -> str:
            i = col.get(name)
            return "" if i is None else cells[i].strip()

        drg = cell("ms_drg")
        if not (drg.isdigit() and len(drg) <= 3):
            raise Table5Error(f"{_where(path, line)}: ms_drg must be 1-3 digits: {drg!r}")
        drg = drg.zfill(3)
        if drg in out:
            raise Table5Error(f"{_where(path, line)}: DRG {drg} appears twice")
        mdc = cell("mdc")
        kind = cell("type")
        out[drg] = Table5Row(
            drg=drg,
            title=cell("ms_drg_title"),
            weight=_decimal(
                cell("weight_10pct_cap_applied"),
                path=path,
                line=line,
                column="weight_10pct_cap_applied",
            ),
            weight_before_cap=_decimal(
                cell("weight_before_cap"), path=path, line=line, column="weight_before_cap"
            ),
            mdc=(mdc.zfill(2) if mdc.isdigit() else mdc) or None,
            drg_type=kind if kind in ("MED", "SURG") else None,
            post_acute=_yes_no(
                cell("post_acute_drg"), path=path, line=line, column="post_acute_drg"
            ),
            special_pay=_yes_no(
                cell("special_pay_drg"), path=path, line=line, column="special_pay_drg"
            ),
            gmlos=_decimal(cell("gmlos"), path=path, line=line, column="gmlos"),
            amlos=_decimal(cell("amlos"), path=path, line=line, column="amlos"),
        )
    if not any(row.weight is not None for row in out.values()):
        raise Table5Error(f"{path}: no DRG with a weight (is this a Table 5 file?)")
    return out


def load_base_rates(path: str | Path) -> dict[int, Decimal]:
    """National standardized amount (operating, labor + nonlabor, wage index 1.0) by fiscal
    year, from a rates TSV with columns fiscal_year, component, amount_usd. Years without
    both the labor and the nonlabor row are left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise Table5Error(f"{path}: no such file") from None
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [c for c in _BASE_RATE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise Table5Error(f"{_where(path, 1)}: missing columns: {', '.join(missing)}")
    parts: dict[int, dict[str, Decimal]] = {}
    for line, row in enumerate(reader, start=2):
        component = (row["component"] or "").strip()
        if component not in (_LABOR, _NONLABOR):
            continue
        try:
            fy = int(row["fiscal_year"])
        except (TypeError, ValueError):
            raise Table5Error(
                f"{_where(path, line)}: fiscal_year is not a year: {row['fiscal_year']!r}"
            ) from None
        amount = _decimal(row["amount_usd"] or "", path=path, line=line, column="amount_usd")
        if amount is None:
            raise Table5Error(f"{_where(path, line)}: amount_usd is missing")
        parts.setdefault(fy, {})[component] = amount
    return {
        fy: p[_LABOR] + p[_NONLABOR] for fy, p in parts.items() if _LABOR in p and _NONLABOR in p
    }


class Table5Pricing:
    """`engine.model.Pricing` over CMS Table 5, by the fiscal year of the date.

    `data_dir` and `tables` (fiscal year -> file name in data_dir) default to the files
    shipped with the package. `user_dir` is the folder of loaded tables
    (`table5_fy{YYYY}.tsv`), searched before the shipped ones; None means
    `$AUDITCOACH_DATA_DIR` when set. A fiscal year without a table gives None
    everywhere. Tables (and the absence of one) are read once; `clear()` forgets them,
    so a table loaded meanwhile is seen.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        tables: Mapping[int, str] | None = None,
        base_rate_file: str | None = BASE_RATE_FILE,
        *,
        user_dir: str | Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
        self.tables = dict(TABLE5_FILES if tables is None else tables)
        self.base_rate_file = base_rate_file
        if user_dir is None:
            user_dir = os.environ.get(USER_DATA_ENV) or None
        self.user_dir = Path(user_dir) if user_dir is not None else None
        self._loaded: dict[int, dict[str, Table5Row] | None] = {}
        self._base_rates: dict[int, Decimal] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def fiscal_year(on: date) -> int:
        return fiscal_year(on)

    def fiscal_years(self) -> list[int]:
        """The fiscal years with a Table 5 (shipped or loaded)."""
        years = set(self.tables)
        if self.user_dir is not None and self.user_dir.is_dir():
            for path in self.user_dir.glob("table5_fy*.tsv"):
                digits = path.stem.removeprefix("table5_fy")
                if digits.isdigit() and path == user_table5_path(self.user_dir, int(digits)):
                    years.add(int(digits))
        return sorted(years)

    def table_path(self, fy: int) -> Path | None:
        """The file a fiscal year's Table 5 is read from: the loaded one in `user_dir`
        when there is one, else the shipped one, else None."""
        if self.user_dir is not None:
            loaded = user_table5_path(self.user_dir, fy)
            if loaded.is_file():
                return loaded
        name = self.tables.get(fy)
        return self.data_dir / name if name is not None else None

    def table(self, fy: int) -> dict[str, Table5Row] | None:
        """The Table 5 of a fiscal year (read once), or None when there is none."""
        try:
            return self._loaded[fy]
        except KeyError:
            pass
        with self._lock:
            if fy not in self._loaded:
                path = self.table_path(fy)
                self._loaded[fy] = load_table5(path) if path is not None else None
            return self._loaded[fy]

    def clear(self) -> None:
        """Forget the tables read so far (the next question reads the files again)."""
        with self._lock:
            self._loaded.clear()

    def row(self, drg: str, on: date) -> Table5Row | None:
        table = self.table(fiscal_year(on))
        if table is None:
            return None
        return table.get(drg if len(drg) == 3 else drg.strip().zfill(3))

    def weight(self, drg: str, on: date) -> Decimal | None:
        """The "10% cap applied" relative weight; None for 998/999, a DRG not in the
        table of that year, or a year without a table."""
        row = self.row(drg, on)
        return None if row is None else row.weight

    def drg_title(self, drg: str, on: date) -> str | None:
        """The MS-DRG title as CMS prints it in Table 5 (upper case)."""
        row = self.row(drg, on)
        return None if row is None else row.title

    def default_base_rate(self, on: date) -> Decimal | None:
        """National standardized amount, labor + nonlabor (wage index 1.0), of the fiscal
        year; None where the project has none (only FY2027, 6848.98, is known)."""
        rates = self._base_rates
        if rates is None:
            with self._lock:
                rates = self._base_rates
                if rates is None:
                    rates = self._base_rates = (
                        load_base_rates(self.data_dir / self.base_rate_file)
                        if self.base_rate_file
                        else {}
                    )
        return rates.get(fiscal_year(on))
