"""Any spreadsheet, through a column mapping (DESIGN §14 "Claims in", issue 11 item 4).

An *extract* is a CSV file or the first (or a named) sheet of an `.xlsx` with the
organization's own column names: either one row per encounter with numbered code columns
(`layout="wide"`: `Dx 1..Dx 25`, `POA 1..`, `PX 1..`, `CPT1..` with `CPT1_MOD1..` and units
columns) or one row per code line (`layout="long"`: a code column, a code-type column,
optional seq / POA / modifiers / units / version columns, the encounter's fields repeated
on each of its rows). A `MappingSpec` says, for every §9 field, which column it comes from
(or a constant for the whole extract, e.g. setting = inpatient), and how values translate
("Male" → M, "IP" → inpatient, dates written MM/DD/YYYY or as Excel serial numbers).

`propose(headers)` guesses a spec from the column names; `read_mapped(path, spec)` reads an
extract through it into the two §9 text tables and validates them with
`engine.workbook.read_tables`, so a mapped spreadsheet meets exactly the rules of a
workbook. The spec is plain data: `spec_to_dict` / `spec_from_dict` (JSON both ways, every
problem of a stored or hand-written spec listed by `MappingInvalid`).

Where problems point: `read_tables` validates §9 tables, so its problems name §9 columns
and rows of tables the person never saw. They are translated back to the source cell:
the extract's own file name, the row the spreadsheet shows (header = 1) and the person's
column (`extract.csv row 5, column Dx 3: ...`); a field set by a constant is named
`setting (set by the mapping)`. A few checks happen here first, because only here are
their words right: dates in the mapping's date format, a POA / modifier / units cell beside
an empty code cell, and (long layout) encounter fields that differ between the rows of one
encounter. Where both this module and `read_tables` object to one cell, this module's
problem is kept.

Reading is as bounded as a workbook's: an `.xlsx` goes through `auditcoach.lib.safezip`
before calamine sees it; CSV is read as a stream within Python's csv field limit; no more
rows than `WorkbookLimits` allow are read (the rest is reported as too many).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from auditcoach.engine.workbook import (
    CODE_COLUMNS,
    ENCOUNTER_COLUMNS,
    MAX_LISTED,
    Problem,
    Workbook,
    WorkbookError,
    WorkbookLimits,
    read_tables,
)
from auditcoach.intake.common import line_system
from auditcoach.lib.safezip import ZipRefused, check_zip

__all__ = [
    "CODE_FIELDS",
    "DATE_FORMATS",
    "ENCOUNTER_FIELDS",
    "LAYOUTS",
    "CodeSlot",
    "Field",
    "MappingInvalid",
    "MappingSpec",
    "Preview",
    "columns_key",
    "is_extract",
    "load_spec",
    "preview",
    "propose",
    "read_mapped",
    "spec_from_dict",
    "spec_to_dict",
]

Layout = Literal["wide", "long"]
LAYOUTS: Final = ("wide", "long")
ENCOUNTER_FIELDS: Final = ENCOUNTER_COLUMNS
"""The §9 encounter columns a mapping fills (each from a column or a constant)."""
CODE_FIELDS: Final = ("system", "code", "seq", "poa", "units", "version")
"""The §9 code columns a long (one row per code line) mapping fills from columns; its
modifiers come from `MappingSpec.modifiers`."""
REQUIRED_FIELDS: Final = ("encounter_id", "setting", "discharge_date")
DATE_FORMATS: Final = {
    "auto": "Automatic (YYYY-MM-DD, MM/DD/YYYY, YYYYMMDD or an Excel date number)",
    "YYYY-MM-DD": "YYYY-MM-DD",
    "MM/DD/YYYY": "MM/DD/YYYY (US)",
    "DD/MM/YYYY": "DD/MM/YYYY",
    "YYYYMMDD": "YYYYMMDD",
    "excel": "Excel date number (e.g. 46023)",
}
SPEC_VERSION: Final = 1
MAX_SLOTS: Final = 200
"""Code columns per group a spec may name (an 837 allows 25 diagnoses, 50 service lines)."""
MAX_NAME: Final = 200
"""Length of a column name or constant a spec may hold."""
_MAX_HEADERS: Final = 2000
_EXCEL_EPOCH: Final = date(1899, 12, 30)  # Excel's day 0 (its 1900 leap-year bug included)

# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True, slots=True)
class Field:
    """Where one §9 field comes from: a column of the extract, or a constant for every row
    (`column` wins when both are given; both empty: the field is left blank)."""

    column: str = ""
    constant: str = ""

    def __bool__(self) -> bool:
        return bool(self.column or self.constant)


@dataclass(frozen=True, slots=True)
class CodeSlot:
    """One numbered code column of a wide extract with the columns that go with it: the
    POA column of a diagnosis, the modifier columns (each may hold several, `25;RT`) and
    the units column of a service line."""

    code: str
    poa: str = ""
    modifiers: tuple[str, ...] = ()
    units: str = ""

    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.code, self.poa, *self.modifiers, self.units) if c)


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """How an extract's columns become a §9 workbook (see the module docstring).

    `fields` maps §9 encounter columns (and, for the long layout, the code columns of
    `CODE_FIELDS`) to a `Field`. Wide: `dx` / `px` / `lines` are the code columns in their
    order (seq 1, 2, … over the non-empty cells); a service line is HCPCS when its code is
    a letter and four digits, else CPT (as §14 says for the 837). Long: `modifiers` lists
    the column(s) holding a line's modifiers. `values` adds translations per field (the
    person's value, compared without case and surrounding spaces → the §9 value) to the
    built-in ones. `headers` are the columns the spec was made for (a saved mapping is
    reused for a file with the same columns); `sheet` names the xlsx sheet ("" = first).
    """

    layout: Layout = "wide"
    fields: Mapping[str, Field] = field(default_factory=dict)
    dx: tuple[CodeSlot, ...] = ()
    px: tuple[CodeSlot, ...] = ()
    lines: tuple[CodeSlot, ...] = ()
    modifiers: tuple[str, ...] = ()
    date_format: str = "auto"
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    headers: tuple[str, ...] = ()
    sheet: str = ""

    def get(self, name: str) -> Field:
        return self.fields.get(name) or Field()

    def columns(self) -> list[str]:
        """Every column the spec reads, in a stable order, once each."""
        seen: dict[str, None] = {}
        for f in self.fields.values():
            if f.column:
                seen.setdefault(f.column)
        if self.layout == "wide":
            for slot in (*self.dx, *self.px, *self.lines):
                for c in slot.columns():
                    seen.setdefault(c)
        else:
            for c in self.modifiers:
                seen.setdefault(c)
        return list(seen)


class MappingInvalid(ValueError):
    """A spec that cannot be used; `problems` lists every reason, each a sentence."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def spec_to_dict(spec: MappingSpec) -> dict[str, Any]:
    """The spec as JSON-ready plain data (`spec_from_dict` reads it back)."""
    return {
        "version": SPEC_VERSION,
        "layout": spec.layout,
        "fields": {
            name: {k: v for k, v in (("column", f.column), ("constant", f.constant)) if v}
            for name, f in spec.fields.items()
            if f
        },
        "dx": [_slot_dict(s) for s in spec.dx],
        "px": [_slot_dict(s) for s in spec.px],
        "lines": [_slot_dict(s) for s in spec.lines],
        "modifiers": list(spec.modifiers),
        "date_format": spec.date_format,
        "values": {k: dict(v) for k, v in spec.values.items() if v},
        "headers": list(spec.headers),
        "sheet": spec.sheet,
    }


