"""engine.stats: p-chart, z-test, kappas and Krippendorff's alpha against published or
hand-worked values, plus hypothesis invariants."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditcoach.engine.stats import (
    cohen_kappa,
    krippendorff_alpha,
    nearest_rank,
    p_chart,
    two_proportion_z_test,
    weighted_kappa,
)

# --------------------------------------------------------------------------- Krippendorff

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers
# × 12 units with missing values (unit 12 has a single value and is not pairable). The paper
# gives α = 0.743 (nominal), 0.815 (ordinal) and 0.849 (interval).
_N = None
KRIPPENDORFF_2011 = list(
    zip(
        [1, 2, 3, 3, 2, 1, 4, 1, 2, _N, _N, _N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _N, 3],
        [_N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _N],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _N],
        strict=True,
    )
)


@pytest.mark.parametrize(
    ("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_2011_reference(level: str, expected: float) -> None:
    alpha = krippendorff_alpha(KRIPPENDORFF_2011, level=level)  # type: ignore[arg-type]
    assert alpha is not None
    assert round(alpha, 3) == expected


def test_krippendorff_undefined() -> None:
    assert krippendorff_alpha([[1, None], [None, 2]]) is None  # nothing pairable
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # no expected disagreement


def test_krippendorff_nominal_two_raters_strings() -> None:
    # Two raters, 4 units: (a,a) (a,b) (b,b) (b,b). Coincidences: o_aa = 2, o_ab = o_ba = 1,
    # o_bb = 4; n_a = 3, n_b = 5, n = 8. D_o = 2/8 ... α = 1 − (n − 1)·o_ab·2 / (2·n_a·n_b)
    # = 1 − 7·2 / 30 = 0.5333…
    alpha = krippendorff_alpha([["a", "a"], ["a", "b"], ["b", "b"], ["b", "b"]])
    assert alpha == pytest.approx(1 - 14 / 30)


# --------------------------------------------------------------------------- kappas


def test_cohen_kappa_textbook() -> None:
    # The worked example of Wikipedia's "Cohen's kappa" (after Cohen 1960): 50 grant
    # proposals, both say yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_undefined() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa([1], [1, 2])


def test_weighted_kappa_hand_worked() -> None:
    # a = 1 1 2 2 3 3, b = 1 2 2 3 3 2; positions 0, 1, 2. Margins: a 2/2/2, b 1/3/2.
    # Linear: Σw·o = 0+1+0+1+0+1 = 3; Σw·e = Σ_j b_j·2·Σ_i|i−j| / 6 = 2(1·3 + 3·2 + 2·3)/6 = 5;
    # κ_w = 1 − 3/5 = 0.4.
    # Quadratic: Σw·o = 3; Σw·e = 2(1·5 + 3·2 + 2·5)/6 = 7; κ_w = 1 − 3/7 = 4/7.
    # Unweighted: p_o = 3/6, p_e = (2·1 + 2·3 + 2·2)/36 = 1/3; κ = (1/2 − 1/3)/(2/3) = 0.25.
    a = [1, 1, 2, 2, 3, 3]
    b = [1, 2, 2, 3, 3, 2]
    assert weighted_kappa(a, b, weights="linear") == pytest.approx(0.4)
    assert weighted_kappa(a, b, weights="quadratic") == pytest.approx(4 / 7)
    assert cohen_kappa(a, b) == pytest.approx(0.25)


def test_weighted_kappa_explicit_categories() -> None:
    # An unused middle category widens the distances: a 1↔3 disagreement weighs 2, not 1.
    a, b = [1, 3, 1, 3], [1, 3, 3, 1]
    assert weighted_kappa(a, b, categories=[1, 2, 3]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="outside"):
        weighted_kappa(a, b, categories=[1, 2])
    assert weighted_kappa([2, 2], [2, 2]) is None


# --------------------------------------------------------------------------- z-test


def test_two_proportion_z_test_hand_worked() -> None:
    # 30/100 vs 15/100: p̂ = 45/200 = 0.225; se = sqrt(0.225·0.775·(1/100 + 1/100))
    # = sqrt(0.0034875) = 0.0590551; z = 0.15 / 0.0590551 = 2.5400; two-sided
    # p = erfc(2.54/√2) = 0.01109.
    t = two_proportion_z_test(30, 100, 15, 100)
    assert t is not None
    assert t.z == pytest.approx(2.5400, abs=1e-4)
    assert t.p_value == pytest.approx(0.01109, abs=1e-5)
    assert two_proportion_z_test(0, 0, 1, 2) is None
    assert two_proportion_z_test(0, 5, 0, 7) is None  # p̂ = 0: se = 0


# --------------------------------------------------------------------------- p-chart


def test_p_chart_hand_worked() -> None:
    # errors 2/10, 8/10, 0/20: p̄ = 10/40 = 0.25. Point 2: half = 3·sqrt(0.25·0.75/10)
    # = 0.41079 → ucl 0.66079 < 0.8: a signal. Point 3: half = 3·sqrt(0.1875/20) = 0.29047
    # → lcl 0 (floored), p = 0 is not < 0: no signal.
    center, pts = p_chart([2, 8, 0], [10, 10, 20])
    assert center == 0.25
    assert [p.signal for p in pts] == [False, True, False]
    assert pts[1].ucl == pytest.approx(0.25 + 3 * math.sqrt(0.1875 / 10))
    assert pts[2].lcl == 0.0
    assert pts[0].p == 0.2


def test_p_chart_run_of_eight() -> None:
    # Nine big points just under the centre, then one far above to set the centre: each
    # under-point is inside its limits; the 8th and 9th complete runs of 8.
    errors = [9] * 9 + [30]
    ns = [100] * 9 + [100]
    center, pts = p_chart(errors, ns)
    assert center == pytest.approx(111 / 1000)
    assert all(p.lcl is not None and p.p is not None and p.p > p.lcl for p in pts[:9])
    assert [p.signal for p in pts] == [False] * 7 + [True, True, True]


def test_p_chart_point_on_centre_breaks_run() -> None:
    # 7 below, one exactly on the centre, then one more below: no run of 8.
    errors = [1] * 7 + [2] + [1] + [3] * 8
    center, pts = p_chart(errors, [10] * len(errors))
    assert center == pytest.approx(2 / 10)
    assert pts[7].p == center
    assert not any(p.signal for p in pts[:9])
    assert pts[-1].signal  # the 8 points above do make a run


def test_p_chart_empty_and_zero_n() -> None:
    assert p_chart([], []) == (None, [])
    center, pts = p_chart([0, 1], [0, 4])
    assert center == 0.25
    assert pts[0].p is None
    assert not pts[0].signal
    center, pts = p_chart([0], [0])
    assert center is None
    assert pts[0].ucl is None


def test_nearest_rank() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([4, 1, 3, 2], 0.5) == 2  # rank ⌈2⌉ = 2
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9  # rank 9
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9) == 10  # rank ⌈9.9⌉ = 10
    assert nearest_rank([5], 0.9) == 5


# --------------------------------------------------------------------------- invariants

ratings = st.lists(st.integers(0, 4), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(ratings)
def test_kappa_of_identical_ratings_is_one(a: list[int]) -> None:
    if len(set(a)) > 1:
        assert cohen_kappa(a, a) == pytest.approx(1.0)
        assert weighted_kappa(a, a, weights="quadratic") == pytest.approx(1.0)
        assert krippendorff_alpha([[x, x] for x in a], level="ordinal") == pytest.approx(1.0)
    else:
        assert cohen_kappa(a, a) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=30))
def test_two_categories_weights_do_not_matter(pairs: list[tuple[int, int]]) -> None:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    k = cohen_kappa(a, b)
    for w in ("linear", "quadratic"):
        kw = weighted_kappa(a, b, weights=w, categories=[0, 1])  # type: ignore[arg-type]
        assert (k is None) == (kw is None)
        if k is not None and kw is not None:
            assert kw == pytest.approx(k)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=2, max_size=4),
        min_size=1,
        max_size=15,
    ),
    st.sampled_from(["nominal", "ordinal", "interval"]),
)
def test_alpha_bounds(units: list[list[int | None]], level: str) -> None:
    # α ≤ 1 always; α ≥ −1 for the sample sizes generated here (−1 is the floor for
    # systematic disagreement; small samples can dip slightly below in theory, not here).
    alpha = krippendorff_alpha(units, level=level)  # type: ignore[arg-type]
    if alpha is not None:
        assert alpha <= 1 + 1e-12
        assert alpha >= -2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=20))
def test_p_chart_limits_bracket_centre(raw: list[tuple[int, int]]) -> None:
    ns = [n for n, _ in raw]
    errors = [min(e, n) for n, e in raw]
    center, pts = p_chart(errors, ns)
    for pt in pts:
        if pt.p is None:
            continue
        assert center is not None
        assert pt.lcl is not None
        assert pt.ucl is not None
        assert 0 <= pt.lcl <= center <= pt.ucl <= 1
        assert 0 <= pt.p <= 1
        if pt.p > pt.ucl or pt.p < pt.lcl:
            assert pt.signal


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 40), st.integers(0, 40), st.integers(1, 40))
def test_z_test_antisymmetric(x1: int, n1: int, x2: int, n2: int) -> None:
    x1, x2 = min(x1, n1), min(x2, n2)
    t, u = two_proportion_z_test(x1, n1, x2, n2), two_proportion_z_test(x2, n2, x1, n1)
    assert (t is None) == (u is None)
    if t is not None and u is not None:
        assert t.z == pytest.approx(-u.z)
        assert 0 <= t.p_value <= 1
        assert t.p_value == pytest.approx(u.p_value)
