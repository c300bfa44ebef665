"""engine.sampling: DESIGN §12 to the bit — the generator against §12's values and an
independent derivation, selection and stratification hand-worked, §12's worked appraisals
and size, exact hypergeometric limits against their definition, and hypothesis invariants."""

import itertools
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from auditcoach.engine.sampling import (
    SIZE_ROUNDS,
    SampleStratum,
    SamplingError,
    WichmannHill,
    allocate_proportional,
    appraise_attribute,
    appraise_variable,
    attribute_sample_size,
    cents,
    draw_strata,
    hypergeometric_limits,
    random_seed,
    select_without_replacement,
    variable_sample_size,
)

# --------------------------------------------------------------------------- an independent generator


def reference_state(seed: int) -> tuple[int, int, int]:
    """§12's seed → state, written from the formulas (div and mod, not divmod chains)."""
    return (
        seed % 30268 + 1,
        (seed // 30268) % 30306 + 1,
        (seed // (30268 * 30306)) % 30322 + 1,
    )


def reference_draw(seed: int, k: int) -> float:
    """The k-th draw (k ≥ 1) without iterating: the state of a multiplicative congruential
    generator after k steps is x₀·a^k mod m. Each term is the exact rational converted to the
    nearest double (what IEEE division x/m gives), added in §12's order, then the integer
    part taken off (exact in [0, 3))."""
    x0, y0, z0 = reference_state(seed)
    x = x0 * pow(171, k, 30269) % 30269
    y = y0 * pow(172, k, 30307) % 30307
    z = z0 * pow(170, k, 30323) % 30323
    total = float(Fraction(x, 30269)) + float(Fraction(y, 30307)) + float(Fraction(z, 30323))
    return total - math.floor(total)


def exact_draw(seed: int, k: int) -> Fraction:
    x0, y0, z0 = reference_state(seed)
    x = x0 * pow(171, k, 30269) % 30269
    y = y0 * pow(172, k, 30307) % 30307
    z = z0 * pow(170, k, 30323) % 30323
    total = Fraction(x, 30269) + Fraction(y, 30307) + Fraction(z, 30323)
    return total - math.floor(total)


def test_seed_0_gives_the_state_and_first_draws_of_section_12() -> None:
    rng = WichmannHill(0)
    assert rng.state == (1, 1, 1)
    assert [rng.random() for _ in range(3)] == [
        0.01693090619965683,
        0.8952539112379991,
        0.11149102121645216,
    ]


@pytest.mark.parametrize(
    ("seed", "state"),
    [
        (0, (1, 1, 1)),
        (30267, (30268, 1, 1)),
        (30268, (1, 2, 1)),  # S div 30268 = 1
        (30268 * 30306, (1, 1, 2)),  # S div (30268·30306) = 1
        (30268 * 30306 * 30322, (1, 1, 1)),  # z wraps: (S div …) mod 30322 = 0
        (30268 * 30306 - 1, (30268, 30306, 1)),
    ],
)
def test_seed_to_state(seed: int, state: tuple[int, int, int]) -> None:
    assert WichmannHill(seed).state == state


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64))
def test_generator_matches_the_independent_derivation(seed: int) -> None:
    rng = WichmannHill(seed)
    for k in range(1, 60):
        u = rng.random()
        assert u == reference_draw(seed, k)
        assert 0.0 < u < 1.0
        # and the double is within a few units in the last place of the exact value
        assert abs(Fraction(u) - exact_draw(seed, k)) < Fraction(1, 2**50)


def test_generator_matches_the_derivation_far_into_the_stream() -> None:
    rng = WichmannHill(123_456_789)
    draws = [rng.random() for _ in range(5000)]
    assert draws[-1] == reference_draw(123_456_789, 5000)
    assert draws[2499] == reference_draw(123_456_789, 2500)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "7"])
def test_a_seed_is_a_whole_number_0_or_more(seed: object) -> None:
    with pytest.raises(SamplingError):
        WichmannHill(seed)  # type: ignore[arg-type]


def test_a_chosen_seed_lies_in_1_to_2_to_the_40() -> None:
    seeds = {random_seed() for _ in range(50)}
    assert all(1 <= s <= 2**40 for s in seeds)
    assert len(seeds) > 1


# --------------------------------------------------------------------------- selection


