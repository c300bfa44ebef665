"""DESIGN §8 metrics over plain rows: the reference the database selectors must equal.

Every metric here is a plain function over small frozen dataclasses, no Django. The SQL
versions (`auditcoach.analytics.selectors`) compute the same numbers with aggregates and
are tested against these; the per-cycle chart arithmetic (`chart`) is shared by both, so
floats agree exactly. Decisions where §8 is silent are written down in docs/metrics.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Container, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from auditcoach.engine.stats import (
    Proportion,
    ZTest,
    cohen_kappa,
    krippendorff_alpha,
    nearest_rank,
    p_chart,
    two_proportion_z_test,
    weighted_kappa,
)

DRAFT: Final = "draft"
OVERTURNED: Final = "overturned"
OPEN_STATUSES: Final = frozenset({"released", "disputed", "escalated"})
REPEAT_LOOKBACK: Final = 2  # cycles of the coder's own list


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class EncounterRow:
    """An encounter as §8 sees it: its coder (roster name, None when the workbook had
    none), its own cycle label, whether it is released, and its §6 tallies summed over DX,
    PX and LINE: `audited_codes` = Σ A, `code_errors` = Σ (a + r + e)."""

    key: int
    coder: str | None
    cycle: str
    released: bool
    audited_codes: int
    code_errors: int
    discharge_date: date | None = None
    auditor: str = ""


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A finding: its encounter's key, pattern key, topic ("" for none), status, and
    whether it still arises from the two versions (`active`)."""

    key: int
    encounter: int
    pattern: str
    topic: str = ""
    status: str = "released"
    active: bool = True
    kind: str = ""


def finding_counts(f: FindingRow) -> bool:
    """A finding §8 counts (given a released encounter): released to the coder (not a
    draft), still active, not overturned. The same set serves as priors for repeats."""
    return f.active and f.status not in {DRAFT, OVERTURNED}


def same_problem(a: FindingRow, b: FindingRow) -> bool:
    """Repeat matching: the same pattern key, or the same topic when both have one."""
    return a.pattern == b.pattern or (a.topic != "" and a.topic == b.topic)


# --------------------------------------------------------------------------- cycles


@dataclass(frozen=True, slots=True)
class CycleCounts:
    """The additive counts of one cycle of one chart (what SQL aggregates to)."""

    cycle: str
    encounters: int
    audited_codes: int
    code_errors: int
    findings: int
    repeat_findings: int


@dataclass(frozen=True, slots=True)
class CycleRow:
    cycle: str
    encounters: int
    audited_codes: int
    code_errors: int
    p: float | None
    ucl: float | None
    lcl: float | None
    signal: bool
    findings: int
    repeat_findings: int
    repeat_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "encounters": self.encounters,
            "audited_codes": self.audited_codes,
            "code_errors": self.code_errors,
            "p": self.p,
            "ucl": self.ucl,
            "lcl": self.lcl,
            "signal": self.signal,
            "findings": self.findings,
            "repeat_findings": self.repeat_findings,
            "repeat_rate": self.repeat_rate,
        }


@dataclass(frozen=True, slots=True)
class Chart:
    center: float | None
    cycles: list[CycleRow]


@dataclass(frozen=True, slots=True)
class CycleReport:
    """The `auditcoach metrics --json` object (DESIGN §9)."""

    center: float | None
    cycles: list[CycleRow]
    coders: list[tuple[str, Chart]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "cycles": [c.as_dict() for c in self.cycles],
            "center": self.center,
            "coders": [
                {
                    "coder": name,
                    "center": chart.center,
                    "cycles": [c.as_dict() for c in chart.cycles],
                }
                for name, chart in self.coders
            ],
        }


def chart(counts: Iterable[CycleCounts]) -> Chart:
    """The p-chart of cycle counts, sorted by cycle label (shared by SQL and reference)."""
    rows = sorted(counts, key=lambda c: c.cycle)
    center, points = p_chart([c.code_errors for c in rows], [c.audited_codes for c in rows])
    return Chart(
        center=center,
        cycles=[
            CycleRow(
                cycle=c.cycle,
                encounters=c.encounters,
                audited_codes=c.audited_codes,
                code_errors=c.code_errors,
                p=pt.p,
                ucl=pt.ucl,
                lcl=pt.lcl,
                signal=pt.signal,
                findings=c.findings,
                repeat_findings=c.repeat_findings,
                repeat_rate=c.repeat_findings / c.findings if c.findings else None,
            )
            for c, pt in zip(rows, points, strict=True)
        ],
    )


