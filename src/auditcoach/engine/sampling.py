"""Sampling and extrapolation, exactly as DESIGN §12 (docs/sampling.md has the method).

Plain typed Python: the Wichmann–Hill generator (AS 183), selection without replacement
with spares, stratified selection (certainty strata, proportional allocation), attribute
appraisal with exact hypergeometric limits, variable appraisal (unrestricted and
stratified) and sample sizes. Items are numbered 1..N (1..N_h in a stratum); mapping the
numbers to item ids is the caller's (`engine.frame`).

How the figures are computed (§12: "unrounded floats computed from unrounded figures"):
amounts enter as exact rationals (`Fraction`, from the decimal text), sums, means,
variances, the point estimate and N_h·ȳ_h are exact; square roots and the limits are
worked with `_DIGITS` significant digits in `Decimal`; every decision (a hypergeometric
limit, a ⌈…⌉ of a sample size) is made in integers or fractions, with the t and normal
quantiles taken as the exact value of the double scipy returns. Floats appear only in the
output, each rounded once; money is rounded half away from zero to cents by `cents`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from typing import Final

from scipy import stats  # type: ignore[import-untyped]

__all__ = [
    "MAX_SEED",
    "SIZE_ROUNDS",
    "AttributeAppraisal",
    "SampleStratum",
    "SamplingError",
    "StratumDraw",
    "StratumFigures",
    "VariableAppraisal",
    "WichmannHill",
    "allocate_proportional",
    "appraise_attribute",
    "appraise_variable",
    "attribute_sample_size",
    "cents",
    "draw_strata",
    "hypergeometric_limits",
    "random_seed",
    "select_without_replacement",
    "variable_sample_size",
]

MAX_SEED: Final = 2**40  # a seed chosen for the caller lies in 1..MAX_SEED (§12)
SIZE_ROUNDS: Final = 20  # the variable size iteration stops after this many t rounds
_DIGITS: Final = 80
_CTX: Final = Context(prec=_DIGITS)


class SamplingError(ValueError):
    """Input §12 refuses; `problems` lists every reason, one sentence each."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# --------------------------------------------------------------------------- Wichmann–Hill


class WichmannHill:
    """Wichmann and Hill's generator (Applied Statistics algorithm AS 183), the generator
    of OIG's RAT-STATS and exactly `random.WichmannHill` of Python 2.7 seeded with an
    integer: three small multiplicative congruential generators whose scaled states are
    added, in that order, in IEEE double precision and taken mod 1."""

    __slots__ = ("x", "y", "z")

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SamplingError(f"a seed is a whole number 0 or more, got {seed!r}")
        a, x = divmod(seed, 30268)
        a, y = divmod(a, 30306)
        z = a % 30322
        self.x, self.y, self.z = x + 1, y + 1, z + 1

    @property
    def state(self) -> tuple[int, int, int]:
        return self.x, self.y, self.z

    def random(self) -> float:
        self.x = 171 * self.x % 30269
        self.y = 172 * self.y % 30307
        self.z = 170 * self.z % 30323
        return (self.x / 30269.0 + self.y / 30307.0 + self.z / 30323.0) % 1.0


def random_seed() -> int:
    """A seed for a draw that was given none: uniformly in 1..2^40 (§12), from the OS."""
    import secrets

    return secrets.randbelow(MAX_SEED) + 1


# --------------------------------------------------------------------------- selection


def select_without_replacement(
    rng: WichmannHill, population: int, size: int, spares: int = 0
) -> tuple[list[int], list[int]]:
    """`size` distinct item numbers of 1..population in selection order, then `spares`
    more from the same stream: each draw u takes item ⌊u·N⌋ + 1 (double precision), an
    item already taken is discarded and the next u drawn."""
    if population < 1:
        raise SamplingError("there are no items to draw from")
    if size < 0 or spares < 0:
        raise SamplingError("a size and a number of spares are 0 or more")
    if size + spares > population:
        raise SamplingError(
            f"{size} items and {spares} spares asked for, but there are only {population} items"
        )
    taken: set[int] = set()
    order: list[int] = []
    wanted = size + spares
    while len(order) < wanted:
        k = math.floor(rng.random() * population) + 1
        if k not in taken:
            taken.add(k)
            order.append(k)
    return order[:size], order[size:]


