"""The coder scorecard: one coder's accuracy, p-chart, patterns, repeats, education and
strengths, built from the §8 selectors and the §6 score sums.

Every count comes out of a grouped SQL aggregate (a handful of queries per scorecard,
however much history the coder has); Python only arranges the small per-cycle rows. The
rules where DESIGN is silent (what "improving" means, what counts as a strength) are in
docs/analytics.md, "Coder scorecard".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Final, Literal

from django.db.models import Count, Q, QuerySet

from auditcoach.accounts.models import Coder, Organization
from auditcoach.analytics import selectors
from auditcoach.analytics.selectors import Drill, MetricFilters
from auditcoach.audits.models import Finding
from auditcoach.audits.selectors import score_totals, score_totals_by
from auditcoach.education.models import EducationAssignment
from auditcoach.engine.metrics import CycleRow, Effectiveness
from auditcoach.engine.scoring import Scores, ScoreTotals, code_accuracy, scores, sum_totals
from auditcoach.engine.stats import Proportion, ZTest, two_proportion_z_test

TOP_PATTERNS: Final = 10
STRENGTH_MIN_N: Final = 5  # a strength needs at least this many in the coder's denominator
STOPPED_MIN: Final = 2  # a pattern "stopped recurring" after at least this many earlier findings
STOPPED_SHOWN: Final = 5
SIGNIFICANT: Final = 0.05  # two-sided p-value under which a change is called significant
ASSIGNMENTS_SHOWN: Final = 20
EVERYTHING: Final = MetricFilters()  # no filter: the coder's whole released history

Direction = Literal["better", "worse", "same", "new", ""]


# --------------------------------------------------------------------------- trends


@dataclass(frozen=True, slots=True)
class Trend:
    """The latest cycle against the cycles before it (pooled), for a rate where lower is
    better (an incidence of findings). `direction` is "" when there is no earlier cycle,
    "new" when the earlier rate was 0 and the latest is not."""

    latest: Proportion
    before: Proportion
    direction: Direction
    test: ZTest | None

    @property
    def significant(self) -> bool:
        return self.test is not None and self.test.p_value < SIGNIFICANT

    @property
    def word(self) -> str:
        """The direction in words, as the scorecard and its export say it."""
        return TREND_WORDS[self.direction]


TREND_WORDS: Final[dict[str, str]] = {
    "better": "improving",
    "worse": "worsening",
    "new": "new",
    "same": "steady",
    "": "no earlier cycle",
}


def trend(series: Sequence[Proportion]) -> Trend:
    """Compare the last proportion of `series` with the pooled sum of the earlier ones.

    Cycles where nothing was audited (n = 0) are skipped: the latest is the last cycle with
    work.
    """
    known = [p for p in series if p.n]
    if not known:
        return Trend(Proportion(0, 0), Proportion(0, 0), "", None)
    latest = known[-1]
    earlier = known[:-1]
    before = Proportion(sum(p.successes for p in earlier), sum(p.n for p in earlier))
    if not before.n:
        return Trend(latest, before, "", None)
    lv, bv = latest.successes / latest.n, before.successes / before.n
    direction: Direction
    if bv == 0 and lv > 0:
        direction = "new"
    elif lv < bv:
        direction = "better"
    elif lv > bv:
        direction = "worse"
    else:
        direction = "same"
    test = two_proportion_z_test(before.successes, before.n, latest.successes, latest.n)
    return Trend(latest, before, direction, test)


# --------------------------------------------------------------------------- scorecard


@dataclass(frozen=True, slots=True)
class CyclePoint:
    """One cycle of the coder: §6 accuracies (pooled over the cycle's encounters), the
    coder's own p-chart point, findings and §8 repeats."""

    cycle: str
    encounters: int
    dx_accuracy: Proportion
    code_accuracy: Proportion  # DX + PX + LINE: (A − a − r − e) / A
    record_accuracy: Proportion
    chart: CycleRow | None  # None only if the cycle report lacks the cycle (never expected)
    findings: int
    repeats: int

    @property
    def repeat_rate(self) -> Proportion:
        return Proportion(self.repeats, self.findings)


@dataclass(frozen=True, slots=True)
class PatternRow:
    """A pattern key (or topic) of the coder: findings per cycle, and the incidence per
    cycle (encounters with ≥ 1 such finding / encounters audited), with its trend."""

    key: str
    total: int
    counts: list[int]  # findings per cycle, aligned with the scorecard's cycles
    incidence: list[Proportion]
    trend: Trend


@dataclass(frozen=True, slots=True)
class Strength:
    """Something the coder does well, in words, with the numbers behind it."""

    title: str
    detail: str
    coder: Proportion | None = None
    organization: Proportion | None = None
    pattern: str = ""  # a pattern that stopped recurring (for its link)


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    assignment: EducationAssignment
    overdue: bool
    effectiveness: Effectiveness | None


@dataclass(frozen=True, slots=True)
class EducationStatus:
    open: int
    overdue: int
    completed: int
    assignments: list[AssignmentRow]  # newest first, at most ASSIGNMENTS_SHOWN


@dataclass(frozen=True, slots=True)
class Scorecard:
    coder: Coder
    filters: MetricFilters  # the slice: the coder's whole released history by default
    cycles: list[CyclePoint]
    center: float | None  # the coder's own p-chart centre
    totals: ScoreTotals  # §6 sums pooled over the cycles
    organization_totals: ScoreTotals  # the organization over the same slice (all coders)
    patterns: list[PatternRow]
    topics: list[PatternRow]
    strengths: list[Strength]
    education: EducationStatus

    @property
    def latest(self) -> CyclePoint | None:
        return self.cycles[-1] if self.cycles else None

    def compared(self) -> list[tuple[str, Proportion, Proportion]]:
        """(score, the coder's, the organization's) for each §6 score the coder has."""
        mine, theirs = scores(self.totals), scores(self.organization_totals)
        return [
            (
                title,
                score_of(mine, self.totals, name),
                score_of(theirs, self.organization_totals, name),
            )
            for title, name in SCORE_NAMES
            if score_of(mine, self.totals, name).n
        ]


def _counts_by_cycle(
    findings: QuerySet[Finding], key: str, labels: Sequence[str], audited: Mapping[str, int]
) -> list[PatternRow]:
    """Findings and encounters with ≥ 1 finding per (key, cycle), one grouped query."""
    rows = (
        findings.exclude(**{key: ""})
        .values(key, "encounter__cycle")
        .annotate(n=Count("pk"), hit=Count("encounter", distinct=True))
        .order_by()
    )
    counts: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for r in rows:
        counts[r[key]][r["encounter__cycle"]] = (r["n"], r["hit"])
    out = []
    for name, by_cycle in counts.items():
        incidence = [Proportion(by_cycle.get(c, (0, 0))[1], audited.get(c, 0)) for c in labels]
        out.append(
            PatternRow(
                key=name,
                total=sum(n for n, _ in by_cycle.values()),
                counts=[by_cycle.get(c, (0, 0))[0] for c in labels],
                incidence=incidence,
                trend=trend(incidence),
            )
        )
    out.sort(key=lambda p: (-p.total, p.key))
    return out


SCORE_NAMES: Final = (
    ("code accuracy (DX, PX and lines)", "all"),
    ("DX code accuracy", "DX"),
    ("PX code accuracy", "PX"),
    ("line code accuracy", "LINE"),
    ("clean-record rate", "record"),
    ("principal diagnosis accuracy", "pdx"),
    ("POA accuracy", "poa"),
    ("DRG accuracy", "drg"),
    ("E/M accuracy", "em"),
)


def score_of(s: Scores, totals: ScoreTotals, name: str) -> Proportion:
    if name == "all":
        return code_accuracy(totals.all_groups)
    if name in s.code_accuracy:
        return s.code_accuracy[name]
    return {
        "record": s.record_accuracy,
        "pdx": s.pdx_accuracy,
        "poa": s.poa_accuracy,
        "drg": s.drg_accuracy,
        "em": s.em_accuracy,
    }[name]


def strengths(
    *,
    mine: ScoreTotals,
    theirs: ScoreTotals,
    cycles: Sequence[CyclePoint],
    patterns: Iterable[PatternRow],
) -> list[Strength]:
    """What the coder does well (docs/analytics.md states the rule):

    - each §6 score where the coder's pooled rate is at or above the organization's over
      the same slice, with at least STRENGTH_MIN_N in the coder's denominator;
    - each pattern key with at least STOPPED_MIN findings in earlier cycles and none in the
      latest one (the STOPPED_SHOWN most frequent);
    - a latest cycle with findings, none of them a repeat (when there is an earlier cycle).
    """
    out: list[Strength] = []
    my_scores, org_scores = scores(mine), scores(theirs)
    for title, name in SCORE_NAMES:
        c, o = score_of(my_scores, mine, name), score_of(org_scores, theirs, name)
        if c.n >= STRENGTH_MIN_N and o.n and c.successes * o.n >= o.successes * c.n:
            out.append(
                Strength(
                    title=f"{title[0].upper()}{title[1:]} at or above the organization",
                    detail=f"{c.successes} of {c.n} against {o.successes} of {o.n}",
                    coder=c,
                    organization=o,
                )
            )
    if len(cycles) >= 2:
        latest = cycles[-1]
        stopped = [
            p
            for p in patterns  # most findings first
            if latest.encounters and p.counts[-1] == 0 and sum(p.counts[:-1]) >= STOPPED_MIN
        ]
        for p in stopped[:STOPPED_SHOWN]:
            out.append(
                Strength(
                    title=f"{p.key} stopped recurring",
                    detail=f"{sum(p.counts[:-1])} earlier, none in {latest.cycle}",
                    pattern=p.key,
                )
            )
        if latest.findings and not latest.repeats:
            out.append(
                Strength(
                    title=f"No repeat findings in {latest.cycle}",
                    detail=f"none of its {latest.findings} findings repeats an earlier one",
                )
            )
    return out


def education_status(*, organization: Organization, coder: Coder, today: date) -> EducationStatus:
    """Open, overdue and completed assignments (one aggregate), the newest assignments
    (one query) and the §8 effectiveness of the completed ones (one query)."""
    qs = EducationAssignment.objects.filter(organization=organization, coder=coder)
    done = Q(status=EducationAssignment.Status.COMPLETED)
    totals = qs.aggregate(
        open=Count("pk", filter=~done),
        overdue=Count("pk", filter=~done & Q(due_date__lt=today)),
        completed=Count("pk", filter=done),
    )
    effect = selectors.effectiveness(organization=organization, coder=coder.name)
    rows = [
        AssignmentRow(
            assignment=a,
            overdue=a.status != EducationAssignment.Status.COMPLETED and a.due_date < today,
            effectiveness=effect.get(a.pk),
        )
        for a in qs.order_by("-assigned_at", "-pk")[:ASSIGNMENTS_SHOWN]
    ]
    return EducationStatus(
        open=totals["open"],
        overdue=totals["overdue"],
        completed=totals["completed"],
        assignments=rows,
    )


def coder_scorecard(
    *,
    organization: Organization,
    coder: Coder,
    today: date,
    filters: MetricFilters = EVERYTHING,
) -> Scorecard:
    """The scorecard of `coder` over `filters` (its coder field is replaced by the coder).

    Queries: §6 sums per cycle (1), the coder's p-chart with repeats (2), the organization's
    §6 sums over the same slice (1), patterns and topics per cycle (2), education (3).
    """
    mine = replace(filters, coder=coder.name)
    per_cycle = sorted(
        score_totals_by(
            selectors.released_encounters(organization=organization, filters=mine), "cycle"
        ),
        key=lambda row: row[0],  # plain character order, whatever the collation
    )
    report = selectors.cycle_report(organization=organization, filters=mine)
    chart = dict(report.coders).get(coder.name)
    chart_rows = {c.cycle: c for c in chart.cycles} if chart else {}
    cycles = [
        CyclePoint(
            cycle=label,
            encounters=t.encounters,
            dx_accuracy=code_accuracy(t.dx),
            code_accuracy=code_accuracy(t.all_groups),
            record_accuracy=Proportion(t.clean_encounters, t.encounters),
            chart=chart_rows.get(label),
            findings=chart_rows[label].findings if label in chart_rows else 0,
            repeats=chart_rows[label].repeat_findings if label in chart_rows else 0,
        )
        for label, t in per_cycle
    ]
    labels = [c.cycle for c in cycles]
    audited = {c.cycle: c.encounters for c in cycles}
    findings = selectors.drill_findings(organization=organization, filters=mine, drill=Drill())
    patterns = _counts_by_cycle(findings, "pattern", labels, audited)
    topics = _counts_by_cycle(findings, "topic", labels, audited)
    my_totals = sum_totals(t for _, t in per_cycle)
    org_totals = score_totals(
        selectors.released_encounters(organization=organization, filters=replace(filters, coder=""))
    )
    return Scorecard(
        coder=coder,
        filters=mine,
        cycles=cycles,
        center=chart.center if chart else None,
        totals=my_totals,
        organization_totals=org_totals,
        patterns=patterns[:TOP_PATTERNS],
        topics=topics[:TOP_PATTERNS],
        strengths=strengths(mine=my_totals, theirs=org_totals, cycles=cycles, patterns=patterns),
        education=education_status(organization=organization, coder=coder, today=today),
    )


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True, slots=True)
class CoderSummary:
    """One line of the coders list: pooled and latest code accuracy (1 − p of the
    p-chart), the latest cycle's repeats, the accuracy per cycle for a sparkline, and open
    and overdue education."""

    coder: Coder
    encounters: int
    accuracy: Proportion
    latest_cycle: str
    latest_accuracy: Proportion
    latest_findings: int
    latest_repeats: int
    accuracy_series: list[float | None]
    signals: int
    open_education: int
    overdue_education: int

    @property
    def latest_repeat_rate(self) -> Proportion:
        return Proportion(self.latest_repeats, self.latest_findings)


