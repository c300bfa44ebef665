"""Office and outpatient E/M leveling (AMA CPT E/M guidelines, 2021 and later).

An office or other outpatient visit (99202-99205 new patient, 99211-99215 established) is
leveled either by medical decision making (MDM) or by the physician's or other qualified
health care professional's total time on the date of the encounter; the provider may use
whichever supports the higher level, so the code an audit supports is the higher of the two.

MDM has three elements, each rated minimal (straightforward), low, moderate or high:
the number and complexity of problems addressed, the amount and/or complexity of data
reviewed and analyzed, and the risk of complications and/or morbidity or mortality of
patient management. The MDM level is the highest level that **two of the three** elements
meet or exceed, which is simply the middle one of the three ratings.

Time thresholds are those of CPT 2024 ("must be met or exceeded"): new 99202 15, 99203 30,
99204 45, 99205 60 minutes; established 99212 10, 99213 20, 99214 30, 99215 40 minutes.
99211 has neither an MDM level nor a time threshold (it may not need a physician), so
leveling never supports it: below the lowest threshold time supports no level.

Plain Python: no Django here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

__all__ = [
    "ESTABLISHED",
    "FAMILIES",
    "NEW",
    "TIME_THRESHOLDS",
    "Family",
    "Level",
    "Leveling",
    "code_for",
    "elements_meeting",
    "level",
    "mdm_level",
    "supported_code",
    "time_level",
]

Family = Literal["9920", "9921"]
NEW: Final[Family] = "9920"  # 99202-99205, same prefix as `codes.em_family`
ESTABLISHED: Final[Family] = "9921"  # 99211-99215
FAMILIES: Final[dict[str, str]] = {NEW: "new patient", ESTABLISHED: "established patient"}


class Level(IntEnum):
    """A rating of an MDM element, or the MDM level itself. Ordered: higher is more."""

    STRAIGHTFORWARD = 1  # "minimal" for an element
    LOW = 2
    MODERATE = 3
    HIGH = 4

    @property
    def element_label(self) -> str:
        """How the guideline names an element rated at this level."""
        return "minimal" if self is Level.STRAIGHTFORWARD else self.name.lower()

    @property
    def mdm_label(self) -> str:
        """How the guideline names an MDM of this level."""
        return self.name.lower()


_NAMES: Final[dict[str, Level]] = {
    "minimal": Level.STRAIGHTFORWARD,
    "straightforward": Level.STRAIGHTFORWARD,
    "low": Level.LOW,
    "moderate": Level.MODERATE,
    "high": Level.HIGH,
}


def level(name: str) -> Level:
    """`minimal`/`straightforward`, `low`, `moderate`, `high` (any case) as a Level."""
    try:
        return _NAMES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown E/M level {name!r}") from None


# The last digit of the code each level supports (99202/99212 straightforward ... 99205/99215
# high). 99211 is not here: no MDM level or time threshold leads to it.
_DIGIT: Final[dict[Level, str]] = {
    Level.STRAIGHTFORWARD: "2",
    Level.LOW: "3",
    Level.MODERATE: "4",
    Level.HIGH: "5",
}

TIME_THRESHOLDS: Final[dict[Family, tuple[tuple[int, Level], ...]]] = {
    NEW: ((15, Level.STRAIGHTFORWARD), (30, Level.LOW), (45, Level.MODERATE), (60, Level.HIGH)),
    ESTABLISHED: (
        (10, Level.STRAIGHTFORWARD),
        (20, Level.LOW),
        (30, Level.MODERATE),
        (40, Level.HIGH),
    ),
}


def _family(family: str) -> Family:
    if family == NEW:
        return NEW
    if family == ESTABLISHED:
        return ESTABLISHED
    raise ValueError(f"not an office E/M family: {family!r} (9920 new, 9921 established)")


def mdm_level(problems: Level, data: Level, risk: Level) -> Level:
    """The MDM level by the 2-of-3 rule: the highest level met or exceeded by at least two
    of the three elements. With the three ratings sorted, that is the middle one: the top
    rating is met by one element only unless the middle one reaches it too, and every level
    up to the middle one is met by (at least) the middle and the top elements."""
    return sorted((Level(problems), Level(data), Level(risk)))[1]


def elements_meeting(problems: Level, data: Level, risk: Level) -> int:
    """How many of the three elements meet or exceed their MDM level (2 or 3)."""
    mdm = mdm_level(problems, data, risk)
    return sum(1 for element in (problems, data, risk) if element >= mdm)


def time_level(family: str, minutes: int) -> Level | None:
    """The level total time supports, or None below the family's lowest threshold."""
    found: Level | None = None
    for threshold, lvl in TIME_THRESHOLDS[_family(family)]:
        if minutes >= threshold:
            found = lvl
    return found


