"""MS-DRG grouping through `msdrg` (the CMS grouper logic, FY2023–FY2027).

`MsdrgAdapter` implements `engine.model.Grouper`: it picks the grouper version in force on
the claim's discharge date, builds msdrg's claim dict and turns the answer into a
`DrgResult`. Plain Python: no Django here.

One native grouper context serves the whole process. It is created lazily on first use,
guarded by a lock (ctypes releases the GIL, and the native context is not documented as
safe for concurrent calls), dropped without being touched in a forked child (the parent
owns it), and freed by `close()`, which also runs at interpreter exit so msdrg never
warns about an unclosed grouper. After `close()` the next call simply opens a new one.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal

from msdrg import ClaimInput, DiagnosisInput, MsdrgGrouper

from auditcoach.engine.model import DrgClaim, DrgResult

__all__ = [
    "FIRST_SUPPORTED_DATE",
    "LAST_SUPPORTED_DATE",
    "MsdrgAdapter",
    "close",
    "format_version",
    "grouper_version",
    "to_drg_result",
    "to_msdrg_claim",
]

# Fiscal years msdrg 1.2 has logic for: FY -> (October release, April 1 update).
# msdrg 1.2 has no v44.1 (April 2027 update): v44.0 is used for the whole of FY2027, so
# April-September 2027 discharges are grouped with the October logic (the mid-year update
# usually only adds new codes; a claim using one may group differently than CMS would).
_VERSIONS_BY_FY: dict[int, tuple[int, int]] = {
    2023: (400, 401),
    2024: (410, 411),
    2025: (420, 421),
    2026: (430, 431),
    2027: (440, 440),
}
FIRST_SUPPORTED_DATE = date(min(_VERSIONS_BY_FY) - 1, 10, 1)  # 2022-10-01
LAST_SUPPORTED_DATE = date(max(_VERSIONS_BY_FY), 9, 30)  # 2027-09-30

# Defaults for what the encounter does not say (see `to_msdrg_claim`).
_SEX_UNKNOWN: Literal[2] = 2
_ROUTINE_DISCHARGE = 1
_SEX: dict[str, Literal[0, 1, 2]] = {"M": 0, "MALE": 0, "F": 1, "FEMALE": 1, "U": 2, "UNKNOWN": 2}
# msdrg accepts only these; "1" (exempt from POA reporting) and blank must be left out.
_POA_SENT = frozenset({"Y", "N", "U", "W"})


@lru_cache(maxsize=4096)
def grouper_version(on: date) -> int | None:
    """The msdrg version in force for a discharge on `on` (e.g. 431), or None.

    Fiscal years start on October 1 (FY2026 = 2025-10-01..2026-09-30): the even version
    from October 1, the odd mid-year update from April 1. Cached by date: scoring asks for
    the same few dates over and over.
    """
    fy = on.year + 1 if on.month >= 10 else on.year
    versions = _VERSIONS_BY_FY.get(fy)
    if versions is None:
        return None
    return versions[1] if 4 <= on.month <= 9 else versions[0]


def format_version(version: int) -> str:
    """431 -> "43.1", the way CMS names grouper releases."""
    return f"{version // 10}.{version % 10}"


def to_msdrg_claim(claim: DrgClaim, version: int) -> ClaimInput:
    """msdrg's claim dict for `claim` (codes already normalized: no dots, uppercase).

    Defaults, chosen the way an auditor would read a claim that does not say:
    - sex: M/F/U (or MALE/FEMALE/UNKNOWN, any case); anything else, numbers included (UB-04
      and msdrg number sexes differently, so a digit is ambiguous), is sent as unknown (2).
    - disposition: the UB-04 2-digit code as an int; missing or not numeric -> 01, routine
      discharge home, the status that triggers no transfer or expired logic.
    - age: left out when unknown. msdrg accepts a claim without age, and MS-DRG v40-v44
      logic does not split on age (checked on v43.1: over 20,000 random claims and every
      P, O and Z38 principal, no grouping changed between no age and ages 0 to 124), so no
      made-up age is needed; an age, when known, is passed as is.
    - POA: sent only when Y, N, U or W; "1" (exempt) and blank are left out. A HAC
      diagnosis without POA makes msdrg return 999 (HAC_MISSING_ONE_POA), as CMS does.
    - no diagnosis: an empty principal, which groups to 999 (INVALID_PDX).
    Hospital HAC status and the tie breaker are left to msdrg (HAC rules applied).
    """
    dx = claim.diagnoses
    pdx: DiagnosisInput
    sdx: list[DiagnosisInput] = []
    if dx:
        code, poa = dx[0]
        pdx = {"code": code, "poa": poa} if poa in _POA_SENT else {"code": code}
        for code, poa in dx[1:]:
            sdx.append({"code": code, "poa": poa} if poa in _POA_SENT else {"code": code})
    else:
        pdx = {"code": ""}
    disposition = claim.disposition
    out: ClaimInput = {
        "version": version,
        "sex": _sex(claim.sex),
        "discharge_status": int(disposition)
        if disposition and disposition.isdecimal()
        else _ROUTINE_DISCHARGE,
        "pdx": pdx,
        "sdx": sdx,
        "procedures": [{"code": code} for code in claim.procedures],
    }
    if claim.age is not None:
        out["age"] = claim.age
    return out


def _sex(value: str | None) -> Literal[0, 1, 2]:
    if not value:
        return _SEX_UNKNOWN
    found = _SEX.get(value)
    if found is None:
        found = _SEX.get(value.strip().upper(), _SEX_UNKNOWN)
    return found


# Scoring regroups every encounter twice: precomputed texts and itemgetters keep the
# conversion of msdrg's answer to a few microseconds (f-strings and generator
# expressions cost more than building the claim).
_DRG_TEXT: dict[int, str] = {n: f"{n:03d}" for n in range(1000)}
_MDC_TEXT: dict[int, str] = {n: f"{n:02d}" for n in range(1, 100)}
_VERSION_TEXT: dict[int, str] = {
    v: format_version(v) for pair in _VERSIONS_BY_FY.values() for v in pair
}
_SECONDARY = itemgetter("code", "severity", "drg_impact")
_PROCEDURE = itemgetter("code", "is_or", "drg_impact")


def _drg(value: int | None) -> str | None:
    if value is None:
        return None
    return _DRG_TEXT.get(value) or f"{value:03d}"


def to_drg_result(raw: Mapping[str, Any], version: int) -> DrgResult:
    """A `DrgResult` from msdrg's answer. A missing final DRG is 999; MDC 0 (no MDC, as
    for 999) and an empty title (msdrg gives none for 999) are None."""
    mdc = raw.get("final_mdc")
    return DrgResult(
        drg=_drg(raw.get("final_drg")) or "999",
        initial_drg=_drg(raw.get("initial_drg")),
        mdc=(_MDC_TEXT.get(mdc) or f"{mdc:02d}") if mdc else None,
        title=raw.get("final_drg_description") or None,
        grouper_version=_VERSION_TEXT.get(version) or format_version(version),
        return_code=raw.get("return_code"),
        secondary=tuple(map(_SECONDARY, raw.get("sdx_output") or ())),
        procedures=tuple(map(_PROCEDURE, raw.get("proc_output") or ())),
    )


_lock = threading.Lock()
_native: MsdrgGrouper | None = None


def _forget_in_child() -> None:
    """After fork the child must not use (or free) the parent's native context."""
    global _native, _lock
    _lock = threading.Lock()
    if _native is not None:
        _native.ctx = None  # stops msdrg's __del__ from freeing or warning
        _native = None


def _open() -> MsdrgGrouper:
    """Create the process's grouper; call with `_lock` held."""
    global _native
    _native = MsdrgGrouper()
    return _native


def close() -> None:
    """Free the process's native grouper context (a later call opens a new one)."""
    global _native
    with _lock:
        if _native is not None:
            _native.close()
            _native = None


atexit.register(close)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class MsdrgAdapter:
    """`engine.model.Grouper` on msdrg; stateless, shares the process's native grouper."""

    def group(self, claim: DrgClaim) -> DrgResult | None:
        """The grouping with the version in force on the discharge date; None outside
        FY2023-FY2027 (before 2022-10-01 or after 2027-09-30)."""
        version = grouper_version(claim.discharge_date)
        if version is None:
            return None
        payload = to_msdrg_claim(claim, version)
        with _lock:
            raw = (_native or _open()).group(payload)
        return to_drg_result(raw, version)