@dataclass(frozen=True, slots=True)
class StratumDraw:
    """One stratum of a draw: `selected` and `spares` are item numbers 1..items in
    selection order; a certainty stratum takes every item in item order and no spare."""

    label: str
    items: int
    size: int
    certainty: bool
    selected: tuple[int, ...]
    spares: tuple[int, ...]

    @property
    def sorted(self) -> tuple[int, ...]:
        return tuple(sorted(self.selected))


def allocate_proportional(total: int, strata: Mapping[str, int]) -> dict[str, int]:
    """n_h = ⌊n·N_h/N⌋, then the units still missing one each to the largest remainders
    (exact: n·N_h mod N), ties in label order, no stratum above N_h (§12)."""
    problems = _check_strata(strata)
    population = sum(strata.values())
    if total < 1:
        problems.append(f"a proportional sample has at least 1 item, got {total}")
    elif population and total > population:
        problems.append(f"{total} items asked for, but the frame has only {population}")
    if problems:
        raise SamplingError(problems)
    labels = sorted(strata)
    sizes = {h: total * strata[h] // population for h in labels}
    missing = total - sum(sizes.values())
    by_remainder = sorted(
        (h for h in labels if sizes[h] < strata[h]),
        key=lambda h: -(total * strata[h] % population),  # sorted() is stable: label order
    )
    for h in by_remainder[:missing]:
        sizes[h] += 1
    return sizes


def _check_strata(strata: Mapping[str, int]) -> list[str]:
    problems: list[str] = []
    if not strata:
        problems.append("there are no strata (the frame has no items)")
    for label, items in strata.items():
        if items < 1:
            problems.append(f"stratum {label!r} has no items")
    return problems


def draw_strata(
    strata: Mapping[str, int], sizes: Mapping[str, int], *, spares: int, seed: int
) -> tuple[StratumDraw, ...]:
    """Draw every stratum (label → N_h) its size (label → n_h) and `spares` spares from one
    Wichmann–Hill stream seeded with `seed`: strata in plain character order of their labels,
    each its sample then its spares before the next; a stratum whose size plus spares reaches
    N_h is taken with certainty (all items, item order, no draw). An unstratified draw is
    one stratum labelled ""."""
    problems = _check_strata(strata)
    if spares < 0:
        problems.append(f"spares are 0 or more, got {spares}")
    for label in sorted(strata):
        if label not in sizes:
            problems.append(f"no size given for stratum {label!r}")
            continue
        n_h, items = sizes[label], strata[label]
        if n_h < 0:
            problems.append(f"stratum {label!r}: a size is 0 or more, got {n_h}")
        elif items >= 1 and n_h > items:
            problems.append(f"stratum {label!r}: {n_h} items asked for, but it has only {items}")
    for label in sorted(set(sizes) - set(strata)):
        problems.append(f"a size is given for {label!r}, which is not a stratum of the frame")
    rng = None
    try:
        rng = WichmannHill(seed)
    except SamplingError as exc:
        problems.extend(exc.problems)
    if problems or rng is None:
        raise SamplingError(problems)
    drawn: list[StratumDraw] = []
    for label in sorted(strata):
        items, n_h = strata[label], sizes[label]
        if n_h + spares >= items:
            everything = tuple(range(1, items + 1))
            drawn.append(StratumDraw(label, items, items, True, everything, ()))
            continue
        selected, spare = select_without_replacement(rng, items, n_h, spares)
        drawn.append(StratumDraw(label, items, n_h, False, tuple(selected), tuple(spare)))
    return tuple(drawn)


# --------------------------------------------------------------------------- numbers


def cents(amount: Fraction | Decimal) -> Decimal:
    """An amount rounded half away from zero to cents (how §12 shows money)."""
    if isinstance(amount, Fraction):
        scaled = abs(amount) * 100
        whole = math.floor(scaled + Fraction(1, 2))
        return Decimal(whole if amount >= 0 else -whole).scaleb(-2)
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _dec(value: Fraction) -> Decimal:
    return _CTX.divide(Decimal(value.numerator), Decimal(value.denominator))


def _sqrt(value: Fraction) -> Decimal:
    return _CTX.sqrt(_dec(value))


def _check_confidence(confidence: Fraction) -> list[str]:
    if not 0 < confidence < 1:
        return [f"a confidence lies strictly between 0 and 1, got {float(confidence)}"]
    return []


def _t(q: Fraction, df: int) -> float:
    return float(stats.t.ppf(float(q), df))


def _z(q: Fraction) -> float:
    return float(stats.norm.ppf(float(q)))


# --------------------------------------------------------------------------- attribute


def _hyper_sum(population: int, marked: int, sample: int, lo: int, hi: int) -> int:
    """Σ_{x=lo..hi} C(M, x)·C(N − M, n − x) over the support, exactly (the numerator of
    P(lo ≤ X ≤ hi) over C(N, n)); each term from the last by its exact ratio."""
    lo = max(lo, 0, sample - (population - marked))
    hi = min(hi, sample, marked)
    if lo > hi:
        return 0
    term = math.comb(marked, lo) * math.comb(population - marked, sample - lo)
    total = term
    for x in range(lo, hi):
        term = (
            term * (marked - x) * (sample - x) // ((x + 1) * (population - marked - sample + x + 1))
        )
        total += term
    return total


def _first_true(lo: int, hi: int, guess: int, holds: Callable[[int], bool]) -> int:
    """The smallest m in lo..hi with holds(m), for holds monotone (False … True) with
    holds(hi) true. Starts at `guess` (scipy's float answer, so usually two or three exact
    evaluations) and gallops then bisects: the float only saves work, never decides."""
    m = min(max(guess, lo), hi)
    step = 1
    if holds(m):  # the answer is m or below: find a point where holds is false
        true_at = m
        while true_at > lo:
            below = max(lo, true_at - step)
            if not holds(below):
                return _bisect(below, true_at, holds)
            true_at, step = below, step * 2
        return lo
    false_at = m
    while True:
        above = min(hi, false_at + step)
        if holds(above):
            return _bisect(false_at, above, holds)
        false_at, step = above, step * 2


def _bisect(false_at: int, true_at: int, holds: Callable[[int], bool]) -> int:
    while true_at - false_at > 1:
        mid = (false_at + true_at) // 2
        if holds(mid):
            true_at = mid
        else:
            false_at = mid
    return true_at


def hypergeometric_limits(
    population: int, sample: int, errors: int, confidence: Fraction
) -> tuple[int, int]:
    """Exact two-sided limits on the number M of items with the attribute among N: the
    lower is the smallest M with P(X ≥ k | N, M, n) > α/2, the upper the largest M with
    P(X ≤ k | N, M, n) > α/2 (α = 1 − c), decided in integers."""
    half = (1 - confidence) / 2
    whole = math.comb(population, sample)

    def ge_holds(m: int) -> bool:  # P(X ≥ k | m) > α/2, nondecreasing in m
        tail = whole - _hyper_sum(population, m, sample, 0, errors - 1)
        return tail * half.denominator > half.numerator * whole

    def le_fails(m: int) -> bool:  # not P(X ≤ k | m) > α/2, nondecreasing in m
        tail = _hyper_sum(population, m, sample, 0, errors)
        return not tail * half.denominator > half.numerator * whole

    alpha2 = float(half)
    guess_lo = _float_first(
        population, lambda m: stats.hypergeom.sf(errors - 1, population, m, sample) > alpha2
    )
    guess_hi = _float_first(
        population, lambda m: not stats.hypergeom.cdf(errors, population, m, sample) > alpha2
    )
    lower = _first_true(0, population, guess_lo, ge_holds)
    if le_fails(population):
        upper = _first_true(0, population, guess_hi, le_fails) - 1
    else:
        upper = population
    return lower, upper


def _float_first(population: int, holds: Callable[[int], bool]) -> int:
    """scipy's (float) answer to "the smallest m with holds(m)": only a starting point."""
    lo, hi = -1, population
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True, slots=True)
class AttributeAppraisal:
    """§12 attribute appraisal: `errors` of `sample` items drawn from `items`."""

    items: int
    sample: int
    errors: int
    lower_count: int
    upper_count: int

    @property
    def rate(self) -> Fraction:
        return Fraction(self.errors, self.sample)

    @property
    def projected(self) -> Fraction:
        return Fraction(self.items * self.errors, self.sample)

    def as_json(self) -> dict[str, int | float]:
        return {
            "items": self.items,
            "sample": self.sample,
            "errors": self.errors,
            "rate": float(self.rate),
            "projected": float(self.projected),
            "lower_count": self.lower_count,
            "upper_count": self.upper_count,
            "lower_rate": float(Fraction(self.lower_count, self.items)),
            "upper_rate": float(Fraction(self.upper_count, self.items)),
        }