def test_selection_discards_an_item_already_taken() -> None:
    # seed 0, N = 4: u = 0.0169 → 1, 0.8953 → 4, 0.1115 → 1 (taken), 0.9395 → 4 (taken),
    # 0.1282 → 1, 0.1780 → 1, 0.2998 → 2. So 3 items: 1, 4, 2.
    selected, spares = select_without_replacement(WichmannHill(0), 4, 3)
    assert (selected, spares) == ([1, 4, 2], [])


def test_spares_continue_the_same_stream() -> None:
    # seed 0, N = 10: 1, 9, 2, 10 are the sample; then 0.1282 → 2 and 0.1780 → 2 are taken,
    # 0.2998 → 3 and 0.3497 → 4 are the spares.
    selected, spares = select_without_replacement(WichmannHill(0), 10, 4, 2)
    assert (selected, spares) == ([1, 9, 2, 10], [3, 4])


def reference_select(seed: int, population: int, wanted: int) -> list[int]:
    taken: list[int] = []
    k = 0
    while len(taken) < wanted:
        k += 1
        item = math.floor(reference_draw(seed, k) * population) + 1
        if item not in taken:
            taken.append(item)
    return taken


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**40),
    population=st.integers(min_value=1, max_value=300),
    data=st.data(),
)
def test_selection_invariants(seed: int, population: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=0, max_value=population))
    spares = data.draw(st.integers(min_value=0, max_value=population - size))
    selected, spare = select_without_replacement(WichmannHill(seed), population, size, spares)
    assert len(selected) == size
    assert len(spare) == spares
    assert len(set(selected) | set(spare)) == size + spares  # distinct and disjoint
    assert all(1 <= k <= population for k in selected + spare)
    # same seed, same sample; and the spares are just the stream going on
    assert select_without_replacement(WichmannHill(seed), population, size, spares) == (
        selected,
        spare,
    )
    assert select_without_replacement(WichmannHill(seed), population, size + spares)[0] == (
        selected + spare
    )
    if size + spares <= 40:
        assert selected + spare == reference_select(seed, population, size + spares)


def test_asking_for_more_than_there_is_is_an_error() -> None:
    with pytest.raises(SamplingError, match="only 5 items"):
        select_without_replacement(WichmannHill(1), 5, 4, 2)


# --------------------------------------------------------------------------- strata


def test_strata_run_in_plain_character_order_on_one_stream() -> None:
    # Code-point order: "B" (66) < "a" (97) < "b" (98) < "é" (233). One stream: B's 2 items
    # and 1 spare first, then a's, then b's, then é's, each stratum numbering its own items.
    strata = {"b": 30, "é": 12, "a": 25, "B": 40}
    sizes = {"b": 3, "é": 2, "a": 4, "B": 2}
    drawn = draw_strata(strata, sizes, spares=1, seed=987654321)
    assert [d.label for d in drawn] == ["B", "a", "b", "é"]
    rng = WichmannHill(987654321)
    for d in drawn:
        selected, spare = select_without_replacement(rng, strata[d.label], sizes[d.label], 1)
        assert (list(d.selected), list(d.spares)) == (selected, spare)
        assert (d.items, d.size, d.certainty) == (strata[d.label], sizes[d.label], False)
        assert d.sorted == tuple(sorted(selected))


def test_a_certainty_stratum_takes_everything_in_item_order_and_uses_no_draw() -> None:
    # "A": 3 items, size 2 + 1 spare reaches 3 → certainty: items 1, 2, 3, no spares, and no
    # draw, so "B" gets the stream from its first number, as if "A" were not there.
    drawn = draw_strata({"A": 3, "B": 10}, {"A": 2, "B": 4}, spares=1, seed=0)
    assert drawn[0].certainty
    assert (drawn[0].size, drawn[0].selected, drawn[0].spares) == (3, (1, 2, 3), ())
    # seed 0, N 10: 1, 9, 2, 10, then the spare 3 (after two 2s) as in the selection test
    assert (drawn[1].selected, drawn[1].spares) == ((1, 9, 2, 10), (3,))
    assert not drawn[1].certainty


