"""Small statistics: proportions, control charts, tests and agreement (pure Python)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when n == 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # At 0 and n the bounds are exactly 0 and 1; the float formula can miss by 1e-17.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


@dataclass(frozen=True, slots=True)
class Proportion:
    """A share with its counts: `value` is None when undefined (n == 0)."""

    successes: int
    n: int

    @property
    def value(self) -> float | None:
        return self.successes / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.successes, self.n)


# --------------------------------------------------------------------------- p-chart


@dataclass(frozen=True, slots=True)
class PChartPoint:
    """One subgroup of a p-chart (DESIGN §8): `errors` of `n` inspected units.

    `p`, `ucl` and `lcl` are None when the subgroup has n == 0 or the chart has no centre.
    """

    errors: int
    n: int
    p: float | None
    ucl: float | None
    lcl: float | None
    signal: bool


RUN_LENGTH = 8  # a point and the 7 before it on one side of the centre


def p_chart_center(errors: Sequence[int], ns: Sequence[int]) -> float | None:
    """p̄ = Σerrors / Σn, or None when nothing was inspected."""
    total = sum(ns)
    return sum(errors) / total if total else None


def p_chart(errors: Sequence[int], ns: Sequence[int]) -> tuple[float | None, list[PChartPoint]]:
    """A p-chart with per-point limits; returns (centre, points) in the order given.

    Limits are p̄ ± 3·sqrt(p̄(1−p̄)/n_i), the lower floored at 0 and the upper capped at 1.
    A point signals when p > ucl or p < lcl (strictly), or when it and the RUN_LENGTH − 1
    points before it all lie strictly on the same side of the centre. A point on the centre
    line, or one without a p (n == 0), breaks a run.
    """
    if len(errors) != len(ns):
        raise ValueError("errors and ns must have the same length")
    for e, n in zip(errors, ns, strict=True):
        if n < 0 or not 0 <= e <= n:
            raise ValueError(f"need 0 <= errors <= n, got {e} of {n}")
    center = p_chart_center(errors, ns)
    points: list[PChartPoint] = []
    run_side = 0
    run = 0
    for e, n in zip(errors, ns, strict=True):
        if center is None or n == 0:
            points.append(PChartPoint(e, n, None, None, None, False))
            run_side, run = 0, 0
            continue
        p = e / n
        half = 3 * math.sqrt(center * (1 - center) / n)
        ucl = min(1.0, center + half)
        lcl = max(0.0, center - half)
        side = (p > center) - (p < center)
        if side == 0:
            run_side, run = 0, 0
        elif side == run_side:
            run += 1
        else:
            run_side, run = side, 1
        signal = p > ucl or p < lcl or run >= RUN_LENGTH
        points.append(PChartPoint(e, n, p, ucl, lcl, signal))
    return center, points


# --------------------------------------------------------------------------- tests of proportions


@dataclass(frozen=True, slots=True)
class ZTest:
    """A two-proportion z-test: z = (p1 − p2) / se, two-sided p-value."""

    p1: float
    p2: float
    z: float
    p_value: float


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> ZTest | None:
    """Pooled two-proportion z-test of x1/n1 against x2/n2.

    p̂ = (x1 + x2) / (n1 + n2), se = sqrt(p̂(1 − p̂)(1/n1 + 1/n2)), z = (p1 − p2) / se,
    two-sided p = erfc(|z| / √2). None when either n is 0 or se is 0 (p̂ is 0 or 1: the two
    samples cannot be told apart by this test).
    """
    if n1 <= 0 or n2 <= 0:
        return None
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError("need 0 <= x <= n")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (p1 - p2) / se
    return ZTest(p1=p1, p2=p2, z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


# --------------------------------------------------------------------------- agreement


def cohen_kappa[T: Hashable](a: Sequence[T], b: Sequence[T]) -> float | None:
    """Cohen's kappa of two raters over the same items: (p_o − p_e) / (1 − p_e).

    None when there are no items or when p_e == 1 (both raters used one and the same
    category throughout: agreement beyond chance is undefined).
    """
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def weighted_kappa[T: Hashable](
    a: Sequence[T],
    b: Sequence[T],
    *,
    weights: Literal["linear", "quadratic"] = "linear",
    categories: Sequence[T] | None = None,
) -> float | None:
    """Cohen's weighted kappa: 1 − Σ w·o / Σ w·e with disagreement weights |i − j| (linear)
    or (i − j)² (quadratic), i and j the positions of the categories in `categories`
    (default: the sorted categories used by either rater).

    None when there are no items or Σ w·e == 0 (no disagreement is expected by chance).
    """
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    n = len(a)
    if n == 0:
        return None
    order = list(categories) if categories is not None else sorted(set(a) | set(b))  # type: ignore[type-var]
    index = {c: i for i, c in enumerate(order)}
    missing = (set(a) | set(b)) - set(index)
    if missing:
        raise ValueError(f"ratings outside the categories: {sorted(map(str, missing))}")

    def w(i: int, j: int) -> int:
        return abs(i - j) if weights == "linear" else (i - j) * (i - j)

    ca, cb = Counter(index[x] for x in a), Counter(index[y] for y in b)
    observed = sum(w(index[x], index[y]) for x, y in zip(a, b, strict=True))
    expected = sum(ca[i] * cb[j] * w(i, j) for i in ca for j in cb) / n
    if expected == 0:
        return None
    return 1 - observed / expected


type Level = Literal["nominal", "ordinal", "interval"]


def krippendorff_alpha(
    units: Sequence[Sequence[float | int | str | None]], *, level: Level = "nominal"
) -> float | None:
    """Krippendorff's alpha over units (rows) of values from any number of raters, None for
    a missing value (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").

    Units with fewer than two values are not pairable and are dropped. α = 1 − D_o / D_e
    from the coincidence matrix. Ordinal values are ranked by their sorted order; interval
    values must be numbers. None when fewer than two pairable values exist or D_e == 0 (all
    pairable values are the same).
    """
    coincidence: dict[tuple[Any, Any], float] = defaultdict(float)
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidence[(c, k)] += 1 / (m - 1)
    totals: dict[Any, float] = defaultdict(float)
    for (c, _), w in coincidence.items():
        totals[c] += w
    n = sum(totals.values())
    if n <= 1:
        return None
    values_sorted = sorted(totals)
    delta = _alpha_metric(values_sorted, totals, level)
    observed = sum(w * delta(c, k) for (c, k), w in coincidence.items())
    expected = sum(
        totals[c] * totals[k] * delta(c, k) for c in values_sorted for k in values_sorted
    ) / (n - 1)
    if expected == 0:
        return None
    return 1 - observed / expected


def _alpha_metric(
    values: list[Any], totals: dict[Any, float], level: Level
) -> Callable[[Any, Any], float]:
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: float((c - k) ** 2)
    # ordinal: δ²(c, k) = (Σ_{g from c to k} n_g − (n_c + n_k) / 2)², by rank order.
    rank = {v: i for i, v in enumerate(values)}
    cumulative = [0.0]
    for v in values:
        cumulative.append(cumulative[-1] + totals[v])

    def ordinal(c: Any, k: Any) -> float:
        lo, hi = sorted((rank[c], rank[k]))
        between = cumulative[hi + 1] - cumulative[lo]
        return float((between - (totals[c] + totals[k]) / 2) ** 2)

    return ordinal


# --------------------------------------------------------------------------- order statistics


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-quantile: the value at rank ⌈q·n⌉ (1-based) of the sorted values,
    i.e. the smallest observed value with at least a share q of the values at or below it.
    None for no values. The median is `nearest_rank(v, 0.5)` (the lower middle value)."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered) - 1e-12)) - 1]
