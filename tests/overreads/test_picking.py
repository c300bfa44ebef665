"""The plan's pick without a database: target count, determinism, top-ups."""

import pytest

from auditcoach.overreads.picking import least_loaded, pick, target_count


@pytest.mark.parametrize(
    ("share", "reviewed", "expected"),
    [
        (10, 0, 0),
        (10, 1, 1),  # ceil(0.1) = 1: any share of a non-empty cycle picks at least one
        (10, 10, 1),  # exactly 1.0, no float rounding up to 2
        (10, 11, 2),  # ceil(1.1)
        (25, 8, 2),
        (33, 3, 1),  # ceil(0.99)
        (100, 7, 7),
        (1, 250, 3),  # ceil(2.5)
    ],
)
def test_target_is_the_ceiling_of_share_times_n(share: int, reviewed: int, expected: int) -> None:
    assert target_count(share, reviewed) == expected


@pytest.mark.parametrize("share", [0, 101])
def test_share_out_of_range(share: int) -> None:
    with pytest.raises(ValueError, match="percentage"):
        target_count(share, 5)


def test_pick_is_deterministic_for_a_seed_and_ignores_input_order() -> None:
    keys = [f"enc-{i}" for i in range(20)]
    first = pick(keys, seed=7, count=5)
    assert first == pick(list(reversed(keys)), seed=7, count=5)
    assert len(set(first)) == 5
    assert pick(keys, seed=8, count=5) != first  # another seed, another sample


def test_adding_candidates_keeps_the_earlier_order() -> None:
    keys = [f"enc-{i}" for i in range(10)]
    whole = pick(keys, seed=3, count=10)
    more = pick([*keys, "enc-new"], seed=3, count=11)
    assert [k for k in more if k != "enc-new"] == whole


def test_least_loaded_breaks_ties_by_name() -> None:
    assert least_loaded({"bea": 2, "al": 1, "cy": 1}) == "al"
    assert least_loaded({}) is None