def test_an_unstratified_draw_is_one_stratum_labelled_empty() -> None:
    (drawn,) = draw_strata({"": 10}, {"": 4}, spares=2, seed=0)
    assert (drawn.label, drawn.selected, drawn.spares) == ("", (1, 9, 2, 10), (3, 4))


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"A": 2}, "no size given for stratum 'B'"),
        ({"A": 2, "B": 11}, "11 items asked for, but it has only 10"),
        ({"A": 2, "B": 3, "C": 1}, "'C', which is not a stratum"),
        ({"A": -1, "B": 3}, "a size is 0 or more"),
    ],
)
def test_bad_sizes_are_errors(sizes: dict[str, int], message: str) -> None:
    with pytest.raises(SamplingError, match=message):
        draw_strata({"A": 5, "B": 10}, sizes, spares=0, seed=1)


def test_every_problem_of_a_draw_is_listed() -> None:
    with pytest.raises(SamplingError) as caught:
        draw_strata({"A": 5, "B": 10}, {"A": 6, "C": 1}, spares=-1, seed=-3)
    assert len(caught.value.problems) == 5  # spares, A too big, B missing, C unknown, seed


@pytest.mark.parametrize(
    ("total", "strata", "expected"),
    [
        # quotas 3, 3, 4: exact
        (10, {"a": 3, "b": 3, "c": 4}, {"a": 3, "b": 3, "c": 4}),
        # quotas 2.0, 1.2, 0.8: floors 2, 1, 0; one unit missing goes to z (remainder 0.8)
        (4, {"x": 5, "y": 3, "z": 2}, {"x": 2, "y": 1, "z": 1}),
        # quotas 2/3 each: floors 0; two units to the largest remainders, tied → label order
        (2, {"c": 1, "a": 1, "b": 1}, {"a": 1, "b": 1, "c": 0}),
        # quotas 50·7/13 = 26.92, 50·6/13 = 23.08: 26 + 23 = 49, the unit goes to "p"
        (50, {"p": 700, "q": 600}, {"p": 27, "q": 23}),
    ],
)
def test_proportional_allocation(
    total: int, strata: dict[str, int], expected: dict[str, int]
) -> None:
    assert allocate_proportional(total, strata) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 500), min_size=1, max_size=8),
    st.data(),
)
def test_proportional_allocation_invariants(strata: dict[str, int], data: st.DataObject) -> None:
    population = sum(strata.values())
    total = data.draw(st.integers(min_value=1, max_value=population))
    sizes = allocate_proportional(total, strata)
    assert sum(sizes.values()) == total
    for h, n_h in sizes.items():
        quota = Fraction(total * strata[h], population)
        assert math.floor(quota) <= n_h <= math.floor(quota) + 1
        assert n_h <= strata[h]
    # largest remainders: whoever got the extra unit has a remainder at least any other's
    extra = [h for h in strata if sizes[h] > total * strata[h] // population]
    plain = [h for h in strata if h not in extra]
    if extra and plain:
        assert min(total * strata[h] % population for h in extra) >= max(
            total * strata[h] % population for h in plain
        )


def test_proportional_allocation_refuses_more_than_the_frame() -> None:
    with pytest.raises(SamplingError, match="only 5"):
        allocate_proportional(6, {"a": 2, "b": 3})
    with pytest.raises(SamplingError, match="at least 1"):
        allocate_proportional(0, {"a": 2})


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from("ABCDE"), st.integers(1, 60), min_size=1, max_size=5),
    st.integers(0, 3),
    st.integers(0, 2**40),
    st.data(),
)
def test_stratified_draw_invariants(
    strata: dict[str, int], spares: int, seed: int, data: st.DataObject
) -> None:
    sizes = {h: data.draw(st.integers(0, n)) for h, n in strata.items()}
    drawn = draw_strata(strata, sizes, spares=spares, seed=seed)
    assert drawn == draw_strata(strata, sizes, spares=spares, seed=seed)
    assert [d.label for d in drawn] == sorted(strata)
    for d in drawn:
        assert d.certainty == (sizes[d.label] + spares >= strata[d.label])
        assert len(d.selected) == d.size == (d.items if d.certainty else sizes[d.label])
        assert len(d.spares) == (0 if d.certainty else spares)
        assert len(set(d.selected) | set(d.spares)) == len(d.selected) + len(d.spares)
        assert all(1 <= k <= d.items for k in d.selected + d.spares)


# --------------------------------------------------------------------------- attribute