def appraise_attribute(
    values: Sequence[int], *, items: int, confidence: Fraction
) -> AttributeAppraisal:
    """Appraise an unrestricted attribute sample: each value 1 (has the attribute) or 0."""
    problems = _check_confidence(confidence)
    bad = [i for i, v in enumerate(values, 1) if isinstance(v, bool) or v not in (0, 1)]
    if bad:
        problems.append(
            f"an attribute value is 1 or 0; item {bad[0]} of the sample is {values[bad[0] - 1]!r}"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
        )
    sample = len(values)
    if sample == 0:
        problems.append("the sample has no items")
    if items < 1:
        problems.append(f"the universe has at least 1 item, got {items}")
    elif sample > items:
        problems.append(f"the sample has {sample} items, more than the universe's {items}")
    if problems:
        raise SamplingError(problems)
    errors = sum(values)
    lower, upper = hypergeometric_limits(items, sample, errors, confidence)
    return AttributeAppraisal(items, sample, errors, lower, upper)


# --------------------------------------------------------------------------- variable


@dataclass(frozen=True, slots=True)
class SampleStratum:
    """The sampled values (exact) of one stratum of `items` items."""

    label: str
    items: int
    values: tuple[Fraction, ...]


@dataclass(frozen=True, slots=True)
class StratumFigures:
    label: str
    items: int
    sample: int
    mean: Fraction
    variance: Fraction | None  # s², None for a one-item stratum (taken with certainty)

    @property
    def certainty(self) -> bool:
        return self.sample == self.items

    @property
    def total(self) -> Fraction:
        return self.items * self.mean

    @property
    def sd(self) -> Decimal | None:
        return None if self.variance is None else _sqrt(self.variance)