def code_for(family: str, lvl: Level) -> str:
    """The code of a family at a level: (9921, MODERATE) → 99214."""
    return f"{_family(family)}{_DIGIT[Level(lvl)]}"


def supported_code(family: str, mdm: Level | None, minutes: int | None) -> str:
    """The code the documentation supports: the higher of the MDM level and the time level
    (the guideline lets the provider pick either). Raises ValueError when neither gives a
    level (no MDM rated and no time, or time below the lowest threshold)."""
    by_time = time_level(family, minutes) if minutes is not None else None
    levels = [lvl for lvl in (mdm, by_time) if lvl is not None]
    if not levels:
        raise ValueError("an MDM level or a total time at or above the lowest threshold is needed")
    return code_for(family, max(levels))


@dataclass(frozen=True, slots=True)
class Leveling:
    """An auditor's leveling of one visit and what it supports.

    `problems`, `data` and `risk` are all rated or all None (time only); `minutes` is the
    documented total time or None. `billed` is the code the coder reported, for the text.
    """

    family: Family
    problems: Level | None = None
    data: Level | None = None
    risk: Level | None = None
    minutes: int | None = None
    billed: str = ""

    def __post_init__(self) -> None:
        rated = [x is not None for x in (self.problems, self.data, self.risk)]
        if any(rated) and not all(rated):
            raise ValueError("rate all three MDM elements, or none of them")
        if self.minutes is not None and self.minutes < 0:
            raise ValueError("minutes cannot be negative")

    @property
    def mdm(self) -> Level | None:
        if self.problems is None or self.data is None or self.risk is None:
            return None
        return mdm_level(self.problems, self.data, self.risk)

    @property
    def by_time(self) -> Level | None:
        return None if self.minutes is None else time_level(self.family, self.minutes)

    @property
    def code(self) -> str | None:
        """The supported code, or None when nothing supports a level."""
        try:
            return supported_code(self.family, self.mdm, self.minutes)
        except ValueError:
            return None

    @property
    def basis(self) -> str:
        """`mdm`, `time` or `both` (equal levels): what the supported code rests on."""
        mdm, by_time = self.mdm, self.by_time
        if mdm is not None and by_time is not None:
            return "both" if mdm == by_time else ("mdm" if mdm > by_time else "time")
        return "mdm" if mdm is not None else ("time" if by_time is not None else "")

    def rationale(self) -> str:
        """The sentence an auditor would write, e.g. "MDM moderate (problems moderate, data
        low, risk moderate; 2 of 3) supports 99214; billed 99215." """
        parts: list[str] = []
        mdm = self.mdm
        problems, data, risk = self.problems, self.data, self.risk
        if mdm is not None and problems is not None and data is not None and risk is not None:
            n = elements_meeting(problems, data, risk)
            parts.append(
                f"MDM {mdm.mdm_label} (problems {problems.element_label}, data "
                f"{data.element_label}, risk {risk.element_label}; {n} of 3) "
                f"supports {code_for(self.family, mdm)}"
            )
        if self.minutes is not None:
            by_time = self.by_time
            if by_time is None:
                lowest = TIME_THRESHOLDS[self.family][0][0]
                parts.append(
                    f"total time {self.minutes} min is below {lowest} min and supports no level"
                )
            else:
                parts.append(
                    f"total time {self.minutes} min supports {code_for(self.family, by_time)}"
                )
        code = self.code
        if not parts:
            return ""
        text = "; ".join(parts)
        text = text[0].upper() + text[1:]
        if mdm is not None and self.minutes is not None and code is not None:
            text += f"; the higher, {code}, applies"
        if self.billed:
            text += f"; billed {self.billed}"
        return text + "."

    def as_dict(self) -> dict[str, object]:
        """Plain JSON for storage beside a finding (names, not numbers, so it reads well)."""
        return {
            "family": self.family,
            "problems": self.problems.element_label if self.problems else None,
            "data": self.data.element_label if self.data else None,
            "risk": self.risk.element_label if self.risk else None,
            "minutes": self.minutes,
            "mdm": self.mdm.mdm_label if self.mdm else None,
            "time_level": self.by_time.mdm_label if self.by_time else None,
            "code": self.code,
            "billed": self.billed,
        }