def p_at_least(population: int, marked: int, sample: int, k: int) -> Fraction:
    """P(X ≥ k) written straight from the hypergeometric probabilities."""
    whole = math.comb(population, sample)
    return sum(
        (
            Fraction(math.comb(marked, x) * math.comb(population - marked, sample - x), whole)
            for x in range(k, sample + 1)
        ),
        Fraction(0),
    )


def p_at_most(population: int, marked: int, sample: int, k: int) -> Fraction:
    return 1 - p_at_least(population, marked, sample, k + 1)


def test_attribute_worked_example_of_section_12() -> None:
    a = appraise_attribute([1] * 7 + [0] * 93, items=5000, confidence=Fraction("0.90"))
    assert a.as_json() == {
        "items": 5000,
        "sample": 100,
        "errors": 7,
        "rate": 0.07,
        "projected": 350.0,
        "lower_count": 168,
        "upper_count": 634,
        "lower_rate": 168 / 5000,
        "upper_rate": 634 / 5000,
    }
    # the definitions, decided in fractions: 168 is the smallest M with P(X ≥ 7) > 0.05,
    # 634 the largest with P(X ≤ 7) > 0.05
    half = Fraction(1, 20)
    assert p_at_least(5000, 168, 100, 7) > half >= p_at_least(5000, 167, 100, 7)
    assert p_at_most(5000, 634, 100, 7) > half >= p_at_most(5000, 635, 100, 7)


def brute_limits(population: int, sample: int, k: int, confidence: Fraction) -> tuple[int, int]:
    half = (1 - confidence) / 2
    lower = min(m for m in range(population + 1) if p_at_least(population, m, sample, k) > half)
    upper = max(m for m in range(population + 1) if p_at_most(population, m, sample, k) > half)
    return lower, upper


CONFIDENCES = [Fraction("0.80"), Fraction("0.90"), Fraction("0.95"), Fraction("0.99")]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40), st.data())
def test_hypergeometric_limits_are_their_definition(population: int, data: st.DataObject) -> None:
    sample = data.draw(st.integers(1, population))
    k = data.draw(st.integers(0, sample))
    confidence = data.draw(st.sampled_from([*CONFIDENCES, Fraction(1, 3)]))
    assert hypergeometric_limits(population, sample, k, confidence) == brute_limits(
        population, sample, k, confidence
    )


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_hypergeometric_limits_bracket_the_projection_and_widen(
    population: int, data: st.DataObject
) -> None:
    sample = data.draw(st.integers(1, min(population, 200)))
    k = data.draw(st.integers(0, sample))
    limits = [hypergeometric_limits(population, sample, k, c) for c in CONFIDENCES]
    projected = Fraction(population * k, sample)
    for lower, upper in limits:
        # integer limits bracket the projection to the nearest whole counts: a sample of
        # nearly everything pins the count (N 149, n 146, k 1 at 90%: limits 1 and 1 around
        # a projected 1.02), so not the fraction itself
        assert k <= lower <= math.ceil(projected)
        assert math.floor(projected) <= upper <= population - (sample - k)
    for (lo1, up1), (lo2, up2) in itertools.pairwise(limits):
        assert lo2 <= lo1
        assert up1 <= up2
    # scipy's floats agree with the exact limits away from a hair's-breadth decision
    lower, upper = limits[1]
    assert stats.hypergeom.sf(k - 1, population, lower, sample) > 0.05 - 1e-9
    assert stats.hypergeom.cdf(k, population, upper, sample) > 0.05 - 1e-9


def test_no_errors_and_all_errors() -> None:
    none = appraise_attribute([0] * 50, items=1000, confidence=Fraction("0.95"))
    assert (none.lower_count, none.rate, none.projected) == (0, 0, 0)
    every = appraise_attribute([1] * 50, items=1000, confidence=Fraction("0.95"))
    assert every.upper_count == 1000


def test_a_sample_of_nearly_everything_pins_the_count() -> None:
    # N 149, n 146, k 1: the 3 unsampled items hold 0 to 3 more errors; at 90% the exact
    # limits are 1 and 1 (brute force in test_hypergeometric_limits_are_their_definition's
    # helper agrees), below and above the projected 149/146 = 1.02
    assert hypergeometric_limits(149, 146, 1, Fraction("0.90")) == (1, 1)
    assert brute_limits(149, 146, 1, Fraction("0.90")) == (1, 1)


