"""Office E/M leveling (2021+ AMA guidelines, CPT 2024 times), hand-worked.

Levels: straightforward (an element rated "minimal") < low < moderate < high. The MDM level
is the highest level that at least two of the three elements meet or exceed; the supported
code is the higher of the MDM level and the time level.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditcoach.engine.em import (
    ESTABLISHED,
    NEW,
    Level,
    Leveling,
    code_for,
    elements_meeting,
    level,
    mdm_level,
    supported_code,
    time_level,
)

MIN, LOW, MOD, HIGH = Level.STRAIGHTFORWARD, Level.LOW, Level.MODERATE, Level.HIGH
levels = st.sampled_from(list(Level))


def test_two_of_three_established_moderate() -> None:
    # Problems moderate and risk moderate: two elements reach moderate; data low does not
    # matter. Nothing reaches high. MDM moderate → established 99214.
    assert mdm_level(MOD, LOW, MOD) == MOD
    assert supported_code(ESTABLISHED, MOD, None) == "99214"


def test_one_high_element_alone_does_not_lift_the_level() -> None:
    # Established, problems high, data minimal, risk minimal. High: only problems → no.
    # Moderate: only problems → no. Low: only problems (data and risk are minimal) → no.
    # Straightforward: all three meet it. So MDM straightforward → 99212, not "low".
    assert mdm_level(HIGH, MIN, MIN) == MIN
    assert supported_code(ESTABLISHED, MIN, None) == "99212"


def test_the_middle_rating_wins() -> None:
    # High, moderate, low: moderate is met by two (high ≥ moderate, moderate); high by one.
    assert mdm_level(HIGH, MOD, LOW) == MOD
    # Low, high, high: high is met by data and risk → high.
    assert mdm_level(LOW, HIGH, HIGH) == HIGH
    # All minimal → straightforward.
    assert mdm_level(MIN, MIN, MIN) == MIN
    assert elements_meeting(MOD, LOW, MOD) == 2
    assert elements_meeting(LOW, LOW, LOW) == 3


def test_new_patient_time_thresholds_are_met_or_exceeded() -> None:
    # CPT 2024: 99203 needs 30 minutes, 99204 45. 44 minutes is not 45 → 99203.
    assert supported_code(NEW, None, 44) == "99203"
    assert supported_code(NEW, None, 45) == "99204"
    assert time_level(NEW, 14) is None  # below 15: no level by time
    assert time_level(NEW, 15) == MIN
    assert time_level(NEW, 29) == MIN
    assert time_level(NEW, 60) == HIGH
    assert time_level(NEW, 200) == HIGH


def test_established_time_thresholds() -> None:
    # 10 → 99212, 20 → 99213, 30 → 99214, 40 → 99215; 9 minutes supports nothing (99211
    # has no time threshold).
    assert time_level(ESTABLISHED, 9) is None
    assert [supported_code(ESTABLISHED, None, m) for m in (10, 19, 20, 30, 39, 40)] == [
        "99212",
        "99212",
        "99213",
        "99214",
        "99214",
        "99215",
    ]


def test_the_higher_of_mdm_and_time_applies() -> None:
    # Established, MDM low (99213) but 32 minutes documented (99214): the provider may level
    # by time, so 99214 is supported. And the other way round: MDM high, 12 minutes → 99215.
    assert supported_code(ESTABLISHED, LOW, 32) == "99214"
    assert supported_code(ESTABLISHED, HIGH, 12) == "99215"
    # Time below the lowest threshold simply does not count; the MDM still does.
    assert supported_code(NEW, MOD, 5) == "99204"


def test_nothing_to_level_by_is_an_error() -> None:
    with pytest.raises(ValueError, match="MDM level or a total time"):
        supported_code(ESTABLISHED, None, None)
    with pytest.raises(ValueError, match="MDM level or a total time"):
        supported_code(NEW, None, 10)  # below 15 minutes
    with pytest.raises(ValueError, match="not an office E/M family"):
        time_level("9928", 30)  # emergency department E/M is another family


def test_level_names() -> None:
    assert level("Minimal") == level("straightforward") == MIN
    assert level(" moderate ") == MOD
    assert MIN.element_label == "minimal"
    assert MIN.mdm_label == "straightforward"
    assert code_for(NEW, HIGH) == "99205"
    with pytest.raises(ValueError, match="unknown E/M level"):
        level("extreme")


def test_rationale_text_of_the_design_example() -> None:
    leveling = Leveling(ESTABLISHED, MOD, LOW, MOD, billed="99215")
    assert leveling.code == "99214"
    assert leveling.basis == "mdm"
    assert leveling.rationale() == (
        "MDM moderate (problems moderate, data low, risk moderate; 2 of 3) supports 99214; "
        "billed 99215."
    )


def test_rationale_with_time_names_the_higher() -> None:
    leveling = Leveling(ESTABLISHED, LOW, LOW, MIN, minutes=31, billed="99215")
    assert leveling.code == "99214"
    assert leveling.basis == "time"
    assert leveling.rationale() == (
        "MDM low (problems low, data low, risk minimal; 2 of 3) supports 99213; total time "
        "31 min supports 99214; the higher, 99214, applies; billed 99215."
    )
    time_only = Leveling(NEW, minutes=12)
    assert time_only.code is None
    assert time_only.rationale() == "Total time 12 min is below 15 min and supports no level."
    assert Leveling(NEW).rationale() == ""


def test_leveling_needs_all_three_elements_or_none() -> None:
    with pytest.raises(ValueError, match="all three MDM elements"):
        Leveling(NEW, MOD, None, MOD)
    stored = Leveling(NEW, HIGH, HIGH, LOW, minutes=50, billed="99204").as_dict()
    assert stored == {
        "family": "9920",
        "problems": "high",
        "data": "high",
        "risk": "low",
        "minutes": 50,
        "mdm": "high",
        "time_level": "moderate",
        "code": "99205",
        "billed": "99204",
    }


@given(levels, levels, levels)
def test_mdm_is_met_by_at_least_two_and_nothing_higher_is(a: Level, b: Level, c: Level) -> None:
    mdm = mdm_level(a, b, c)
    assert sum(x >= mdm for x in (a, b, c)) >= 2
    if mdm < HIGH:
        assert sum(x >= Level(mdm + 1) for x in (a, b, c)) < 2
    assert mdm_level(c, a, b) == mdm  # order of the elements does not matter


@given(
    st.sampled_from([NEW, ESTABLISHED]),
    st.one_of(st.none(), levels),
    st.integers(min_value=0, max_value=240),
)
def test_more_time_never_lowers_the_code(family: str, mdm: Level | None, minutes: int) -> None:
    try:
        code = supported_code(family, mdm, minutes)
    except ValueError:
        return
    assert code.startswith(family)
    assert code != "99211"
    assert supported_code(family, mdm, minutes + 1) >= code