def _slot_dict(slot: CodeSlot) -> dict[str, Any]:
    out: dict[str, Any] = {"code": slot.code}
    if slot.poa:
        out["poa"] = slot.poa
    if slot.modifiers:
        out["modifiers"] = list(slot.modifiers)
    if slot.units:
        out["units"] = slot.units
    return out


def _text(value: Any, where: str, problems: list[str], *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            problems.append(f"{where} is required")
        return ""
    if not isinstance(value, str):
        problems.append(f"{where} must be text, got {type(value).__name__}")
        return ""
    if len(value) > MAX_NAME:
        problems.append(f"{where} is longer than {MAX_NAME} characters")
        return ""
    if not value.isprintable():
        problems.append(f"{where} contains a control character")
        return ""
    return value


def _texts(value: Any, where: str, problems: list[str], limit: int = 4) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where} must be a list of column names")
        return ()
    if len(value) > limit:
        problems.append(f"{where} lists more than {limit} columns")
        return ()
    items = [_text(v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    return tuple(v for v in items if v)


def _slots(value: Any, where: str, problems: list[str]) -> tuple[CodeSlot, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where} must be a list")
        return ()
    if len(value) > MAX_SLOTS:
        problems.append(f"{where} lists more than {MAX_SLOTS} code columns")
        return ()
    slots = []
    for i, raw in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{here} must be an object with a code column")
            continue
        unknown = sorted(set(raw) - {"code", "poa", "modifiers", "units"})
        if unknown:
            problems.append(f"{here} has unknown keys: {', '.join(unknown)}")
        code = _text(raw.get("code"), f"{here}.code", problems, required=True)
        slot = CodeSlot(
            code=code,
            poa=_text(raw.get("poa"), f"{here}.poa", problems),
            modifiers=_texts(raw.get("modifiers"), f"{here}.modifiers", problems),
            units=_text(raw.get("units"), f"{here}.units", problems),
        )
        if code:
            slots.append(slot)
    return tuple(slots)


def spec_from_dict(data: Any) -> MappingSpec:
    """A spec from its plain-data form, checked whole: raises `MappingInvalid` listing every
    problem (unknown keys, wrong types, a missing required field, a bad constant...)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MappingInvalid(["a mapping must be a JSON object"])
    known = {
        "version",
        "layout",
        "fields",
        "dx",
        "px",
        "lines",
        "modifiers",
        "date_format",
        "values",
        "headers",
        "sheet",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        problems.append(f"unknown keys: {', '.join(map(str, unknown))}")
    if data.get("version", SPEC_VERSION) != SPEC_VERSION:
        problems.append(f"version must be {SPEC_VERSION}, got {data.get('version')!r}")
    layout = data.get("layout", "wide")
    if layout not in LAYOUTS:
        problems.append(f"layout must be wide or long, got {layout!r}")
        layout = "wide"

    fields: dict[str, Field] = {}
    raw_fields = data.get("fields", {})
    allowed = set(ENCOUNTER_FIELDS) | (set(CODE_FIELDS) if layout == "long" else set())
    if not isinstance(raw_fields, dict):
        problems.append("fields must be an object of field → {column} or {constant}")
        raw_fields = {}
    for name, raw in raw_fields.items():
        if name not in allowed:
            problems.append(f"fields: unknown field {name!r} for the {layout} layout")
            continue
        if not isinstance(raw, dict) or set(raw) - {"column", "constant"}:
            problems.append(f"fields.{name} must be {{'column': ...}} or {{'constant': ...}}")
            continue
        column = _text(raw.get("column"), f"fields.{name}.column", problems)
        constant = _text(raw.get("constant"), f"fields.{name}.constant", problems)
        if column and constant:
            problems.append(f"fields.{name} has both a column and a constant: give one")
        fields[name] = Field(column=column, constant="" if column else constant)

    spec = MappingSpec(
        layout=layout,
        fields=fields,
        dx=_slots(data.get("dx"), "dx", problems),
        px=_slots(data.get("px"), "px", problems),
        lines=_slots(data.get("lines"), "lines", problems),
        modifiers=_texts(data.get("modifiers"), "modifiers", problems),
        date_format=data.get("date_format", "auto"),
        values=_values(data.get("values"), problems),
        headers=_texts(data.get("headers"), "headers", problems, limit=_MAX_HEADERS),
        sheet=_text(data.get("sheet"), "sheet", problems),
    )
    problems.extend(spec_problems(spec))
    if problems:
        raise MappingInvalid(problems)
    return spec


def _values(value: Any, problems: list[str]) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("values must be an object of field → {their value: §9 value}")
        return {}
    out: dict[str, dict[str, str]] = {}
    for name, table in value.items():
        if name not in _TRANSLATED:
            problems.append(
                f"values: {name!r} has no translations (only {', '.join(_TRANSLATED)} do)"
            )
            continue
        if not isinstance(table, dict) or len(table) > 1000:
            problems.append(f"values.{name} must be an object of at most 1,000 entries")
            continue
        entries = {}
        for theirs, ours in table.items():
            key = _text(theirs, f"values.{name} key", problems)
            target = _text(ours, f"values.{name}[{theirs!r}]", problems)
            if key:
                entries[key.strip().casefold()] = target
        out[name] = entries
    return out


def spec_problems(spec: MappingSpec) -> list[str]:
    """What makes a spec unusable whatever the file: required fields, constants outside
    §9's values, a wide spec without code columns, an unknown date format."""
    problems: list[str] = []
    if spec.layout not in LAYOUTS:
        problems.append(f"layout must be wide or long, got {spec.layout!r}")
    if spec.date_format not in DATE_FORMATS:
        problems.append(f"date_format must be one of {', '.join(DATE_FORMATS)}")
    for name in REQUIRED_FIELDS:
        f = spec.get(name)
        if not f:
            problems.append(f"{name}: choose the column it comes from")
        elif name != "setting" and not f.column:
            problems.append(f"{name} must come from a column, not a constant")
    setting = spec.get("setting")
    if (
        setting.constant
        and not setting.column
        and _translate(spec, "setting", setting.constant)
        in (
            None,
            "",
        )
    ):
        problems.append(
            f"setting: the constant must be inpatient, outpatient or profee, got "
            f"{setting.constant!r}"
        )
    if spec.layout == "wide":
        if not (spec.dx or spec.px or spec.lines):
            problems.append("choose at least one code column (a diagnosis, procedure or line)")
    else:
        if not spec.get("code").column:
            problems.append("code: choose the column that holds the codes")
        if not spec.get("system"):
            problems.append("system: choose the column that says which code set each code is")
    return problems


def load_spec(path: Path) -> MappingSpec:
    """A spec from a JSON file (`auditcoach convert --mapping FILE`); `MappingInvalid`
    when the file is not readable JSON or not a valid spec."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MappingInvalid(
            [f"{Path(path).name}: cannot be read: {exc.strerror or exc}"]
        ) from None
    if len(raw) > 1_000_000:
        raise MappingInvalid([f"{Path(path).name}: a mapping file is at most 1 MB"])
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MappingInvalid([f"{Path(path).name}: not readable JSON ({exc})"]) from None
    return spec_from_dict(data)


def header_key(name: str) -> str:
    """A column name without case, spaces and punctuation ("Acct #" → "acct")."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def columns_key(headers: Iterable[str]) -> str:
    """Identifies a set of columns whatever their order, case and spacing: two files with
    the same key are read by the same saved mapping."""
    names = sorted({" ".join(h.split()).casefold() for h in headers if h.strip()})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


# --------------------------------------------------------------------------- translations

_BUILTIN: Final[dict[str, dict[str, str]]] = {
    "sex": {
        **dict.fromkeys(("m", "male", "man", "boy"), "M"),
        **dict.fromkeys(("f", "female", "woman", "girl"), "F"),
        **dict.fromkeys(("u", "unknown", "unk", "other", "o", "x", "not stated"), "U"),
    },
    "setting": {
        **dict.fromkeys(
            ("inpatient", "ip", "i", "inpt", "in", "inpatient (drg)", "acute"), "inpatient"
        ),
        **dict.fromkeys(
            (
                "outpatient",
                "op",
                "o",
                "outpt",
                "out",
                "ed",
                "er",
                "emergency",
                "observation",
                "obs",
                "ambulatory",
                "same day surgery",
                "sds",
            ),
            "outpatient",
        ),
        **dict.fromkeys(
            ("profee", "pro", "professional", "professional fee", "pf", "physician"), "profee"
        ),
    },
    "poa": {
        **dict.fromkeys(("y", "yes"), "Y"),
        **dict.fromkeys(("n", "no"), "N"),
        **dict.fromkeys(("u", "unknown"), "U"),
        **dict.fromkeys(("w", "clinically undetermined", "undetermined"), "W"),
        **dict.fromkeys(("1", "exempt", "e"), "1"),
    },
    "version": {
        **dict.fromkeys(("original", "orig", "billed", "coder", "as billed"), "original"),
        **dict.fromkeys(("audited", "auditor", "revised", "audit"), "audited"),
    },
    "system": {
        **dict.fromkeys(
            ("icd10cm", "icd-10-cm", "icd10", "icd-10", "dx", "diagnosis", "diag", "icd10dx"),
            "ICD10CM",
        ),
        **dict.fromkeys(
            ("icd10pcs", "icd-10-pcs", "pcs", "px", "procedure", "proc", "icd10px"), "ICD10PCS"
        ),
        **dict.fromkeys(("cpt", "cpt4", "cpt-4"), "CPT"),
        **dict.fromkeys(("hcpcs", "hcpcs ii", "hcpcs level ii"), "HCPCS"),
        # A "CPT/HCPCS" or "line" type is told apart by its shape (`common.line_system`).
        **dict.fromkeys(("cpt/hcpcs", "hcpcs/cpt", "line", "service", "svc"), "LINE"),
    },
}
_TRANSLATED: Final = tuple(_BUILTIN)


def _translate(spec: MappingSpec, name: str, raw: str) -> str | None:
    """The §9 value of a translated field's cell (the person's own table first, then the
    built-in one); None when neither knows the value (it is passed on as written)."""
    key = raw.strip().casefold()
    own = spec.values.get(name)
    if own is not None and key in own:
        return own[key]
    return _BUILTIN[name].get(key)


_SLASHED: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _parse_date(raw: str, fmt: str) -> date | None:
    text = raw.strip().split(" ")[0].split("T")[0]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # unambiguous: read whatever the format
            return date.fromisoformat(text)
        if fmt in ("MM/DD/YYYY", "DD/MM/YYYY", "auto"):
            m = _SLASHED.fullmatch(text)
            if m:
                a, b, year = (int(g) for g in m.groups())
                month, day = (b, a) if fmt == "DD/MM/YYYY" else (a, b)
                return date(year, month, day)
        if fmt in ("YYYYMMDD", "auto") and re.fullmatch(r"\d{8}", text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if fmt in ("excel", "auto") and re.fullmatch(r"\d{4,6}(\.0+)?", text):
            days = int(float(text))
            if 1 <= days <= 2_958_465:  # Excel's last day, 9999-12-31
                return _EXCEL_EPOCH + timedelta(days=days)
    except ValueError:
        return None
    return None


# --------------------------------------------------------------------------- proposing

_FIELD_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "encounter_id": (
        "encounterid",
        "encounter",
        "encounternumber",
        "encounterno",
        "accountnumber",
        "account",
        "accountno",
        "accountnum",
        "acct",
        "acctnumber",
        "acctno",
        "acctnum",
        "patientaccount",
        "patientaccountnumber",
        "ptacct",
        "claimid",
        "claim",
        "claimnumber",
        "claimno",
        "visitid",
        "visit",
        "visitnumber",
        "fin",
        "finnumber",
        "har",
    ),
    "setting": (
        "setting",
        "patienttype",
        "pttype",
        "encountertype",
        "visittype",
        "patientclass",
        "ptclass",
        "class",
        "claimtype",
    ),
    "discharge_date": (
        "dischargedate",
        "dischdate",
        "dischargedt",
        "dischdt",
        "dcdate",
        "discharged",
        "servicedate",
        "dateofservice",
        "dos",
        "thrudate",
        "throughdate",
        "todate",
    ),
    "age": ("age", "ptage", "patientage", "ageyears", "ageatdischarge"),
    "sex": ("sex", "gender", "ptsex", "patientsex", "ptgender", "patientgender"),
    "discharge_disposition": (
        "dischargedisposition",
        "disposition",
        "dischdisp",
        "dischdisposition",
        "disp",
        "dischargestatus",
        "dischstatus",
        "patientstatus",
        "ptstatus",
    ),
    "audited_disposition": ("auditeddisposition", "auditeddisp"),
    "billed_drg": ("billeddrg", "drg", "msdrg", "finaldrg", "drgcode", "billedmsdrg"),
    "facility": ("facility", "facilityname", "hospital", "site", "campus"),
    "service_line": ("serviceline", "service", "department", "dept", "specialty"),
    "provider": (
        "provider",
        "attending",
        "attendingphysician",
        "attendingprovider",
        "attendingmd",
        "physician",
        "rendering",
        "renderingprovider",
        "doctor",
    ),
    "payer": ("payer", "payor", "insurance", "insurer", "primarypayer", "financialclass", "plan"),
    "coder": ("coder", "codedby", "codername", "coderid"),
    "auditor": ("auditor", "auditorname", "auditedby"),
    "audit_cycle": ("auditcycle", "cycle", "auditperiod"),
    # long layout
    "system": ("system", "codesystem", "codetype", "codeset", "type"),
    "code": ("code", "codevalue", "icdcode"),
    "seq": ("seq", "sequence", "seqno", "sequencenumber", "position", "linenumber"),
    "poa": ("poa", "poaindicator", "presentonadmission"),
    "units": ("units", "unit", "qty", "quantity"),
    "version": ("version",),
}
_LONG_MODIFIERS: Final = re.compile(r"(mod|mods|modifier|modifiers)(\d*|14)")

_DX: Final = (
    r"(?:dx|diag|diagnosis|diagcode|dxcode|icd10cm|icd10dx|icd10|icddx|icd|secondarydx|otherdx|sdx)"
)
_PX: Final = r"(?:px|proc|procedure|icd10pcs|pcs|icdpx|icd10px|pcscode|icdpcs)"
_LN: Final = r"(?:cpt|hcpcs|cpthcpcs|hcpcscpt|cptcode|hcpcscode|line|svc|servicecode|cpt4)"
_NUMBERED: Final = {
    "dx": re.compile(rf"{_DX}(\d+)"),
    "px": re.compile(rf"{_PX}(\d+)"),
    "line": re.compile(rf"{_LN}(\d+)"),
}
_PRINCIPAL: Final = {
    "dx": frozenset({"principaldx", "pdx", "principaldiagnosis", "primarydx", "principaldiag"}),
    "px": frozenset({"principalpx", "ppx", "principalprocedure", "principalproc", "primarypx"}),
}
_POA_NUMBERED: Final = (
    re.compile(r"(?:poa|dxpoa|poaind|poaindicator)(\d+)"),
    re.compile(rf"{_DX}(\d+)poa"),
)
_POA_PRINCIPAL: Final = frozenset({"principalpoa", "pdxpoa", "principaldxpoa", "poaprincipal"})
_LINE_MODS: Final = (
    re.compile(rf"{_LN}(\d+)(?:mod|modifier|modifiers|mods)(\d*)"),
    re.compile(rf"(?:mod|modifier)(\d+){_LN}(\d*)"),
)
_LINE_UNITS: Final = (
    re.compile(rf"{_LN}(\d+)(?:units?|qty|quantity)"),
    re.compile(r"(?:units?|qty|quantity)(\d+)"),
)


def propose(headers: Sequence[str]) -> MappingSpec:
    """A first mapping guessed from the column names alone, matched without case, spaces or
    punctuation ("Acct #", "Disch Date", "Dx 1", "Principal Dx", "POA 1", "ICD10 PCS 1",
    "CPT1_MOD1", "Attending"). Numbered code columns make it wide; a code column beside a
    code-type column makes it long. Nothing it cannot tell is guessed: a field without a
    matching column is left empty for the person to choose (setting is proposed as
    inpatient when the extract has POA or DRG columns and no setting column)."""
    keys = [(header_key(h), h) for h in headers]
    used: set[str] = set()

    def first(name: str) -> str:
        for synonym in _FIELD_SYNONYMS[name]:
            for key, header in keys:
                if key == synonym and header not in used:
                    used.add(header)
                    return header
        return ""

    dx: dict[int, dict[str, Any]] = {}
    px: dict[int, dict[str, Any]] = {}
    lines: dict[int, dict[str, Any]] = {}
    groups = {"dx": dx, "px": px, "line": lines}
    # Principal columns sort before every numbered one: slot 0.
    for key, header in keys:
        for group in ("dx", "px"):
            if key in _PRINCIPAL[group]:
                groups[group].setdefault(0, {"code": header})
                used.add(header)
    for key, header in keys:
        if header in used:
            continue
        if key in _POA_PRINCIPAL:
            dx.setdefault(0, {}).setdefault("poa", header)
            used.add(header)
            continue
        matched = False
        for pattern in _POA_NUMBERED:
            m = pattern.fullmatch(key)
            if m:
                dx.setdefault(int(m.group(1)), {}).setdefault("poa", header)
                used.add(header)
                matched = True
                break
        if matched:
            continue
        for pattern in _LINE_MODS:
            m = pattern.fullmatch(key)
            if m:
                n = int(m.group(1) if pattern is _LINE_MODS[0] else (m.group(2) or 0))
                lines.setdefault(n, {}).setdefault("modifiers", []).append(header)
                used.add(header)
                matched = True
                break
        if matched:
            continue
        for pattern in _LINE_UNITS:
            m = pattern.fullmatch(key)
            if m and key not in _FIELD_SYNONYMS["units"]:
                lines.setdefault(int(m.group(1)), {}).setdefault("units", header)
                used.add(header)
                matched = True
                break
        if matched:
            continue
        for group, pattern in _NUMBERED.items():
            m = pattern.fullmatch(key)
            if m:
                groups[group].setdefault(int(m.group(1)), {}).setdefault("code", header)
                used.add(header)
                break

    for numbered in (dx, px):
        # "Principal Dx" beside "Dx 2", "Dx 3"...: the principal is number 1 ("POA 1" is its)
        if 0 in numbered and "code" not in numbered.get(1, {}):
            principal = numbered.pop(0)
            numbered[1] = {**numbered.get(1, {}), **principal}
    wide = any("code" in slot for group in groups.values() for slot in group.values())
    layout: Layout = "wide" if wide else "long"
    names = ENCOUNTER_FIELDS + (CODE_FIELDS if not wide else ())
    fields = {name: Field(column=first(name)) for name in names}
    modifiers: tuple[str, ...] = ()
    if not wide:
        modifiers = tuple(h for key, h in keys if _LONG_MODIFIERS.fullmatch(key) and h not in used)[
            :4
        ]
    if not fields["setting"] and (
        fields["billed_drg"] or any("poa" in slot for slot in dx.values()) or fields.get("poa")
    ):
        fields["setting"] = Field(constant="inpatient")

    def slots(group: dict[int, dict[str, Any]]) -> tuple[CodeSlot, ...]:
        return tuple(
            CodeSlot(
                code=slot["code"],
                poa=slot.get("poa", ""),
                modifiers=tuple(slot.get("modifiers", ()))[:4],
                units=slot.get("units", ""),
            )
            for _, slot in sorted(group.items())
            if "code" in slot
        )

    return MappingSpec(
        layout=layout,
        fields={k: v for k, v in fields.items() if v},
        dx=slots(dx) if wide else (),
        px=slots(px) if wide else (),
        lines=slots(lines) if wide else (),
        modifiers=modifiers,
        headers=tuple(headers),
    )


# --------------------------------------------------------------------------- reading files


@dataclass(slots=True)
class _Extract:
    label: str  # the file's name, as problems name it
    header: list[str]
    header_row: int
    rows: Iterator[tuple[int, list[Any]]]  # after the header; cells typed for xlsx


class _Unreadable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _csv_rows(path: Path, failures: list[str]) -> Iterator[tuple[int, list[Any]]]:
    rownum = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for rownum, cells in enumerate(csv.reader(handle), start=1):
                yield rownum, cells
    except UnicodeDecodeError:
        failures.append("is not UTF-8 text (save it as CSV UTF-8)")
    except csv.Error as exc:
        failures.append(f"row {rownum + 1}: is not readable CSV: {exc}")
    except OSError as exc:
        failures.append(f"cannot be read: {exc.strerror or exc}")


def _open(path: Path, sheet: str, limits: WorkbookLimits, failures: list[str]) -> _Extract:
    """The extract's header and rows; raises `_Unreadable` for a file that is none."""
    path = Path(path)
    label = path.name or str(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise _Unreadable("no such file")
    if suffix == ".csv":
        rows: Iterator[tuple[int, list[Any]]] = _csv_rows(path, failures)
    elif suffix == ".xlsx":
        rows = _xlsx_rows(path, sheet, limits)
    else:
        raise _Unreadable("wrong file type: an extract is a .csv file or an .xlsx workbook")
    for rownum, cells in rows:
        text = [_plain(c) for c in cells]
        if any(t.strip() for t in text):
            return _Extract(label, [t.strip() for t in text], rownum, rows)
    if failures:
        raise _Unreadable(failures[0])
    raise _Unreadable("is empty: there is no header row")


def _xlsx_rows(path: Path, sheet: str, limits: WorkbookLimits) -> Iterator[tuple[int, list[Any]]]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with path.open("rb") as handle:
            if handle.read(2) != b"PK":
                raise _Unreadable("wrong file type: not a readable .xlsx workbook")
        check_zip(path, limits.zip)  # every part counted before calamine inflates any
        book = CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
        if not names:
            raise _Unreadable("the workbook has no sheets")
        if sheet:
            by_name = {n.strip().casefold(): n for n in names}
            chosen = by_name.get(sheet.strip().casefold())
            if chosen is None:
                raise _Unreadable(f"has no sheet {sheet!r} (it has: {', '.join(names)})")
        else:
            chosen = names[0]
        raw = book.get_sheet_by_name(chosen).iter_rows()
    except ZipRefused as exc:
        raise _Unreadable(exc.message) from None
    except (CalamineError, OSError, ValueError) as exc:
        raise _Unreadable(f"wrong file type: not a readable .xlsx workbook ({exc})") from None
    return ((i + 1, cells) for i, cells in enumerate(raw))


def _plain(value: Any) -> str:
    """A cell as the text a person typed (typed xlsx cells included)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def is_extract(path: Path, *, limits: WorkbookLimits | None = None) -> bool:
    """True for a file to read through a mapping: a single `.csv`, or an `.xlsx` that has
    neither an `encounters` nor a `codes` sheet (a §9 workbook has both). An unreadable
    `.xlsx` is False: the workbook reader then says what is wrong with it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return path.is_file()
    if suffix != ".xlsx":
        return False
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with path.open("rb") as handle:
            if handle.read(2) != b"PK":
                return False
        check_zip(path, (limits or WorkbookLimits()).zip)
        names = {n.strip().casefold() for n in CalamineWorkbook.from_path(str(path)).sheet_names}
    except (ZipRefused, CalamineError, OSError, ValueError):
        return False
    return bool(names) and not names & {"encounters", "codes"}


@dataclass(frozen=True, slots=True)
class Preview:
    """The first rows of an extract, as text, for the mapping page."""

    label: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def preview(
    path: Path, *, rows: int = 5, sheet: str = "", limits: WorkbookLimits | None = None
) -> Preview:
    """The header and the first `rows` non-blank rows; `WorkbookError` when unreadable."""
    failures: list[str] = []
    try:
        extract = _open(Path(path), sheet, limits or WorkbookLimits(), failures)
    except _Unreadable as exc:
        raise WorkbookError([Problem(Path(path).name, None, None, exc.message)]) from None
    if len(extract.header) > _MAX_HEADERS:
        raise WorkbookError(
            [
                Problem(
                    extract.label, extract.header_row, None, f"more than {_MAX_HEADERS:,} columns"
                )
            ]
        )
    for i, name in enumerate(extract.header, start=1):
        # (a mapping names columns by these names: they must fit one, see spec_from_dict)
        if len(name) > MAX_NAME or not name.isprintable():
            what = (
                "is longer than 200 characters"
                if len(name) > MAX_NAME
                else "holds a control character"
            )
            raise WorkbookError(
                [
                    Problem(
                        extract.label, extract.header_row, f"column {i}", f"the column name {what}"
                    )
                ]
            )
    width = len(extract.header)
    shown: list[tuple[str, ...]] = []
    for _, cells in extract.rows:
        text = [_plain(c) for c in cells[:width]]
        if not any(t.strip() for t in text):
            continue
        shown.append(tuple(text + [""] * (width - len(text))))
        if len(shown) >= rows:
            break
    return Preview(extract.label, tuple(extract.header), tuple(shown))


# --------------------------------------------------------------------------- mapping rows

_ENC_INDEX: Final = {name: i for i, name in enumerate(ENCOUNTER_COLUMNS)}
_PAD: Final = {"discharge_disposition": 2, "audited_disposition": 2}
_SPLIT_MODS: Final = re.compile(r"[;,\s]+")
_GROUP_OF: Final = {"ICD10CM": "DX", "ICD10PCS": "PX", "CPT": "LINE", "HCPCS": "LINE"}


class _Collector:
    """This module's own problems, by (row, source column)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[Problem] = []
        self.total = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_LISTED:
            self.items.append(Problem(self.label, row, column, message))


def _cell(cells: list[Any], i: int | None) -> Any:
    if i is None or i >= len(cells):
        return ""
    value = cells[i]
    return "" if value is None else value


def _code_text(value: Any, width: int) -> str:
    """A code cell; a number typed in Excel loses leading zeros (PCS 7, CPT 5)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value)).zfill(width)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(width)
    return _plain(value)


def _mods_text(values: Iterable[Any]) -> str:
    items: list[str] = []
    for v in values:
        items.extend(m for m in _SPLIT_MODS.split(_plain(v).strip()) if m)
    return ";".join(items)


class _Reader:
    """Turns the extract's rows into §9 encounter and code rows through a spec."""

    def __init__(self, spec: MappingSpec, extract: _Extract, own: _Collector) -> None:
        self.spec = spec
        self.extract = extract
        self.own = own
        index: dict[str, int] = {}
        for i, name in enumerate(extract.header):
            index.setdefault(" ".join(name.split()).casefold(), i)
        self.index = index

    def position(self, column: str) -> int | None:
        return self.index.get(" ".join(column.split()).casefold()) if column else None

    def missing_columns(self) -> list[str]:
        return [c for c in self.spec.columns() if self.position(c) is None]

    def source_column(self, name: str) -> str | None:
        """The person's name for where a §9 encounter field comes from."""
        f = self.spec.get(name)
        if f.column:
            return f.column
        if f.constant:
            return f"{name} (set by the mapping)"
        return None

    def encounter_cells(self, rownum: int, cells: list[Any]) -> list[str]:
        spec = self.spec
        out = [""] * len(ENCOUNTER_COLUMNS)
        for name, i in _ENC_INDEX.items():
            f = spec.get(name)
            if f.column:
                value = _cell(cells, self.position(f.column))
                if name == "discharge_date":
                    out[i] = self._date(rownum, f.column, value)
                    continue
                text = _plain(value).strip()
                if name in _PAD and isinstance(value, float) and text.isdigit():
                    text = text.zfill(2)
            else:
                text = f.constant
            if name in ("sex", "setting") and text:
                translated = _translate(spec, name, text)
                text = translated if translated is not None else text
            out[i] = text
        return out

    def _date(self, rownum: int, column: str, value: Any) -> str:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = _plain(value).strip()
        if not text:
            return ""
        parsed = _parse_date(text, self.spec.date_format)
        if parsed is None:
            fmt = self.spec.date_format
            wanted = "a date" if fmt == "auto" else f"a date written {DATE_FORMATS[fmt]}"
            self.own.add(rownum, column, f'must be {wanted}, got "{text[:40]}"')
            return text
        return parsed.isoformat()

    def poa_text(self, value: Any) -> str:
        text = _plain(value).strip()
        translated = _translate(self.spec, "poa", text) if text else ""
        return translated if translated is not None else text


@dataclass(slots=True)
class _Codes:
    """The §9 code rows and, per row, where it came from: the source row and the columns
    that its code / poa / modifiers / units / system / seq / version cells came from."""

    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    source_rows: array[int] = field(default_factory=lambda: array("q"))
    columns: list[dict[str, str]] = field(default_factory=list)
    where: array[int] = field(default_factory=lambda: array("l"))


def _wide(reader: _Reader, encounters: list[tuple[int, list[str]]], codes: _Codes) -> None:
    spec = reader.spec
    own = reader.own
    groups = (
        ("ICD10CM", spec.dx, 0),
        ("ICD10PCS", spec.px, 7),
        ("LINE", spec.lines, 5),
    )
    # Per slot: its positions and its §9-column → source-column table (shared by rows).
    plans = []
    for system, slots, width in groups:
        for slot in slots:
            where = {"code": slot.code, "system": slot.code}
            if slot.poa:
                where["poa"] = slot.poa
            if slot.modifiers:
                where["modifiers"] = slot.modifiers[0]
            if slot.units:
                where["units"] = slot.units
            codes.columns.append(where)
            plans.append(
                (
                    system,
                    width,
                    slot,
                    reader.position(slot.code),
                    reader.position(slot.poa),
                    [reader.position(c) for c in slot.modifiers],
                    reader.position(slot.units),
                    len(codes.columns) - 1,
                )
            )
    eid_pos = reader.position(spec.get("encounter_id").column)
    next_row = 2
    for rownum, cells in reader.extract.rows:
        if not any(_plain(c).strip() for c in cells):
            continue
        encounters.append((rownum, reader.encounter_cells(rownum, cells)))
        eid = _plain(_cell(cells, eid_pos)).strip()
        seqs = {"ICD10CM": 0, "ICD10PCS": 0, "LINE": 0}
        for system, width, slot, i_code, i_poa, i_mods, i_units, plan in plans:
            raw = _cell(cells, i_code)
            code = _code_text(raw, width).strip()
            extras = (
                (slot.poa, _cell(cells, i_poa)),
                *zip(slot.modifiers, (_cell(cells, i) for i in i_mods), strict=True),
                (slot.units, _cell(cells, i_units)),
            )
            if not code:
                for column, value in extras:
                    if column and _plain(value).strip():
                        own.add(rownum, column, f"has a value but {slot.code} has no code")
                continue
            seqs[system] += 1
            row_system = line_system(code) if system == "LINE" else system
            units = _plain(_cell(cells, i_units)).strip()
            row = [
                eid,
                "original",
                row_system,
                str(seqs[system]),
                code,
                reader.poa_text(_cell(cells, i_poa)) if system == "ICD10CM" else "",
                _mods_text(_cell(cells, i) for i in i_mods) if system == "LINE" else "",
                units if system == "LINE" else "",
            ]
            codes.rows.append((next_row, row))
            codes.source_rows.append(rownum)
            codes.where.append(plan)
            next_row += 1


def _long(reader: _Reader, encounters: list[tuple[int, list[str]]], codes: _Codes) -> None:
    spec = reader.spec
    own = reader.own
    pos = {name: reader.position(spec.get(name).column) for name in CODE_FIELDS}
    i_mods = [reader.position(c) for c in spec.modifiers]
    where = {name: spec.get(name).column for name in CODE_FIELDS if spec.get(name).column}
    if spec.modifiers:
        where["modifiers"] = spec.modifiers[0]
    where["encounter_id"] = spec.get("encounter_id").column
    codes.columns.append(where)
    eid_pos = reader.position(spec.get("encounter_id").column)
    first: dict[str, tuple[int, list[str]]] = {}
    counters: dict[tuple[str, str, str], int] = {}
    system_constant = spec.get("system").constant
    version_constant = spec.get("version").constant or "original"
    widths = {"ICD10PCS": 7, "CPT": 5}
    for rownum, cells in reader.extract.rows:
        if not any(_plain(c).strip() for c in cells):
            continue
        eid = _plain(_cell(cells, eid_pos)).strip()
        values = reader.encounter_cells(rownum, cells)
        seen = first.get(eid)
        if seen is None:
            first[eid] = (rownum, values)
            encounters.append((rownum, values))
        elif eid:
            for name, i in _ENC_INDEX.items():
                theirs, ours = seen[1][i], values[i]
                if ours and theirs != ours and spec.get(name).column:
                    own.add(
                        rownum,
                        spec.get(name).column,
                        f"differs from row {seen[0]}, the first row of encounter "
                        f'"{eid[:40]}" ("{theirs[:40]}" there, "{ours[:40]}" here)',
                    )
        if pos["system"] is not None:
            raw_system = _plain(_cell(cells, pos["system"])).strip()
        else:
            raw_system = system_constant
        system = _translate(spec, "system", raw_system) if raw_system else ""
        code = _code_text(_cell(cells, pos["code"]), widths.get(system or "", 0)).strip()
        if system == "LINE":
            system = line_system(code)
        system_text = system if system is not None else raw_system
        raw_version = (
            _plain(_cell(cells, pos["version"])).strip()
            if pos["version"] is not None
            else version_constant
        )
        version = _translate(spec, "version", raw_version) if raw_version else "original"
        version_text = version if version is not None else raw_version
        seq = _plain(_cell(cells, pos["seq"])).strip() if pos["seq"] is not None else ""
        if pos["seq"] is None:  # the rows' own order, per encounter, version and group
            key = (eid, version_text, _GROUP_OF.get(system_text, system_text))
            counters[key] = counters.get(key, 0) + 1
            seq = str(counters[key])
        row = [
            eid,
            version_text,
            system_text,
            seq,
            code,
            reader.poa_text(_cell(cells, pos["poa"])),
            _mods_text(_cell(cells, i) for i in i_mods),
            _plain(_cell(cells, pos["units"])).strip(),
        ]
        codes.rows.append((rownum, row))
        codes.source_rows.append(rownum)
        codes.where.append(0)


def read_mapped(
    path: Path,
    spec: MappingSpec | Path | str,
    *,
    limits: WorkbookLimits | None = None,
) -> Workbook:
    """Reads a CSV / XLSX extract through a mapping (a spec, or the path of its JSON file)
    and validates it as a §9 workbook; raises `WorkbookError` with every problem named by
    the extract's file, row and column (see the module docstring). The encounters get
    `original` lines only when the extract is wide; a long extract may carry a version
    column."""
    if not isinstance(spec, MappingSpec):
        try:
            spec = load_spec(Path(spec))
        except MappingInvalid as exc:
            raise WorkbookError([Problem("mapping", None, None, p) for p in exc.problems]) from None
    limits = limits or WorkbookLimits()
    path = Path(path)
    label = path.name or str(path)
    invalid = spec_problems(spec)
    if invalid:
        raise WorkbookError([Problem("mapping", None, None, p) for p in invalid])
    failures: list[str] = []
    try:
        extract = _open(path, spec.sheet, limits, failures)
    except _Unreadable as exc:
        raise WorkbookError([Problem(label, None, None, exc.message)]) from None
    own = _Collector(label)
    reader = _Reader(spec, extract, own)
    missing = reader.missing_columns()
    if missing:
        for column in missing:
            own.add(extract.header_row, column, "column of the mapping is not in the file")
        raise WorkbookError(own.items, own.total)

    cap = (limits.max_encounter_rows if spec.layout == "wide" else limits.max_code_rows) + 1
    extract.rows = _capped(extract.rows, cap)
    encounters: list[tuple[int, list[str]]] = [(extract.header_row, list(ENCOUNTER_COLUMNS))]
    codes = _Codes()
    codes.rows.append((1, list(CODE_COLUMNS)))
    (_wide if spec.layout == "wide" else _long)(reader, encounters, codes)
    for message in failures:
        own.add(None, None, message)

    try:
        workbook = read_tables(
            encounters,
            codes.rows,
            source=label,
            sheets=("encounters", "codes"),
            limits=limits,
        )
    except WorkbookError as exc:
        problems = _translated(exc, reader, codes, spec)
        raise _merged(own, problems, exc.total, reader) from None
    if own.total:
        raise WorkbookError(own.items, own.total)
    return Workbook(encounters=workbook.encounters, source=label, code_rows=workbook.code_rows)


def _capped(rows: Iterator[tuple[int, list[Any]]], cap: int) -> Iterator[tuple[int, list[Any]]]:
    # One row past the cap is passed on, so that `read_tables` reports "more than N rows".
    for n, item in enumerate(rows, start=1):
        yield item
        if n >= cap:
            return


def _translated(
    exc: WorkbookError, reader: _Reader, codes: _Codes, spec: MappingSpec
) -> list[Problem]:
    label = reader.extract.label
    out = []
    for p in exc.problems:
        if p.sheet == "encounters":
            column = reader.source_column(p.column) if p.column else None
            out.append(Problem(label, p.row, column, p.message))
            continue
        row, column = p.row, None
        if p.row is not None and spec.layout == "wide":
            index = p.row - 2
            if 0 <= index < len(codes.source_rows):
                row = codes.source_rows[index]
                if p.column is not None:
                    column = codes.columns[codes.where[index]].get(p.column)
                    if p.column == "encounter_id":
                        column = spec.get("encounter_id").column
        elif p.column is not None:
            column = codes.columns[0].get(p.column) if codes.columns else None
        if column is None and p.column is not None:
            column = f"{p.column} (set by the mapping)"
        out.append(Problem(label, row, column, p.message))
    return out


def _merged(
    own: _Collector, theirs: list[Problem], their_total: int, reader: _Reader
) -> WorkbookError:
    """Both lists in row then column order; where both name one cell, this module's
    problem is kept."""
    mine = {(p.row, p.column) for p in own.items}
    kept = [p for p in theirs if (p.row, p.column) not in mine or p.column is None]
    dropped = len(theirs) - len(kept)
    width = len(reader.extract.header)

    def order(p: Problem) -> tuple[int, int]:
        at = reader.position(p.column) if p.column else None
        return (p.row or 0, width if at is None else at)

    problems = sorted([*own.items, *kept], key=order)
    return WorkbookError(problems[:MAX_LISTED], own.total + their_total - dropped)