def test_a_census_pins_the_count() -> None:
    a = appraise_attribute([1, 0, 1, 1, 0], items=5, confidence=Fraction("0.99"))
    assert (a.lower_count, a.upper_count) == (3, 3)


def test_attribute_values_are_1_or_0_and_the_sample_fits_the_universe() -> None:
    with pytest.raises(SamplingError) as caught:
        appraise_attribute([1, 0, 2, 0], items=3, confidence=Fraction(1))
    assert len(caught.value.problems) == 3  # confidence, the value 2, 4 items of 3


# --------------------------------------------------------------------------- variable

WORKED_VALUES = [Fraction(0)] * 18 + [
    Fraction(v)
    for v in [
        "125.50", "210.00", "88.25", "0", "1432.10", "0", "56.00", "0", "0", "740.00", "0", "315.75",
    ]
]  # fmt: skip


def test_variable_worked_example_of_section_12() -> None:
    a = appraise_variable(
        [SampleStratum("", 2000, tuple(WORKED_VALUES))],
        confidence=Fraction("0.90"),
        stratified=False,
    )
    out = a.as_json()
    assert len(WORKED_VALUES) == 30
    assert out["point_estimate"] == 197840.00
    assert out["standard_error"] == 105879.92
    assert out["lower_two_sided"] == 17936.56
    assert out["lower_one_sided"] == 58985.51
    assert out["df"] == 29
    assert out["t_two_sided"] == float(stats.t.ppf(0.95, 29))
    assert out["t_one_sided"] == float(stats.t.ppf(0.90, 29))
    # the formulas again in plain floats: ȳ = 2967.60/30 = 98.92, PE = 2000·ȳ
    values = [float(v) for v in WORKED_VALUES]
    mean = sum(values) / 30
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 29)
    se = 2000 * sd / math.sqrt(30) * math.sqrt(1 - 30 / 2000)
    assert out["strata"] == [
        {
            "stratum": "",
            "items": 2000,
            "sample": 30,
            "mean": 98.92,
            "sd": pytest.approx(sd, rel=1e-14),
            "total": 197840.00,
        }
    ]
    assert out["upper_two_sided"] == round(197840 + stats.t.ppf(0.95, 29) * se, 2)
    assert out["precision"] == pytest.approx(stats.t.ppf(0.95, 29) * se / 197840, rel=1e-12)


def test_stratified_appraisal_with_a_certainty_stratum() -> None:
    # "big": 3 items, all sampled (certainty): adds its total 1000 + 2500 + 400 = 3900 and no
    # variance or df. "small": N 100, n 4, values 10, 20, 30, 40: ȳ = 25, s² = 500/3,
    # total 2500, variance term 100²·(500/3)/4·(1 − 4/100) = 400,000, SE = √400000 = 632.46.
    # PE = 6400, df = 3, t_{0.95,3} = 2.353363: lower two-sided 6400 − 1488.40 = 4911.60.
    a = appraise_variable(
        [
            SampleStratum("small", 100, tuple(Fraction(v) for v in (10, 20, 30, 40))),
            SampleStratum("big", 3, (Fraction(1000), Fraction(2500), Fraction(400))),
        ],
        confidence=Fraction("0.90"),
        stratified=True,
    )
    out = a.as_json()
    assert [s["stratum"] for s in out["strata"]] == ["big", "small"]
    assert out["strata"][0]["total"] == 3900.00
    assert out["strata"][1] == {
        "stratum": "small",
        "items": 100,
        "sample": 4,
        "mean": 25.0,
        "sd": math.sqrt(500 / 3),
        "total": 2500.00,
    }
    assert out["point_estimate"] == 6400.00
    assert out["standard_error"] == 632.46
    assert out["df"] == 3
    t = stats.t.ppf(0.95, 3)
    assert out["lower_two_sided"] == round(6400 - t * math.sqrt(400_000), 2) == 4911.60
    assert out["lower_one_sided"] == round(6400 - stats.t.ppf(0.90, 3) * math.sqrt(400_000), 2)


