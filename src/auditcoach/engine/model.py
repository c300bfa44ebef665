"""Plain data shared by the engine: encounters in, findings and tallies out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol

Setting = Literal["inpatient", "outpatient", "profee"]
System = Literal["ICD10CM", "ICD10PCS", "CPT", "HCPCS"]
Group = Literal["DX", "PX", "LINE"]
Version = Literal["original", "audited"]

SETTINGS: tuple[Setting, ...] = ("inpatient", "outpatient", "profee")
SYSTEMS: tuple[System, ...] = ("ICD10CM", "ICD10PCS", "CPT", "HCPCS")
GROUPS: tuple[Group, ...] = ("DX", "PX", "LINE")
SYSTEM_GROUP: dict[str, Group] = {
    "ICD10CM": "DX",
    "ICD10PCS": "PX",
    "CPT": "LINE",
    "HCPCS": "LINE",
}

# Finding kinds, exactly those of DESIGN §5.
ADDED = "ADDED"
DELETED = "DELETED"
REVISED = "REVISED"
RESEQUENCED = "RESEQUENCED"
POA_CHANGED = "POA_CHANGED"
MODIFIER_CHANGED = "MODIFIER_CHANGED"
UNITS_CHANGED = "UNITS_CHANGED"
DRG_CHANGED = "DRG_CHANGED"
DISPOSITION_CHANGED = "DISPOSITION_CHANGED"
FINDING_KINDS: tuple[str, ...] = (
    ADDED,
    DELETED,
    REVISED,
    RESEQUENCED,
    POA_CHANGED,
    MODIFIER_CHANGED,
    UNITS_CHANGED,
    DRG_CHANGED,
    DISPOSITION_CHANGED,
)


@dataclass(frozen=True, slots=True)
class CodeLine:
    """One billed or audited code, already normalized (see `codes.normalize_*`)."""

    system: System
    seq: int
    code: str
    poa: str = ""
    modifiers: frozenset[str] = frozenset()
    units: int = 1

    @property
    def group(self) -> Group:
        return SYSTEM_GROUP[self.system]


@dataclass(frozen=True, slots=True)
class Encounter:
    """One account under review with both versions of its coding.

    The descriptive columns (facility, coder, ...) ride along for importers; the rules
    only read the clinical ones. `reviewed` is False for an encounter not yet reviewed
    (DESIGN §9: original lines and no audited line in the workbook, the audited version
    a copy of the original): it has no findings and counts in no score or metric.
    """

    encounter_id: str
    setting: Setting
    discharge_date: date
    age: int | None = None
    sex: str | None = None
    discharge_disposition: str | None = None
    audited_disposition: str | None = None
    billed_drg: str | None = None
    original: tuple[CodeLine, ...] = ()
    audited: tuple[CodeLine, ...] = ()
    facility: str = ""
    service_line: str = ""
    provider: str = ""
    payer: str = ""
    coder: str = ""
    auditor: str = ""
    audit_cycle: str = ""
    reviewed: bool = True

    @property
    def effective_audited_disposition(self) -> str | None:
        """The audited disposition defaults to the original one (DESIGN §5.5)."""
        return self.audited_disposition or self.discharge_disposition


@dataclass(frozen=True, slots=True)
class Finding:
    """A difference between the two versions, derived by the rules of DESIGN §5."""

    kind: str
    group: str  # DX, PX, LINE, or "-" for DRG_CHANGED and DISPOSITION_CHANGED
    original: str | None
    audited: str | None
    principal: bool = False
    em_delta: int | None = None
    original_value: str | None = None
    audited_value: str | None = None
    # Where the finding sits in each version (None where absent); not part of the JSON.
    original_seq: int | None = None
    audited_seq: int | None = None
    original_rw: Decimal | None = None
    audited_rw: Decimal | None = None

    @property
    def pattern(self) -> str:
        return pattern_key(self.kind, self.group, self.original, self.audited)

    @property
    def identity(self) -> tuple[str, str, str | None, str | None]:
        """What makes two derivations 'the same finding' (to keep an auditor's notes)."""
        return (self.kind, self.group, self.original, self.audited)


def pattern_key(kind: str, group: str, original: str | None, audited: str | None) -> str:
    """`kind:group:family`; family is the first 3 characters of the audited code, else
    the original; DRG and disposition findings have `-` for group and family."""
    if group == "-":
        return f"{kind}:-:-"
    code = audited if audited is not None else (original or "")
    return f"{kind}:{group}:{code[:3]}"


@dataclass(frozen=True, slots=True)
class GroupTally:
    """The counts of DESIGN §6 for one group of one encounter (or summed over many)."""

    audited: int = 0  # A
    original: int = 0  # C
    matched: int = 0  # m
    revised: int = 0  # r
    added: int = 0  # a
    deleted: int = 0  # d
    line_errors: int = 0  # e (LINE only)

    def __add__(self, other: GroupTally) -> GroupTally:
        return GroupTally(
            self.audited + other.audited,
            self.original + other.original,
            self.matched + other.matched,
            self.revised + other.revised,
            self.added + other.added,
            self.deleted + other.deleted,
            self.line_errors + other.line_errors,
        )

    @property
    def code_errors(self) -> int:
        """a + r + e: the errors of the p-chart (DESIGN §8)."""
        return self.added + self.revised + self.line_errors


@dataclass(frozen=True, slots=True)
class DrgClaim:
    """What a grouper needs for one version of an inpatient encounter."""

    discharge_date: date
    age: int | None
    sex: str | None
    disposition: str | None
    diagnoses: tuple[tuple[str, str], ...]  # (code, poa) in seq order; first is principal
    procedures: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DrgResult:
    """A grouping: the final DRG as a 3-digit string plus what screens show about it."""

    drg: str
    initial_drg: str | None = None
    mdc: str | None = None
    title: str | None = None
    grouper_version: str | None = None
    return_code: str | None = None
    # Per secondary diagnosis: (code, severity NONE/CC/MCC, drg impact) as the grouper saw it.
    secondary: tuple[tuple[str, str, str], ...] = ()
    procedures: tuple[tuple[str, bool, str], ...] = ()  # (code, is OR, drg impact)


class Grouper(Protocol):
    """Groups a claim with the grouper version in force on its discharge date."""

    def group(self, claim: DrgClaim) -> DrgResult | None:
        """None when no grouper version covers the date."""
        ...


@dataclass(frozen=True, slots=True)
class CodeIssue:
    """Something the code sets say about one code line (invalid, header, not valid on the
    discharge date, cannot be principal, sex or age conflict, ...)."""

    version: str  # original / audited
    system: str
    seq: int
    code: str
    kind: str  # e.g. INVALID, HEADER, NOT_VALID_ON_DATE, NOT_PRINCIPAL, SEX_CONFLICT, AGE_CONFLICT
    message: str

    def __str__(self) -> str:
        return f"{self.version} {self.system} {self.code} (seq {self.seq}): {self.message}"


class CodeChecker(Protocol):
    """Checks every code of both versions against the code sets of the discharge date."""

    def check(self, encounter: Encounter) -> tuple[CodeIssue, ...]: ...


class Pricing(Protocol):
    """Relative weights (CMS Table 5, '10% cap applied') and default base rates by date."""

    def weight(self, drg: str, on: date) -> Decimal | None: ...

    def default_base_rate(self, on: date) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class EncounterResult:
    """Everything the rules derive for one encounter."""

    encounter_id: str
    setting: str
    findings: tuple[Finding, ...]
    tallies: dict[str, GroupTally]
    pdx_counted: bool = False  # inpatient with an audited principal
    pdx_same: bool = False
    poa_checked: int = 0  # matched inpatient DX pairs whose audited POA is Y/N/U/W
    poa_changed: int = 0
    drg_counted: bool = False  # inpatient with both DRGs
    original_drg: str | None = None
    audited_drg: str | None = None
    original_grouping: DrgResult | None = None
    audited_grouping: DrgResult | None = None
    rw_delta: Decimal | None = None
    financial_impact: Decimal | None = None
    em_counted: bool = False  # audited version has a §5.7 E/M code
    em_same: bool = False
    code_issues: tuple[CodeIssue, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    reviewed: bool = True  # False: not yet reviewed (DESIGN §9), left out of every score

    @property
    def em_overcoded(self) -> int:
        return sum(1 for f in self.findings if f.em_delta is not None and f.em_delta < 0)

    @property
    def em_undercoded(self) -> int:
        return sum(1 for f in self.findings if f.em_delta is not None and f.em_delta > 0)