@dataclass(frozen=True, slots=True)
class VariableAppraisal:
    """§12 variable appraisal. Money is exact (`point_estimate`) or carried with `_DIGITS`
    digits and rounded to cents in `as_json`; t and the limits are None where df is 0 (every
    stratum taken with certainty: no sampling error, the limits are the point estimate)."""

    strata: tuple[StratumFigures, ...]
    point_estimate: Fraction
    standard_error: Decimal
    df: int
    t_two_sided: float | None
    t_one_sided: float | None

    @property
    def lower_two_sided(self) -> Decimal:
        return self._pe - self._margin(self.t_two_sided)

    @property
    def upper_two_sided(self) -> Decimal:
        return self._pe + self._margin(self.t_two_sided)

    @property
    def lower_one_sided(self) -> Decimal:
        return self._pe - self._margin(self.t_one_sided)

    @property
    def precision(self) -> float | None:
        if self.point_estimate == 0:
            return None
        return float(_CTX.divide(self._margin(self.t_two_sided), abs(self._pe)))

    @property
    def _pe(self) -> Decimal:
        return _dec(self.point_estimate)

    def _margin(self, t: float | None) -> Decimal:
        if t is None:
            return Decimal(0)
        return _CTX.multiply(Decimal(t), self.standard_error)

    def as_json(self) -> dict[str, object]:
        def money(amount: Decimal | Fraction) -> float:
            return float(cents(amount))

        return {
            "strata": [
                {
                    "stratum": s.label,
                    "items": s.items,
                    "sample": s.sample,
                    "mean": float(s.mean),
                    "sd": None if s.sd is None else float(s.sd),
                    "total": money(s.total),
                }
                for s in self.strata
            ],
            "point_estimate": money(self.point_estimate),
            "standard_error": money(self.standard_error),
            "df": self.df,
            "t_two_sided": self.t_two_sided,
            "lower_two_sided": money(self.lower_two_sided),
            "upper_two_sided": money(self.upper_two_sided),
            "t_one_sided": self.t_one_sided,
            "lower_one_sided": money(self.lower_one_sided),
            "precision": self.precision,
        }


def _mean_variance(values: Sequence[Fraction]) -> tuple[Fraction, Fraction | None]:
    n = len(values)
    mean = sum(values, Fraction(0)) / n
    if n < 2:
        return mean, None
    return mean, sum(((v - mean) ** 2 for v in values), Fraction(0)) / (n - 1)