def test_a_certainty_stratum_of_one_item_is_fine_a_sampled_one_is_not() -> None:
    fine = appraise_variable(
        [
            SampleStratum("a", 1, (Fraction(5),)),
            SampleStratum("b", 10, (Fraction(1), Fraction(3))),
        ],
        confidence=Fraction("0.90"),
        stratified=True,
    )
    assert fine.as_json()["strata"][0]["sd"] is None
    assert fine.df == 1
    with pytest.raises(SamplingError, match="single sampled item"):
        appraise_variable(
            [
                SampleStratum("a", 2, (Fraction(5),)),
                SampleStratum("b", 10, (Fraction(1), Fraction(3))),
            ],
            confidence=Fraction("0.90"),
            stratified=True,
        )


def test_every_stratum_taken_with_certainty_has_no_sampling_error() -> None:
    a = appraise_variable(
        [SampleStratum("a", 2, (Fraction(5), Fraction(7)))],
        confidence=Fraction("0.90"),
        stratified=True,
    )
    out = a.as_json()
    assert (out["df"], out["t_two_sided"], out["standard_error"]) == (0, None, 0.0)
    assert out["lower_two_sided"] == out["upper_two_sided"] == out["point_estimate"] == 12.0
    assert out["precision"] == 0.0


def test_precision_is_null_when_the_point_estimate_is_0() -> None:
    a = appraise_variable(
        [SampleStratum("", 50, (Fraction(-5), Fraction(5), Fraction(0)))],
        confidence=Fraction("0.90"),
        stratified=False,
    )
    assert a.point_estimate == 0
    assert a.as_json()["precision"] is None


def test_variable_problems_are_all_listed() -> None:
    with pytest.raises(SamplingError) as caught:
        appraise_variable(
            [SampleStratum("a", 1, (Fraction(1), Fraction(2))), SampleStratum("b", 5, ())],
            confidence=Fraction(0),
            stratified=True,
        )
    assert len(caught.value.problems) == 3  # confidence, a larger than its universe, b empty


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-100_000, 100_000), min_size=2, max_size=40),
    st.integers(0, 5000),
    st.sampled_from(CONFIDENCES),
)
def test_unrestricted_is_the_stratified_formula_with_one_sampled_stratum(
    cents_values: list[int], extra: int, confidence: Fraction
) -> None:
    values = tuple(Fraction(v, 100) for v in cents_values)
    items = len(values) + 1 + extra
    plain = appraise_variable(
        [SampleStratum("", items, values)], confidence=confidence, stratified=False
    )
    strat = appraise_variable(
        [SampleStratum("x", items, values)], confidence=confidence, stratified=True
    )
    a, b = plain.as_json(), strat.as_json()
    a.pop("strata"), b.pop("strata")
    assert a == b
    # the limits are ordered and widen with confidence
    assert plain.lower_two_sided <= plain.lower_one_sided <= plain.upper_two_sided
    n = len(values)
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    se = math.sqrt(items**2 * variance / n * (1 - Fraction(n, items)))
    assert float(plain.standard_error) == pytest.approx(se, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Fraction(1, 200), "0.01"),  # half a cent rounds away from zero
        (Fraction(-1, 200), "-0.01"),
        (Fraction(249, 10000), "0.02"),
        (Fraction(-249, 10000), "-0.02"),
        (Decimal("2.675"), "2.68"),  # a float would say 2.67 (2.675 is 2.67499… in binary)
        (Decimal("-2.675"), "-2.68"),
        (Fraction(0), "0.00"),
    ],
)
def test_cents_round_half_away_from_zero(amount: Fraction | Decimal, shown: str) -> None:
    assert str(cents(amount)) == shown


# --------------------------------------------------------------------------- sizes


def size_round(quantile: float, values: list[Fraction], items: int, precision: Fraction) -> int:
    n = len(values)
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    n0 = Fraction(quantile) ** 2 * variance / (precision**2 * mean**2)
    return math.ceil(n0 / (1 + n0 / items))