def coder_cycles(encounters: Iterable[EncounterRow]) -> dict[str, list[str]]:
    """Each coder's cycles: the sorted labels of the cycles with a released encounter."""
    seen: dict[str, set[str]] = defaultdict(set)
    for e in encounters:
        if e.released and e.coder is not None:
            seen[e.coder].add(e.cycle)
    return {c: sorted(labels) for c, labels in seen.items()}


def repeat_keys(encounters: Sequence[EncounterRow], findings: Sequence[FindingRow]) -> set[int]:
    """Keys of the counted findings that are repeats (DESIGN §8).

    A counted finding of coder c in cycle t is a repeat when a counted finding of c in one
    of the REPEAT_LOOKBACK cycles before t in c's own cycle list is the same problem.
    Computed over the coder's whole released history, whatever slice is reported.
    """
    by_key = {e.key: e for e in encounters}
    cycles = coder_cycles(encounters)
    index = {c: {label: i for i, label in enumerate(labels)} for c, labels in cycles.items()}
    history: dict[tuple[str, int], list[FindingRow]] = defaultdict(list)
    counted: list[tuple[FindingRow, str, int]] = []
    for f in findings:
        e = by_key[f.encounter]
        if not (e.released and e.coder is not None and finding_counts(f)):
            continue
        i = index[e.coder][e.cycle]
        history[(e.coder, i)].append(f)
        counted.append((f, e.coder, i))
    out: set[int] = set()
    for f, coder, i in counted:
        for back in range(1, REPEAT_LOOKBACK + 1):
            if any(same_problem(f, prior) for prior in history.get((coder, i - back), ())):
                out.add(f.key)
                break
    return out


def cycle_report(
    encounters: Sequence[EncounterRow],
    findings: Sequence[FindingRow],
    *,
    scope: Container[int] | None = None,
) -> CycleReport:
    """The organization's and each coder's per-cycle p-chart with findings and repeats.

    Only released encounters count. `scope` (encounter keys) narrows what is reported (a
    filter); repeats still look at the coder's whole history. Encounters without a coder
    count in the organization's cycles, never in a coder's.
    """
    repeats = repeat_keys(encounters, findings)
    by_key = {e.key: e for e in encounters}

    def in_scope(e: EncounterRow) -> bool:
        return e.released and (scope is None or e.key in scope)

    totals: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for e in encounters:
        if in_scope(e):
            t = totals[(e.coder, e.cycle)]
            t[0] += 1
            t[1] += e.audited_codes
            t[2] += e.code_errors
    for f in findings:
        e = by_key[f.encounter]
        if in_scope(e) and finding_counts(f):
            t = totals[(e.coder, e.cycle)]
            t[3] += 1
            t[4] += f.key in repeats
    return report_from_counts(
        [(coder, CycleCounts(cycle, *t)) for (coder, cycle), t in totals.items()]
    )


def report_from_counts(rows: Iterable[tuple[str | None, CycleCounts]]) -> CycleReport:
    """Per-(coder, cycle) counts → the report: the organization's cycles sum over coders
    (the coder-less included); each coder's chart has its own centre."""
    org: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    per_coder: dict[str, list[CycleCounts]] = defaultdict(list)
    for coder, c in rows:
        t = org[c.cycle]
        for i, v in enumerate(
            (c.encounters, c.audited_codes, c.code_errors, c.findings, c.repeat_findings)
        ):
            t[i] += v
        if coder is not None:
            per_coder[coder].append(c)
    whole = chart(CycleCounts(cycle, *t) for cycle, t in org.items())
    return CycleReport(
        center=whole.center,
        cycles=whole.cycles,
        coders=[(name, chart(per_coder[name])) for name in sorted(per_coder)],
    )


# --------------------------------------------------------------------------- time to resolution

HOUR = timedelta(hours=1)
AGEING_BUCKETS: Final = ((0, 7), (8, 14), (15, 30), (31, None))


@dataclass(frozen=True, slots=True)
class ResolutionRow:
    """A released finding's clock: release, first coder answer (agree or dispute), close."""

    released_at: datetime
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    open: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    responded: int
    response_median_hours: float | None
    response_p90_hours: float | None
    within_sla: Proportion
    closed: int
    close_median_hours: float | None
    close_p90_hours: float | None
    open: int
    overdue: int
    ageing: dict[str, int]


def hours(delta: timedelta) -> float:
    return delta / HOUR


def bucket_label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi}" if hi is not None else f"{lo}+"