def appraise_variable(
    strata: Sequence[SampleStratum], *, confidence: Fraction, stratified: bool
) -> VariableAppraisal:
    """Unrestricted (one stratum, `stratified=False`): PE = N·ȳ, SE = N·s/√n·√(1 − n/N),
    df = n − 1. Stratified: PE = Σ N_h·ȳ_h, SE = √(Σ N_h²·s_h²/n_h·(1 − n_h/N_h)),
    df = Σ (n_h − 1) over the strata not taken with certainty (n_h = N_h), which add their
    total and no variance. Limits PE ± t_{1−α/2,df}·SE and PE − t_{1−α,df}·SE."""
    problems = _check_confidence(confidence)
    if not strata:
        problems.append("the sample has no items")
    if not stratified and len(strata) > 1:
        problems.append("an unrestricted appraisal has one stratum")
    labels = [s.label for s in strata]
    if len(set(labels)) != len(labels):
        problems.append("a stratum is listed twice")
    for s in strata:
        name = f"stratum {s.label!r}" if stratified else "the sample"
        n_h = len(s.values)
        if s.items < 1:
            problems.append(f"{name}: the universe has at least 1 item, got {s.items}")
        elif n_h > s.items:
            problems.append(f"{name} has {n_h} items, more than its universe of {s.items}")
        if n_h == 0:
            problems.append(f"{name} has no items in the sample")
        elif n_h == 1 and (not stratified or n_h < s.items):
            problems.append(
                f"{name} has a single sampled item: its standard deviation is undefined"
            )
    if problems:
        raise SamplingError(problems)
    figures = []
    for s in sorted(strata, key=lambda s: s.label):
        mean, variance = _mean_variance(s.values)
        figures.append(StratumFigures(s.label, s.items, len(s.values), mean, variance))
    point_estimate = sum((f.total for f in figures), Fraction(0))
    variance_pe = Fraction(0)
    df = 0
    for f in figures:
        if stratified and f.certainty:
            continue
        assert f.variance is not None
        variance_pe += (
            Fraction(f.items**2) * f.variance / f.sample * (1 - Fraction(f.sample, f.items))
        )
        df += f.sample - 1
    q2 = 1 - (1 - confidence) / 2
    t2 = _t(q2, df) if df > 0 else None
    t1 = _t(confidence, df) if df > 0 else None
    return VariableAppraisal(tuple(figures), point_estimate, _sqrt(variance_pe), df, t2, t1)


# --------------------------------------------------------------------------- sample sizes


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def variable_sample_size(
    probe: Sequence[Fraction], *, items: int, precision: Fraction, confidence: Fraction
) -> int:
    """From a probe sample: n₀ = (t·s/(P·ȳ))², n = ⌈n₀/(1 + n₀/N)⌉, first with the normal
    quantile z_{1−α/2}, then with t_{1−α/2, n−1} until n no longer changes; after
    `SIZE_ROUNDS` t rounds the largest n of any round. Never below 2 (a variable sample of
    one has no standard deviation)."""
    problems = _check_confidence(confidence)
    if precision <= 0:
        problems.append(f"a precision is more than 0, got {float(precision)}")
    if len(probe) < 2:
        problems.append(f"a probe has at least 2 items, got {len(probe)}")
    elif items < len(probe):
        problems.append(f"the probe has {len(probe)} items, more than the universe's {items}")
    if problems:
        raise SamplingError(problems)
    mean, variance = _mean_variance(probe)
    assert variance is not None
    if mean == 0:
        problems.append("the probe's mean is 0: no size gives a precision relative to it")
    if variance == 0:
        problems.append("the probe's values are all equal (s = 0): the formula gives no size")
    if problems:
        raise SamplingError(problems)
    q = 1 - (1 - confidence) / 2

    def size(quantile: float) -> int:
        n0 = Fraction(quantile) ** 2 * variance / (precision**2 * mean**2)
        return max(2, _ceil(n0 / (1 + n0 / items)))

    n = size(_z(q))
    seen = [n]
    for _ in range(SIZE_ROUNDS):
        following = size(_t(q, n - 1))
        if following == n:
            return n
        seen.append(following)
        n = following
    return max(seen)


def attribute_sample_size(
    *, expected_rate: Fraction, precision: Fraction, items: int, confidence: Fraction
) -> int:
    """n₀ = z²_{1−α/2}·p(1−p)/d², n = ⌈n₀/(1 + (n₀ − 1)/N)⌉."""
    problems = _check_confidence(confidence)
    if not 0 < expected_rate < 1:
        problems.append(
            f"an expected rate lies strictly between 0 and 1, got {float(expected_rate)}"
        )
    if not 0 < precision < 1:
        problems.append(f"a precision lies strictly between 0 and 1, got {float(precision)}")
    if items < 1:
        problems.append(f"the universe has at least 1 item, got {items}")
    if problems:
        raise SamplingError(problems)
    z = Fraction(_z(1 - (1 - confidence) / 2))
    n0 = z**2 * expected_rate * (1 - expected_rate) / precision**2
    return _ceil(n0 / (1 + (n0 - 1) / items))