def test_variable_size_worked_example_of_section_12() -> None:
    n = variable_sample_size(
        WORKED_VALUES, items=2000, precision=Fraction("0.25"), confidence=Fraction("0.90")
    )
    assert n == 320
    # z first gives 318; t with 317 df gives 320; t with 319 df gives 320 again: stop
    assert size_round(stats.norm.ppf(0.95), WORKED_VALUES, 2000, Fraction("0.25")) == 318
    assert size_round(stats.t.ppf(0.95, 317), WORKED_VALUES, 2000, Fraction("0.25")) == 320
    assert size_round(stats.t.ppf(0.95, 319), WORKED_VALUES, 2000, Fraction("0.25")) == 320


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 500_000), min_size=2, max_size=30).filter(
        lambda v: len(set(v)) > 1 and sum(v) > 0
    ),
    st.integers(0, 100_000),
    st.sampled_from([Fraction("0.10"), Fraction("0.25"), Fraction("0.5")]),
    st.sampled_from(CONFIDENCES),
)
def test_variable_size_is_a_fixed_point_of_the_t_round(
    cents_values: list[int], extra: int, precision: Fraction, confidence: Fraction
) -> None:
    values = [Fraction(v, 100) for v in cents_values]
    items = len(values) + extra
    n = variable_sample_size(values, items=items, precision=precision, confidence=confidence)
    assert 2 <= n <= items
    # §12 step by step: z, then t rounds until n repeats, at most SIZE_ROUNDS of them
    q = float(1 - (1 - confidence) / 2)
    rounds = [max(2, size_round(stats.norm.ppf(q), values, items, precision))]
    for _ in range(SIZE_ROUNDS):
        rounds.append(max(2, size_round(stats.t.ppf(q, rounds[-1] - 1), values, items, precision)))
        if rounds[-1] == rounds[-2]:
            break
    assert n == (rounds[-1] if rounds[-1] == rounds[-2] else max(rounds))


def test_variable_size_refuses_what_has_no_answer() -> None:
    with pytest.raises(SamplingError, match="mean is 0"):
        variable_sample_size(
            [Fraction(-1), Fraction(1)],
            items=10,
            precision=Fraction(1, 4),
            confidence=Fraction(9, 10),
        )
    with pytest.raises(SamplingError, match="all equal"):
        variable_sample_size(
            [Fraction(3), Fraction(3)],
            items=10,
            precision=Fraction(1, 4),
            confidence=Fraction(9, 10),
        )
    with pytest.raises(SamplingError) as caught:
        variable_sample_size([Fraction(3)], items=10, precision=Fraction(0), confidence=Fraction(2))
    assert len(caught.value.problems) == 3


def test_attribute_size() -> None:
    # p 0.05, d 0.02, N 5000, c 0.95: n₀ = 1.959964²·0.05·0.95/0.02² = 456.17;
    # n = ⌈456.17/(1 + 455.17/5000)⌉ = ⌈418.11⌉ = 419
    n = attribute_sample_size(
        expected_rate=Fraction("0.05"),
        precision=Fraction("0.02"),
        items=5000,
        confidence=Fraction("0.95"),
    )
    assert n == 419
    z = stats.norm.ppf(0.975)
    n0 = z**2 * 0.05 * 0.95 / 0.02**2
    assert n == math.ceil(n0 / (1 + (n0 - 1) / 5000))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 99),
    st.integers(1, 30),
    st.integers(1, 1_000_000),
    st.sampled_from(CONFIDENCES),
)
def test_attribute_size_invariants(rate: int, d: int, items: int, confidence: Fraction) -> None:
    p, precision = Fraction(rate, 100), Fraction(d, 100)
    n = attribute_sample_size(
        expected_rate=p, precision=precision, items=items, confidence=confidence
    )
    assert 1 <= n <= items
    wider = attribute_sample_size(
        expected_rate=p, precision=precision * 2, items=items, confidence=confidence
    )
    assert wider <= n


def test_attribute_size_refuses_rates_outside_0_to_1() -> None:
    with pytest.raises(SamplingError) as caught:
        attribute_sample_size(
            expected_rate=Fraction(0), precision=Fraction(1), items=0, confidence=Fraction("0.9")
        )
    assert len(caught.value.problems) == 3


def test_the_reproduction_recipe_in_docs_draws_the_same_sample() -> None:
    # docs/sampling.md tells anyone how to redraw a sample without AuditCoach; keep it true.
    doc = (Path(__file__).parents[2] / "docs" / "sampling.md").read_text()
    recipe = doc.split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(recipe, namespace)
    for seed in (0, 7, 123_456_789, 2**40):
        for population, size, spares in ((10, 4, 2), (2000, 30, 5), (37, 36, 1)):
            assert namespace["select"](seed, population, size, spares) == (
                select_without_replacement(WichmannHill(seed), population, size, spares)
            )
