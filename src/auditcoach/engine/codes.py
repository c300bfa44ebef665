"""Normalization of codes, POA values and modifiers (DESIGN §5, first paragraph),
and the small code facts the rules need (E/M families)."""

import re
from collections.abc import Iterable

_STRIP = re.compile(r"[\s.]+")

# DESIGN §5.7: office/outpatient E/M codes whose level is the last digit.
EM_NEW = frozenset({"99202", "99203", "99204", "99205"})
EM_ESTABLISHED = frozenset({"99211", "99212", "99213", "99214", "99215"})
EM_CODES = EM_NEW | EM_ESTABLISHED


def normalize_code(raw: str) -> str:
    """Remove every whitespace character and every dot, uppercase."""
    return _STRIP.sub("", raw).upper()


def normalize_poa(raw: str | None) -> str:
    return (raw or "").strip().upper()


def normalize_modifiers(raw: str | Iterable[str] | None) -> frozenset[str]:
    """Modifiers are trimmed, uppercased, empty items dropped, compared as a set."""
    if raw is None:
        return frozenset()
    items = raw.split(";") if isinstance(raw, str) else raw
    return frozenset(m.strip().upper() for m in items if m.strip())


def format_modifiers(modifiers: Iterable[str]) -> str:
    """Sorted in plain character order, joined by `;` (empty set → "")."""
    return ";".join(sorted(modifiers))


def em_family(code: str) -> str | None:
    """`9920` (new patient) or `9921` (established) for a §5.7 E/M code, else None."""
    if code in EM_CODES:
        return code[:4]
    return None


def em_level(code: str) -> int:
    return int(code[-1])


def display_code(system: str, code: str) -> str:
    """Screens show ICD-10-CM with its dot after the category (I50.23); others as stored."""
    if system == "ICD10CM" and len(code) > 3:
        return f"{code[:3]}.{code[3:]}"
    return code