def resolution(rows: Sequence[ResolutionRow], *, sla_days: int, now: datetime) -> Resolution:
    """Median and P90 (nearest rank) in hours of release → first response and release →
    closed; the share answered within the SLA among findings whose outcome is known (answered,
    or open longer than the SLA); open findings by age in whole days, and how many are over
    the SLA (age in days > sla_days, as the coaching ageing list shows)."""
    sla = timedelta(days=sla_days)
    response = [hours(r.first_response_at - r.released_at) for r in rows if r.first_response_at]
    close = [hours(r.closed_at - r.released_at) for r in rows if r.closed_at]
    in_time = sum(
        1 for r in rows if r.first_response_at and r.first_response_at - r.released_at <= sla
    )
    known = sum(1 for r in rows if r.first_response_at is not None or now - r.released_at > sla)
    ages = [(now - r.released_at).days for r in rows if r.open]
    ageing = {bucket_label(lo, hi): 0 for lo, hi in AGEING_BUCKETS}
    for age in ages:
        for lo, hi in AGEING_BUCKETS:
            if age >= lo and (hi is None or age <= hi):
                ageing[bucket_label(lo, hi)] += 1
                break
        else:  # a release stamped in the future (clock skew) ages as 0 days
            ageing[bucket_label(*AGEING_BUCKETS[0])] += 1
    return Resolution(
        responded=len(response),
        response_median_hours=nearest_rank(response, 0.5),
        response_p90_hours=nearest_rank(response, 0.9),
        within_sla=Proportion(in_time, known),
        closed=len(close),
        close_median_hours=nearest_rank(close, 0.5),
        close_p90_hours=nearest_rank(close, 0.9),
        open=len(ages),
        overdue=sum(1 for a in ages if a > sla_days),
        ageing=ageing,
    )


# --------------------------------------------------------------------------- disputes


@dataclass(frozen=True, slots=True)
class DisputeRow:
    """A released finding: its auditor and kind, whether the coder ever disputed it, and
    the decision of its dispute ("" while undecided): upheld, overturned or modified."""

    auditor: str
    kind: str
    disputed: bool
    decision: str = ""


@dataclass(frozen=True, slots=True)
class DisputeRates:
    dispute: Proportion  # disputed / released
    overturn: Proportion  # overturned / decided disputes


def dispute_rates(rows: Iterable[DisputeRow]) -> DisputeRates:
    rows = list(rows)
    decided = [r for r in rows if r.disputed and r.decision]
    return DisputeRates(
        dispute=Proportion(sum(r.disputed for r in rows), len(rows)),
        overturn=Proportion(sum(r.decision == OVERTURNED for r in decided), len(decided)),
    )


def dispute_rates_by(rows: Iterable[DisputeRow], key: str) -> dict[Any, DisputeRates]:
    """Dispute rates per `auditor` or per `kind`."""
    groups: dict[Any, list[DisputeRow]] = defaultdict(list)
    for r in rows:
        groups[getattr(r, key)].append(r)
    return {k: dispute_rates(v) for k, v in sorted(groups.items())}


# --------------------------------------------------------------------------- education


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    coder: str
    due_date: date
    assigned_on: date
    completed_on: date | None = None
    pattern: str = ""
    topic: str = ""


@dataclass(frozen=True, slots=True)
class Engagement:
    on_time: Proportion  # completed by the due date / assignments due
    median_days_to_complete: float | None
    overdue: int


def engagement(rows: Iterable[AssignmentRow], *, today: date) -> Engagement:
    """Assignments due are those whose due date has passed (due_date < today); on time =
    completed on or before the due date. Days to complete run from the assignment date to
    the completion date (nearest-rank median). Overdue = not completed and past due."""
    rows = list(rows)
    due = [r for r in rows if r.due_date < today]
    on_time = sum(1 for r in due if r.completed_on is not None and r.completed_on <= r.due_date)
    days = [
        float((r.completed_on - r.assigned_on).days) for r in rows if r.completed_on is not None
    ]
    return Engagement(
        on_time=Proportion(on_time, len(due)),
        median_days_to_complete=nearest_rank(days, 0.5),
        overdue=sum(1 for r in due if r.completed_on is None),
    )


@dataclass(frozen=True, slots=True)
class Effectiveness:
    before: Proportion  # encounters with ≥ 1 finding of the subject / encounters, before
    after: Proportion
    test: ZTest | None


