"""The export writers without a database: formula neutralising, masking, typed cells, CSV
shape. XLSX files are read back with python-calamine (values) and openpyxl (formats)."""

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
from hypothesis import given
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from auditcoach.lib.exports import (
    BOM,
    DATE_FORMAT,
    DATETIME_FORMAT,
    MASK,
    MONEY_FORMAT,
    PERCENT_FORMAT,
    Column,
    Kind,
    csv_lines,
    filename,
    mask_account,
    neutralise,
    xlsx_write,
)

type Row = tuple[Any, ...]

TEXT: list[Column[Row]] = [Column("Text", lambda r: r[0])]

# Text that starts like a formula, then anything XML can hold (no control characters, which
# XLSX cannot carry and the writer drops).
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)
formula_like = st.builds(lambda a, b: a + b, st.sampled_from(["=", "+", "-", "@"]), xml_text)


def xlsx(columns: list[Column[Row]], rows: list[Row], *, accounts: bool = True) -> bytes:
    buffer = io.BytesIO()
    xlsx_write(columns, rows, buffer, title="Test", accounts=accounts)
    return buffer.getvalue()


def calamine(data: bytes) -> list[list[Any]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(0).to_python(skip_empty_area=False)


def csv_rows(
    columns: list[Column[Row]], rows: list[Row], *, accounts: bool = True
) -> list[list[str]]:
    text = "".join(csv_lines(columns, rows, accounts=accounts))
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :])))


@given(formula_like)
def test_csv_neutralises_formula_looking_text(text: str) -> None:
    rows = csv_rows(TEXT, [(text,)])
    assert rows[1] == ["'" + text]


@given(formula_like)
def test_xlsx_keeps_formula_looking_text_as_a_string_never_a_formula(text: str) -> None:
    data = xlsx(TEXT, [(text,)])
    assert calamine(data)[1] == [text]
    cell = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]["A2"]
    assert cell.data_type == "s"  # a string cell: Excel shows it, never evaluates it
    assert cell.quotePrefix  # and keeps it text when the cell is edited
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet  # no formula element anywhere in the sheet


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_neutralise_touches_only_formula_starts(text: str) -> None:
    out = neutralise(text)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert out == "'" + text
    else:
        assert out == text


def test_numbers_are_not_neutralised() -> None:
    columns: list[Column[Row]] = [Column("Impact", lambda r: r[0], Kind.MONEY)]
    assert csv_rows(columns, [(Decimal("-12.5"),)])[1] == ["-12.50"]
    assert calamine(xlsx(columns, [(Decimal("-12.5"),)]))[1] == [-12.5]


@given(st.text(min_size=1, max_size=30))
def test_masking_never_shows_the_whole_id(account: str) -> None:
    masked = mask_account(account)
    assert masked.startswith(MASK)
    shown = masked[len(MASK) :]
    assert account.endswith(shown)
    assert len(shown) <= 4
    assert len(shown) < len(account) or not shown


def test_masking_examples() -> None:
    assert mask_account("ACCT-00012345") == "••••2345"
    assert mask_account("HF-1") == "••••-1"
    assert mask_account("7") == "••••"
    assert mask_account("") == ""


def test_account_columns_masked_unless_included() -> None:
    columns: list[Column[Row]] = [Column("Encounter", lambda r: r[0], account=True)]
    assert csv_rows(columns, [("ACCT-00012345",)], accounts=False)[1] == ["••••2345"]
    assert csv_rows(columns, [("ACCT-00012345",)], accounts=True)[1] == ["ACCT-00012345"]
    assert calamine(xlsx(columns, [("ACCT-00012345",)], accounts=False))[1] == ["••••2345"]


KINDS: list[Column[Row]] = [
    Column("Day", lambda r: r[0], Kind.DATE),
    Column("At", lambda r: r[1], Kind.DATETIME),
    Column("Money", lambda r: r[2], Kind.MONEY),
    Column("Share", lambda r: r[3], Kind.PERCENT),
    Column("Count", lambda r: r[4], Kind.INTEGER),
]
ROW: Row = (
    dt.date(2026, 5, 14),
    dt.datetime(2026, 5, 14, 9, 30, 15, 123456, tzinfo=dt.UTC),
    Decimal("1234.5"),
    0.875,
    3,
)


def test_xlsx_cells_are_typed_with_formats() -> None:
    data = xlsx(KINDS, [ROW])
    assert calamine(data)[1] == [
        dt.date(2026, 5, 14),
        dt.datetime(2026, 5, 14, 9, 30, 15),  # wall time, to the second
        1234.5,
        0.875,
        3.0,
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    formats = [c.number_format for c in sheet[2]]
    assert formats == [DATE_FORMAT, DATETIME_FORMAT, MONEY_FORMAT, PERCENT_FORMAT, "0"]
    assert sheet["A1"].font.bold


def test_csv_cells_iso_and_plain_numbers() -> None:
    assert csv_rows(KINDS, [ROW])[1] == ["2026-05-14", "2026-05-14 09:30", "1234.50", "87.5%", "3"]


def test_empty_values_are_empty_cells() -> None:
    empty: Row = (None, None, None, None, 0)
    assert csv_rows(KINDS, [empty])[1] == ["", "", "", "", "0"]
    assert calamine(xlsx(KINDS, [empty]))[1] == ["", "", "", "", 0.0]


def test_control_characters_kept_in_xlsx_as_in_csv() -> None:
    # escaped as the format allows (`_x001F_`), so the export says what the screen holds
    assert calamine(xlsx(TEXT, [("a\x01b\x1fc",)]))[1] == ["a\x01b\x1fc"]


def test_header_and_row_count() -> None:
    buffer = io.BytesIO()
    n = xlsx_write(TEXT, [("a",), ("b",)], buffer, title="A/B: [x]", accounts=False)
    assert n == 2
    book = CalamineWorkbook.from_filelike(io.BytesIO(buffer.getvalue()))
    assert book.sheet_names == ["A B   x"]


def test_filename_has_the_list_org_and_date() -> None:
    day = dt.date(2026, 12, 3)
    assert (
        filename("findings", "north-health", day, "xlsx") == "findings-north-health-2026-12-03.xlsx"
    )
    assert filename("encounters-Q2 / west", "north-health", day, "csv") == (
        "encounters-q2---west-north-health-2026-12-03.csv"
    )


@given(
    st.text(
        alphabet=st.sampled_from(["_", "x", "0", "4", "1", "A", "\r", "\t", "\x01", "a"]),
    ).filter(str.strip)
)
def test_xlsx_text_reads_back_as_it_was(text: str) -> None:
    """Escape look-alikes ("_x0041_") and control characters are written with the format's
    own escapes (as the workbook writer does), so the cell reads back unchanged. (A cell of
    whitespace alone reads back empty, as with any xlsx writer: not tested here.)"""
    assert calamine(xlsx(TEXT, [(text,)]))[1] == [text]


def test_xlsx_escape_examples() -> None:
    for text in ("_x0041_", "ab_x000D_c", "line\rbreak"):
        assert calamine(xlsx(TEXT, [(text,)]))[1] == [text]
