"""Writing a list to CSV or XLSX: a column spec, typed cells, formula neutralising, masking.

Framework-free: the Django side (`auditcoach.exports`) picks the rows with the screen's own
selector and streams what this module writes. Both writers take the rows as an iterable and
never hold more than one row (CSV) or one openpyxl row (XLSX, write-only mode, spooled to a
file by openpyxl) in memory, so a 100k-row list costs what one row costs (bench/exports.py).

The rules (docs/exports.md):

- Header row of words, one column per `Column`, in the spec's order.
- Cell kinds: text, integer, decimal, money, date, datetime, percent. XLSX cells carry the
  type (a date is a date with the format `yyyy-mm-dd`, money a number with a currency
  format, a percent a fraction with `0.0%`); CSV writes ISO dates (`2026-12-03`), datetimes
  as `2026-12-03 14:05` in the given time zone (XLSX: to the second), money and decimals as plain numbers
  (`-1234.50`, no currency sign so spreadsheets read a number), percents as `87.5%`.
- An empty value (None) is an empty cell in both.
- Formula-looking text is neutralised (OWASP "CSV injection"): a text cell whose first
  character is `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe in
  CSV; in XLSX it is written as a string cell with Excel's "quote prefix" style, which Excel
  shows as typed and never evaluates, even after the cell is edited. Only text cells are
  touched: a negative number is a number, not a formula.
- Account numbers (`Column(account=True)`) are masked unless the caller says otherwise:
  `mask_account`.
- XLSX cannot hold XML control characters (other than tab, newline and carriage return) or
  more than 32,767 characters in a cell: those characters are dropped, longer text is cut.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import IO, Any, Final

from auditcoach.engine.workbook import xlsx_escape

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
MASK: Final = "••••"
BOM: Final = "\ufeff"

DATE_FORMAT: Final = "yyyy-mm-dd"
DATETIME_FORMAT: Final = "yyyy-mm-dd hh:mm"
MONEY_FORMAT: Final = '"$"#,##0.00;[Red]-"$"#,##0.00'
DECIMAL_FORMAT: Final = "#,##0.00"
PERCENT_FORMAT: Final = "0.0%"
INTEGER_FORMAT: Final = "0"
XLSX_CELL_MAX: Final = 32767


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    PERCENT = "percent"  # the value is a fraction in [0, 1]: 0.875 is 87.5%


NUMBER_FORMATS: Final = {
    Kind.INTEGER: INTEGER_FORMAT,
    Kind.DECIMAL: DECIMAL_FORMAT,
    Kind.MONEY: MONEY_FORMAT,
    Kind.DATE: DATE_FORMAT,
    Kind.DATETIME: DATETIME_FORMAT,
    Kind.PERCENT: PERCENT_FORMAT,
}


@dataclass(frozen=True, slots=True)
class Column[T]:
    """One column of an export: its header in words, how to get the value from a row, and
    the cell kind. `account=True` marks an account number (an encounter id), masked unless
    the export includes account numbers."""

    header: str
    value: Callable[[T], Any]
    kind: Kind = Kind.TEXT
    account: bool = False


def neutralise(text: str) -> str:
    """The CSV form of a text cell: a leading apostrophe when it could start a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def mask_account(value: str) -> str:
    """`••••` and the id's last four characters, or its last half when it is shorter than
    eight (so "HF-1" is "••••-1", never the whole id). Empty stays empty."""
    if not value:
        return ""
    keep = 4 if len(value) >= 8 else len(value) // 2
    return MASK + (value[-keep:] if keep else "")