def effectiveness(
    assignment: AssignmentRow,
    encounters: Sequence[EncounterRow],
    findings: Sequence[FindingRow],
) -> Effectiveness | None:
    """The coder's incidence of the assignment's pattern (or topic) in released encounters
    discharged before vs after the completion date (encounters on that day are left out),
    with the pooled two-proportion z-test (before vs after). None when not completed."""
    done = assignment.completed_on
    if done is None:
        return None
    mine = {
        e.key: e
        for e in encounters
        if e.released and e.coder == assignment.coder and e.discharge_date is not None
    }
    hit = {
        f.encounter
        for f in findings
        if f.encounter in mine
        and finding_counts(f)
        and (
            (assignment.pattern and f.pattern == assignment.pattern)
            or (assignment.topic and f.topic == assignment.topic)
        )
    }
    before = [
        k for k, e in mine.items() if e.discharge_date is not None and e.discharge_date < done
    ]
    after = [k for k, e in mine.items() if e.discharge_date is not None and e.discharge_date > done]
    b = Proportion(sum(k in hit for k in before), len(before))
    a = Proportion(sum(k in hit for k in after), len(after))
    return Effectiveness(
        before=b, after=a, test=two_proportion_z_test(b.successes, b.n, a.successes, a.n)
    )


# --------------------------------------------------------------------------- overreads


@dataclass(frozen=True, slots=True)
class Overread:
    """One encounter reviewed blind by two auditors: each one's audited codes (normalized,
    repeats kept), final DRG ("" outside inpatient), whether the record has findings, and
    the E/M level (1–5, None when no §5.7 E/M code)."""

    auditor_a: str
    auditor_b: str
    codes_a: tuple[str, ...]
    codes_b: tuple[str, ...]
    drg_a: str = ""
    drg_b: str = ""
    findings_a: bool = False
    findings_b: bool = False
    em_a: int | None = None
    em_b: int | None = None
    topic: str = ""


@dataclass(frozen=True, slots=True)
class Consistency:
    overreads: int
    code_agreement: Proportion  # Σ matched audited codes / Σ union (multisets, pooled)
    drg_kappa: float | None
    findings_kappa: float | None
    em_weighted_kappa: float | None  # linear weights over levels 1–5
    em_alpha: float | None  # Krippendorff ordinal


EM_LEVELS: Final = (1, 2, 3, 4, 5)


def consistency(overreads: Iterable[Overread]) -> Consistency:
    """Agreement of pairs of auditors over overreads (DESIGN §8)."""
    rows = list(overreads)
    matched = union = 0
    for o in rows:
        a, b = Counter(o.codes_a), Counter(o.codes_b)
        matched += sum((a & b).values())
        union += sum((a | b).values())
    drg = [(o.drg_a, o.drg_b) for o in rows if o.drg_a and o.drg_b]
    em = [(o.em_a, o.em_b) for o in rows if o.em_a is not None and o.em_b is not None]
    return Consistency(
        overreads=len(rows),
        code_agreement=Proportion(matched, union),
        drg_kappa=cohen_kappa([x for x, _ in drg], [y for _, y in drg]),
        findings_kappa=cohen_kappa([o.findings_a for o in rows], [o.findings_b for o in rows]),
        em_weighted_kappa=weighted_kappa(
            [x for x, _ in em], [y for _, y in em], weights="linear", categories=EM_LEVELS
        ),
        em_alpha=krippendorff_alpha([[x, y] for x, y in em], level="ordinal"),
    )


def consistency_by_auditor(overreads: Iterable[Overread]) -> dict[str, Consistency]:
    """Each auditor's agreement with whoever overread the same encounters."""
    groups: dict[str, list[Overread]] = defaultdict(list)
    for o in overreads:
        groups[o.auditor_a].append(o)
        if o.auditor_b != o.auditor_a:
            groups[o.auditor_b].append(o)
    return {k: consistency(v) for k, v in sorted(groups.items())}


def consistency_by_topic(overreads: Iterable[Overread]) -> dict[str, Consistency]:
    groups: dict[str, list[Overread]] = defaultdict(list)
    for o in overreads:
        groups[o.topic].append(o)
    return {k: consistency(v) for k, v in sorted(groups.items())}


def calibration_alpha(
    ratings: Mapping[Hashable, Mapping[str, str | int | None]],
    *,
    auditors: Sequence[str] | None = None,
) -> float | None:
    """Krippendorff's alpha (nominal) of a calibration set: unit → auditor → value (a
    missing auditor or None is a missing value)."""
    names = (
        list(auditors) if auditors is not None else sorted({a for r in ratings.values() for a in r})
    )
    return krippendorff_alpha(
        [[r.get(a) for a in names] for r in ratings.values()], level="nominal"
    )
