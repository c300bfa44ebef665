"""Forms of the coding-knowledge screens: the licensed CPT upload, a facility's base rate,
and the code search. They validate and hand clean values to services; they never save."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict

from auditcoach.audits.forms import CODE_FORMATS
from auditcoach.engine.codes import normalize_code
from auditcoach.engine.model import SYSTEMS
from auditcoach.engine.workbook import Problem

MAX_CPT_FILE_BYTES: Final = 20 * 1024 * 1024  # the full CPT set is a few MB
MAX_CPT_ROWS: Final = 100_000
MAX_PROBLEMS_SHOWN: Final = 200
MAX_DESCRIPTION: Final = 2000
# Column names as licensed files spell them (AMA data files, encoder exports, our own).
CODE_COLUMNS: Final = ("code", "cpt", "cpt code", "cpt_code", "cptcode", "hcpcs")
DESCRIPTION_COLUMNS: Final = (
    "description",
    "descriptor",
    "long descriptor",
    "long_descriptor",
    "long description",
    "long_description",
    "clinician descriptor",
)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Files saved by Excel on Windows are often cp1252; every byte decodes in latin-1.
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    cleaned = [" ".join(h.strip().lower().split()) for h in header]
    for name in names:
        if name in cleaned:
            return cleaned.index(name)
    return None


def parse_cpt_file(name: str, raw: bytes) -> tuple[list[tuple[str, str]], list[Problem]]:
    """Read a CSV or TSV of (code, description): the rows, and every problem found.

    The delimiter is a tab for .tsv/.txt files or when the header has a tab, else a comma.
    Rows are numbered as a spreadsheet shows them (the header is row 1); blank rows are
    skipped. A code is normalized (dots and spaces dropped, upper case) and must be 5 digits,
    or 4 digits and F (category II) or T (category III).
    """
    text = _decode(raw)
    first = text.split("\n", 1)[0]
    tab = Path(name).suffix.lower() in {".tsv", ".txt"} or "\t" in first
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if tab else ",")
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(name, None, None, "The file is empty.")]
    code_at = _column(header, CODE_COLUMNS)
    text_at = _column(header, DESCRIPTION_COLUMNS)
    if code_at is None:
        problems.append(Problem(name, 1, "code", "No “code” column in the header row."))
    if text_at is None:
        problems.append(
            Problem(name, 1, "description", "No “description” column in the header row.")
        )
    if code_at is None or text_at is None:
        return [], problems
    pattern, message = CODE_FORMATS["CPT"]
    rows: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) + len(problems) >= MAX_CPT_ROWS:
            problems.append(Problem(name, number, None, f"More than {MAX_CPT_ROWS:,} rows."))
            break
        raw_code = cells[code_at] if code_at < len(cells) else ""
        description = " ".join((cells[text_at] if text_at < len(cells) else "").split())
        code = normalize_code(raw_code)
        ok = True
        if not code:
            problems.append(Problem(name, number, "code", "The code is blank."))
            ok = False
        elif not pattern.fullmatch(code):
            problems.append(Problem(name, number, "code", f"{raw_code.strip()!r}: {message}"))
            ok = False
        elif code in seen:
            problems.append(Problem(name, number, "code", f"{code} is also on row {seen[code]}."))
            ok = False
        if not description:
            problems.append(Problem(name, number, "description", "The description is blank."))
            ok = False
        elif len(description) > MAX_DESCRIPTION:
            problems.append(
                Problem(name, number, "description", f"Longer than {MAX_DESCRIPTION} characters.")
            )
            ok = False
        if ok:
            seen[code] = number
            rows.append((code, description))
    if not rows and not problems:
        problems.append(Problem(name, None, None, "The file has a header but no codes."))
    return rows, problems


class CptUploadForm(forms.Form):
    """The organization's licensed CPT file. On a bad file `problems` lists every problem
    (the first `MAX_PROBLEMS_SHOWN`) and `problem_total` counts them; nothing is saved."""

    file = forms.FileField(
        label="CPT file",
        help_text="A .csv or .tsv with a header row and the columns “code” and “description”.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.problems: list[Problem] = []
        self.problem_total = 0
        self.source = ""

    def clean_file(self) -> list[tuple[str, str]]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        name = Path(upload.name or "cpt.csv").name
        if Path(name).suffix.lower() not in {".csv", ".tsv", ".txt"}:
            raise ValidationError("Upload a .csv or .tsv file.")
        if (upload.size or 0) > MAX_CPT_FILE_BYTES:
            raise ValidationError("The file is larger than 20 MB.")
        rows, problems = parse_cpt_file(name, upload.read())
        self.source = name
        if problems:
            self.problems = problems[:MAX_PROBLEMS_SHOWN]
            self.problem_total = len(problems)
            n = len(problems)
            raise ValidationError(
                "The file has %(n)s problem%(s)s; nothing was loaded. "
                "Fix them and upload it again.",
                params={"n": n, "s": "" if n == 1 else "s"},
                code="cpt_file",
            )
        return rows


class BaseRateForm(forms.Form):
    """A facility's base rate in dollars (`6500`, `6,500.00`, `$6500`), or blank to clear."""

    base_rate = forms.CharField(max_length=20, required=False, label="Base rate")

    def clean_base_rate(self) -> Decimal | None:
        raw = (self.cleaned_data.get("base_rate") or "").strip().replace(",", "").lstrip("$")
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValidationError("Enter an amount in dollars, e.g. 6500.00.") from None
        if not value.is_finite() or value <= 0:
            raise ValidationError("A base rate is more than $0.")
        # Size first: quantizing 1e400 to cents would overflow Decimal's context.
        if value >= Decimal("10000000000"):
            raise ValidationError("That base rate is too large.")
        if value != value.quantize(Decimal("0.01")):
            raise ValidationError("Use at most 2 decimals (cents).")
        return value.quantize(Decimal("0.01"))


class CodeSearchForm(forms.Form):
    """`q` (or `code`, the name of the workspace's code fields) and zero or more `system`."""

    q = forms.CharField(max_length=100, required=False)
    code = forms.CharField(max_length=100, required=False)
    system = forms.MultipleChoiceField(choices=[(s, s) for s in SYSTEMS], required=False)

    def __init__(self, data: QueryDict, **kwargs: Any) -> None:
        # A blank or unknown system (a stale link, `?system=`) is dropped, not an error that
        # would lose the query too.
        data = data.copy()
        data.setlist("system", [s for s in data.getlist("system") if s in SYSTEMS])
        super().__init__(data, **kwargs)

    def query(self) -> str:
        data = self.cleaned_data if self.is_valid() else {}
        return " ".join(str(data.get("q") or data.get("code") or "").split())

    def systems(self) -> tuple[str, ...]:
        """The systems asked for; none (or only blanks) means all four."""
        data = self.cleaned_data if self.is_valid() else {}
        return tuple(data.get("system") or ()) or SYSTEMS