def _naive(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    # Spreadsheets have no time zones: an aware datetime is written as wall time in `tz`.
    return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value


def cell_value[T](column: Column[T], row: T, *, accounts: bool, tz: dt.tzinfo = dt.UTC) -> Any:
    """The typed value of `column` for `row`: str, int, Decimal, date, datetime or None."""
    value = column.value(row)
    if value is None or (value == "" and column.kind != Kind.TEXT):
        return None
    match column.kind:
        case Kind.TEXT:
            text = str(value)
            return mask_account(text) if column.account and not accounts else text
        case Kind.INTEGER:
            return int(value)
        case Kind.DECIMAL | Kind.MONEY | Kind.PERCENT:
            # Floats stay floats: Excel's numbers are doubles, and a round trip through
            # Decimal would print them to fewer digits than they have.
            return value if isinstance(value, Decimal | float | int) else Decimal(str(value))
        case Kind.DATETIME:
            if not isinstance(value, dt.datetime):
                raise TypeError(f"{column.header}: a datetime column got {value!r}")
            # To the second: the screens show minutes, and Excel's serial dates round
            # microseconds away anyway.
            return _naive(value, tz).replace(microsecond=0)
        case Kind.DATE:
            if isinstance(value, dt.datetime):
                return _naive(value, tz).date()
            if not isinstance(value, dt.date):
                raise TypeError(f"{column.header}: a date column got {value!r}")
            return value
    raise AssertionError(column.kind)  # pragma: no cover - the match is exhaustive


def csv_text(kind: Kind, value: Any) -> str:
    """How a typed value is written in CSV."""
    if value is None:
        return ""
    match kind:
        case Kind.TEXT:
            return neutralise(str(value))
        case Kind.MONEY:
            return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"
        case Kind.PERCENT:
            pct = (Decimal(str(value)) * 100).quantize(Decimal("0.1"))
            return f"{pct}%"
        case Kind.DATETIME:
            return f"{value:%Y-%m-%d %H:%M}"
        case Kind.DATE:
            return str(value.isoformat())
    return str(value)


def _csv_line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(list(cells))
    return buffer.getvalue()


def csv_lines[T](
    columns: list[Column[T]], rows: Iterable[T], *, accounts: bool, tz: dt.tzinfo = dt.UTC
) -> Iterator[str]:
    """The CSV file line by line: a byte-order mark and the header first (UTF-8 with BOM,
    so Excel opens it as UTF-8), CRLF line ends (RFC 4180)."""
    yield BOM + _csv_line(neutralise(c.header) for c in columns)
    for row in rows:
        yield _csv_line(
            csv_text(c.kind, cell_value(c, row, accounts=accounts, tz=tz)) for c in columns
        )


def xlsx_write[T](
    columns: list[Column[T]],
    rows: Iterable[T],
    target: IO[bytes],
    *,
    title: str,
    accounts: bool,
    tz: dt.tzinfo = dt.UTC,
) -> int:
    """Write the workbook (one sheet named `title`) to `target`; return the number of rows.

    openpyxl's write-only mode streams each row to a temporary file as it is appended."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    bold = Font(bold=True)

    def text_cell(text: str, *, header: bool = False) -> WriteOnlyCell:
        # Excel holds 32,767 characters per cell; control characters and "_xHHHH_" look-
        # alikes go as the format's own escapes, as the workbook writer does, so the text
        # reads back as it was.
        text = xlsx_escape(text[:XLSX_CELL_MAX])
        cell = WriteOnlyCell(sheet)
        # Assigning the value would make "=..." a formula; a string cell never is.
        cell.value = text
        cell.data_type = "s"
        if looks_like_formula(text):
            cell.quotePrefix = True
        if header:
            cell.font = bold
        return cell

    sheet.append([text_cell(c.header, header=True) for c in columns])
    count = 0
    for row in rows:
        cells = []
        for column in columns:
            value = cell_value(column, row, accounts=accounts, tz=tz)
            if column.kind == Kind.TEXT and value is not None:
                cells.append(text_cell(value))
                continue
            cell = WriteOnlyCell(sheet, value=value)
            if value is not None and column.kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)
        count += 1
    workbook.save(target)
    return count


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\ .
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return (cleaned or "Export")[:31]


def filename(list_name: str, org_slug: str, day: dt.date, extension: str) -> str:
    """`findings-north-health-2026-12-03.xlsx`: the list, the organization and the date."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in list_name.lower())
    return f"{safe}-{org_slug}-{day.isoformat()}.{extension}"
