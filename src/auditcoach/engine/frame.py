"""Reading sampling frames and sample files (DESIGN §12), as CSV bytes, every problem listed.

A frame is a CSV file with a header row, one item a row, an id column (`item_id` unless
told otherwise) whose values are unique, and optionally a stratum column. A sample file
(for `auditcoach sample appraise` and `size --probe`) has `item_id`, `value` and optionally
`stratum`. Both come from outside and are treated as hostile (docs/sampling.md):

- The SHA-256 is of the bytes as stored; a UTF-8 byte-order mark is then skipped, and the
  rest must be UTF-8. Python's `csv` reads it strictly (a stray quote is a problem).
- Header names are trimmed; the same header twice is a problem. Lines that are entirely
  empty are not rows; every other row must have as many cells as the header.
- Ids and labels are taken exactly as written (not trimmed); an empty id, an empty stratum
  label and an id seen before are problems. Values are trimmed numbers.
- At most `MAX_LISTED` problems are listed, then how many more there were.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from auditcoach.engine.sampling import SamplingError
from auditcoach.engine.workbook import MAX_LISTED

__all__ = ["MAX_LISTED", "Frame", "SampleFile", "SampleRow", "read_frame", "read_sample"]

# An amount as a sample file writes it: plain decimal digits, no "$" or thousands separator.
_NUMBER: Final = re.compile(r"[+-]?(?:\d{1,15}(?:\.\d{0,10})?|\.\d{1,10})")


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.kept: list[str] = []
        self.total = 0

    def add(self, message: str, line: int | None = None) -> None:
        self.total += 1
        if len(self.kept) < MAX_LISTED:
            where = f"{self.source}, line {line}" if line is not None else self.source
            self.kept.append(f"{where}: {message}")

    def listed(self) -> list[str]:
        if self.total > len(self.kept):
            return [*self.kept, f"... and {self.total - len(self.kept)} more"]
        return list(self.kept)


@dataclass(frozen=True, slots=True)
class Frame:
    """A valid frame: item ids in file order (item k is `ids[k − 1]`), each item's stratum
    label ("" when unstratified) and the SHA-256 of the file's bytes."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    sha256: str

    def strata(self) -> dict[str, list[str]]:
        """Label → the stratum's item ids in file order (item h is `ids[h − 1]`)."""
        by_label: dict[str, list[str]] = {}
        for item_id, label in zip(self.ids, self.labels, strict=True):
            by_label.setdefault(label, []).append(item_id)
        return by_label


@dataclass(frozen=True, slots=True)
class SampleRow:
    item_id: str
    stratum: str | None
    value: Fraction


@dataclass(frozen=True, slots=True)
class SampleFile:
    rows: tuple[SampleRow, ...]
    has_stratum: bool
    sha256: str


def _rows(
    data: bytes, source: str, problems: _Problems
) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line, header, cells) for every row; problems of the text itself go to `problems`."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(f"is not UTF-8 text (byte {exc.start + 1} cannot be read)")
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(f"is not readable CSV: {exc}", reader.line_num)
            return
        if not cells:
            continue
        if header is None:
            header = [c.strip() for c in cells]
            seen: set[str] = set()
            for name in header:
                if name in seen:
                    problems.add(f"the column {name!r} is in the header twice", reader.line_num)
                seen.add(name)
            continue
        if len(cells) != len(header):
            problems.add(
                f"has {len(cells)} cells, but the header has {len(header)}", reader.line_num
            )
            continue
        yield reader.line_num, header, cells
    if header is None:
        problems.add("is empty: it needs a header row and at least one item")


def _column(header: list[str], name: str, what: str, problems: _Problems) -> int | None:
    if name in header:
        return header.index(name)
    shown = ", ".join(repr(h) for h in header[:20])
    problems.add(f"has no {what} column {name!r} in its header (its columns: {shown})")
    return None


def read_frame(
    data: bytes, *, source: str, id_column: str = "item_id", stratum_column: str | None = None
) -> Frame:
    """The frame in `data`, or `SamplingError` listing every problem."""
    problems = _Problems(source)
    ids: list[str] = []
    labels: list[str] = []
    first_line: dict[str, int] = {}
    columns: tuple[int | None, int | None] | None = None
    for line, header, cells in _rows(data, source, problems):
        if columns is None:
            id_at = _column(header, id_column, "id", problems)
            label_at = (
                _column(header, stratum_column, "stratum", problems)
                if stratum_column is not None
                else None
            )
            columns = (id_at, label_at)
        id_at, label_at = columns
        if id_at is None or (stratum_column is not None and label_at is None):
            break
        item_id = cells[id_at]
        label = cells[label_at] if label_at is not None else ""
        if not item_id.strip():
            problems.add(f"the {id_column} is empty", line)
        elif item_id in first_line:
            problems.add(f"the {id_column} {item_id!r} is also on line {first_line[item_id]}", line)
        else:
            first_line[item_id] = line
        if label_at is not None and not label.strip():
            problems.add(f"the stratum ({stratum_column}) is empty", line)
        ids.append(item_id)
        labels.append(label)
    if not problems.total and not ids:
        problems.add("has a header but no items")
    if problems.total:
        raise SamplingError(problems.listed())
    return Frame(tuple(ids), tuple(labels), hashlib.sha256(data).hexdigest())


def read_sample(data: bytes, *, source: str, attribute: bool, stratified: bool) -> SampleFile:
    """The sample in `data` (`item_id`, `value`, optionally `stratum`), or `SamplingError`.

    An attribute value is exactly 1 or 0; a variable value is a decimal number. With
    `stratified`, the `stratum` column is required and no label may be empty.
    """
    problems = _Problems(source)
    rows: list[SampleRow] = []
    first_line: dict[str, int] = {}
    columns: tuple[int | None, int | None, int | None] | None = None
    has_stratum = False
    for line, header, cells in _rows(data, source, problems):
        if columns is None:
            has_stratum = "stratum" in header
            columns = (
                _column(header, "item_id", "id", problems),
                _column(header, "value", "value", problems),
                header.index("stratum")
                if has_stratum
                else (_column(header, "stratum", "stratum", problems) if stratified else None),
            )
        id_at, value_at, label_at = columns
        if id_at is None or value_at is None or (stratified and label_at is None):
            break
        item_id, raw = cells[id_at], cells[value_at].strip()
        label = cells[label_at] if label_at is not None else None
        if not item_id.strip():
            problems.add("the item_id is empty", line)
        elif item_id in first_line:
            problems.add(f"the item_id {item_id!r} is also on line {first_line[item_id]}", line)
        else:
            first_line[item_id] = line
        if stratified and label is not None and not label.strip():
            problems.add("the stratum is empty", line)
        value: Fraction | None = None
        if attribute:
            if raw in ("0", "1"):
                value = Fraction(int(raw))
            else:
                problems.add(f"an attribute value is 1 or 0, got {raw[:40]!r}", line)
        elif _NUMBER.fullmatch(raw):
            value = Fraction(raw)
        else:
            problems.add(
                f"the value must be a number like 1432.10 (no $ or thousands separators), got {raw[:40]!r}",
                line,
            )
        if value is not None:
            rows.append(SampleRow(item_id, label, value))
    if not problems.total and not rows:
        problems.add("has a header but no items")
    if problems.total:
        raise SamplingError(problems.listed())
    return SampleFile(tuple(rows), has_stratum, hashlib.sha256(data).hexdigest())
