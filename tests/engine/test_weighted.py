"""The weighted error score and the configurable headline (docs/scoring.md)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditcoach.engine.model import FINDING_KINDS, GroupTally
from auditcoach.engine.scoring import (
    ScoreTotals,
    headline,
    pooled_tally,
    weighted_errors,
)
from auditcoach.engine.stats import Proportion


def test_hand_worked_weighted_errors() -> None:
    # 2 ADDED at weight 1, 1 REVISED at 0.5, 1 DRG_CHANGED at 3, 4 POA_CHANGED at 0 (left out):
    # weighted = 2×1 + 1×0.5 + 1×3 + 4×0 = 5.5 over 20 audited codes → 27.5 per 100 codes.
    w = weighted_errors(
        {"ADDED": 2, "REVISED": 1, "DRG_CHANGED": 1, "POA_CHANGED": 4},
        {"REVISED": Decimal("0.5"), "DRG_CHANGED": Decimal(3), "POA_CHANGED": Decimal(0)},
        opportunities=20,
    )
    assert w.weighted == Decimal("5.5")
    assert w.findings == 8
    assert w.per_100 == Decimal("27.5")


def test_no_codes_means_no_score() -> None:
    assert weighted_errors({"DRG_CHANGED": 1}, {}, opportunities=0).per_100 is None


def test_negative_weights_and_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="weight"):
        weighted_errors({"ADDED": 1}, {"ADDED": Decimal(-1)}, opportunities=1)
    with pytest.raises(ValueError, match="count"):
        weighted_errors({"ADDED": -1}, {}, opportunities=1)


counts = st.dictionaries(st.sampled_from(FINDING_KINDS), st.integers(0, 50))
weights = st.dictionaries(
    st.sampled_from(FINDING_KINDS),
    st.decimals(min_value=0, max_value=10, places=2, allow_nan=False, allow_infinity=False),
)


@given(counts, weights, st.integers(1, 500))
def test_weighted_errors_invariants(
    kinds: dict[str, int], w: dict[str, Decimal], opportunities: int
) -> None:
    result = weighted_errors(kinds, w, opportunities=opportunities)
    # Default weights: the score is the plain count of findings.
    plain = weighted_errors(kinds, {}, opportunities=opportunities)
    assert plain.weighted == sum(kinds.values()) == plain.findings
    # Never negative; bounded by the heaviest weight times the findings.
    assert 0 <= result.weighted <= Decimal(10) * result.findings
    # Scaling every weight scales the score; raising one weight never lowers it.
    doubled = weighted_errors(
        kinds, {k: w.get(k, Decimal(1)) * 2 for k in FINDING_KINDS}, opportunities=opportunities
    )
    assert doubled.weighted == 2 * result.weighted
    for kind in FINDING_KINDS:
        heavier = {**w, kind: w.get(kind, Decimal(1)) + 1}
        assert (
            weighted_errors(kinds, heavier, opportunities=opportunities).weighted >= result.weighted
        )
    assert result.per_100 == result.weighted * 100 / opportunities


def _totals() -> ScoreTotals:
    # DX: A=4 with 1 ADDED → 3/4; PX: A=2 with 1 REVISED → 1/2; LINE: A=0.
    # Pooled DX+PX: (6 − 1 − 1) / 6 = 4/6. 3 encounters, 1 clean; 2 with DRGs, 1 changed.
    return ScoreTotals(
        encounters=3,
        clean_encounters=1,
        dx=GroupTally(audited=4, original=3, matched=3, added=1),
        px=GroupTally(audited=2, original=2, matched=1, revised=1),
        drg_counted=2,
        drg_changed=1,
    )


def test_headlines_name_their_proportion() -> None:
    t = _totals()
    assert headline(t, "dx_code_accuracy", ["DX", "PX"]) == Proportion(3, 4)
    assert headline(t, "code_accuracy", ["DX", "PX"]) == Proportion(3, 4)  # legacy alias
    assert headline(t, "pooled_code_accuracy", ["DX", "PX"]) == Proportion(4, 6)
    assert headline(t, "pooled_code_accuracy", ["PX"]) == Proportion(1, 2)
    # union: (m − e) / (m + r + a + d) = (3 + 1) / (3 + 1 + 1 + 1 + 0) = 4/6
    assert headline(t, "pooled_union_accuracy", ["DX", "PX"]) == Proportion(4, 6)
    assert headline(t, "record_accuracy", ["DX"]) == Proportion(1, 3)
    assert headline(t, "drg_accuracy", ["DX"]) == Proportion(1, 2)
    assert pooled_tally(t, ["DX", "DX"]) == t.dx  # a group counts once
    with pytest.raises(ValueError, match="unknown headline"):
        headline(t, "nope", ["DX"])
