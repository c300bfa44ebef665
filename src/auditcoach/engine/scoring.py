"""The scores of DESIGN §6, exactly.

Scores are pooled: per-encounter counts are summed (`ScoreTotals` is additive, and the
same sums come out of SQL over stored encounters), then divided once. Per-encounter
ratios are never averaged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal

from auditcoach.engine.model import GROUPS, EncounterResult, GroupTally
from auditcoach.engine.stats import Proportion


@dataclass(frozen=True, slots=True)
class ScoreTotals:
    """Additive counts behind every §6 score, for one encounter or summed over many."""

    encounters: int = 0
    clean_encounters: int = 0  # no finding at all
    dx: GroupTally = field(default_factory=GroupTally)
    px: GroupTally = field(default_factory=GroupTally)
    line: GroupTally = field(default_factory=GroupTally)
    pdx_counted: int = 0
    pdx_same: int = 0
    poa_checked: int = 0
    poa_changed: int = 0
    drg_counted: int = 0
    drg_changed: int = 0
    em_counted: int = 0
    em_same: int = 0
    em_overcoded: int = 0
    em_undercoded: int = 0
    financial_impact: Decimal | None = None  # sum of the non-null rounded amounts

    def __add__(self, other: ScoreTotals) -> ScoreTotals:
        values: dict[str, object] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "financial_impact":
                values[f.name] = b if a is None else (a if b is None else a + b)
            else:
                values[f.name] = a + b
        return ScoreTotals(**values)  # type: ignore[arg-type]

    def tally(self, group: str) -> GroupTally:
        return {"DX": self.dx, "PX": self.px, "LINE": self.line}[group]

    @property
    def all_groups(self) -> GroupTally:
        return self.dx + self.px + self.line


def totals_of(result: EncounterResult) -> ScoreTotals:
    """The §6 counts of one encounter."""
    return ScoreTotals(
        encounters=1,
        clean_encounters=0 if result.findings else 1,
        dx=result.tallies["DX"],
        px=result.tallies["PX"],
        line=result.tallies["LINE"],
        pdx_counted=int(result.pdx_counted),
        pdx_same=int(result.pdx_same),
        poa_checked=result.poa_checked,
        poa_changed=result.poa_changed,
        drg_counted=int(result.drg_counted),
        drg_changed=int(result.drg_counted and result.original_drg != result.audited_drg),
        em_counted=int(result.em_counted),
        em_same=int(result.em_same),
        em_overcoded=result.em_overcoded,
        em_undercoded=result.em_undercoded,
        financial_impact=result.financial_impact,
    )


def sum_totals(items: Iterable[ScoreTotals]) -> ScoreTotals:
    total = ScoreTotals()
    for item in items:
        total = total + item
    return total


def code_accuracy(t: GroupTally) -> Proportion:
    """AHIMA code-over-code: (A − a − r − e) / A."""
    return Proportion(t.audited - t.added - t.revised - t.line_errors, t.audited)


def union_accuracy(t: GroupTally) -> Proportion:
    """(m − e) / (m + r + a + d)."""
    return Proportion(t.matched - t.line_errors, t.matched + t.revised + t.added + t.deleted)


@dataclass(frozen=True, slots=True)
class Scores:
    """Every §6 score as a Proportion (counts + value + Wilson interval)."""

    encounters: int
    code_accuracy: dict[str, Proportion]
    union_accuracy: dict[str, Proportion]
    record_accuracy: Proportion
    pdx_accuracy: Proportion
    poa_accuracy: Proportion
    drg_accuracy: Proportion
    em_accuracy: Proportion
    em_overcoded: int
    em_undercoded: int
    financial_impact: Decimal | None


def scores(t: ScoreTotals) -> Scores:
    return Scores(
        encounters=t.encounters,
        code_accuracy={g: code_accuracy(t.tally(g)) for g in GROUPS},
        union_accuracy={g: union_accuracy(t.tally(g)) for g in GROUPS},
        record_accuracy=Proportion(t.clean_encounters, t.encounters),
        pdx_accuracy=Proportion(t.pdx_same, t.pdx_counted),
        poa_accuracy=Proportion(t.poa_checked - t.poa_changed, t.poa_checked),
        drg_accuracy=Proportion(t.drg_counted - t.drg_changed, t.drg_counted),
        em_accuracy=Proportion(t.em_same, t.em_counted),
        em_overcoded=t.em_overcoded,
        em_undercoded=t.em_undercoded,
        financial_impact=t.financial_impact,
    )


# --------------------------------------------------------------------------- headline, weights

HEADLINES: dict[str, str] = {
    "dx_code_accuracy": "DX code accuracy",
    "pooled_code_accuracy": "Code accuracy, counted groups pooled",
    "pooled_union_accuracy": "Union accuracy, counted groups pooled",
    "record_accuracy": "Record accuracy",
    "drg_accuracy": "DRG accuracy",
}
"""The formulas an organization may make its headline (DESIGN §6), key → label."""

# Audits stored before the headline became a setting say "code_accuracy"; their summary has
# always shown DX code accuracy for it, so that is what it keeps meaning.
HEADLINE_ALIASES: dict[str, str] = {"code_accuracy": "dx_code_accuracy"}

DEFAULT_WEIGHT = Decimal(1)
"""The weight of a finding kind nobody has weighted: every finding counts once."""


def pooled_tally(t: ScoreTotals, groups: Iterable[str]) -> GroupTally:
    """The §6 counts of the chosen groups added together (pooled, never averaged)."""
    total = GroupTally()
    for group in dict.fromkeys(groups):
        total = total + t.tally(group)
    return total


def headline_key(key: str) -> str:
    return HEADLINE_ALIASES.get(key, key)


def headline(t: ScoreTotals, key: str, groups: Iterable[str]) -> Proportion:
    """The proportion the headline `key` names, over the counted `groups`."""
    key = headline_key(key)
    s = scores(t)
    if key == "dx_code_accuracy":
        return s.code_accuracy["DX"]
    if key == "pooled_code_accuracy":
        return code_accuracy(pooled_tally(t, groups))
    if key == "pooled_union_accuracy":
        return union_accuracy(pooled_tally(t, groups))
    if key == "record_accuracy":
        return s.record_accuracy
    if key == "drg_accuracy":
        return s.drg_accuracy
    raise ValueError(f"unknown headline {key!r}")


@dataclass(frozen=True, slots=True)
class WeightedErrors:
    """Σ weight(kind) × findings(kind), per audited code of the counted groups.

    Not a proportion (a finding may weigh more than one code), so it has no Wilson
    interval: it is shown as weighted errors per 100 audited codes, with its two counts.
    """

    weighted: Decimal
    findings: int
    opportunities: int

    @property
    def per_100(self) -> Decimal | None:
        if not self.opportunities:
            return None
        return self.weighted * 100 / self.opportunities


def weighted_errors(
    kind_counts: Mapping[str, int], weights: Mapping[str, Decimal], *, opportunities: int
) -> WeightedErrors:
    """The weighted error score of findings counted by kind (docs/scoring.md).

    A kind missing from `weights` weighs DEFAULT_WEIGHT; exact decimal arithmetic, so the
    same counts always give the same score.
    """
    weighted = Decimal(0)
    findings = 0
    for kind, n in kind_counts.items():
        if n < 0:
            raise ValueError("a count of findings cannot be negative")
        weight = weights.get(kind, DEFAULT_WEIGHT)
        if weight < 0:
            raise ValueError("a weight cannot be negative")
        weighted += weight * n
        findings += n
    return WeightedErrors(weighted=weighted, findings=findings, opportunities=opportunities)