def coder_summaries(
    *, organization: Organization, today: date, filters: MetricFilters = EVERYTHING
) -> list[CoderSummary]:
    """Every roster coder (narrowed by the coder filter), by name. Four queries: the
    roster, the cycle report (2), education counts per coder."""
    roster = Coder.objects.filter(organization=organization).select_related("user").order_by("name")
    if filters.coder:
        roster = roster.filter(name=filters.coder)
    report = selectors.cycle_report(organization=organization, filters=filters)
    charts = dict(report.coders)
    done = Q(status=EducationAssignment.Status.COMPLETED)
    education = {
        row["coder"]: (row["open"], row["late"])
        for row in EducationAssignment.objects.filter(organization=organization)
        .values("coder")
        .annotate(
            open=Count("pk", filter=~done),
            late=Count("pk", filter=~done & Q(due_date__lt=today)),
        )
        .order_by()
    }
    out = []
    for coder in roster:
        chart = charts.get(coder.name)
        rows = chart.cycles if chart else []
        codes = sum(r.audited_codes for r in rows)
        errors = sum(r.code_errors for r in rows)
        last = rows[-1] if rows else None
        open_, overdue = education.get(coder.pk, (0, 0))
        out.append(
            CoderSummary(
                coder=coder,
                encounters=sum(r.encounters for r in rows),
                accuracy=Proportion(codes - errors, codes),
                latest_cycle=last.cycle if last else "",
                latest_accuracy=(
                    Proportion(last.audited_codes - last.code_errors, last.audited_codes)
                    if last
                    else Proportion(0, 0)
                ),
                latest_findings=last.findings if last else 0,
                latest_repeats=last.repeat_findings if last else 0,
                accuracy_series=[None if r.p is None else 1 - r.p for r in rows],
                signals=sum(1 for r in rows if r.signal),
                open_education=open_,
                overdue_education=overdue,
            )
        )
    return out
