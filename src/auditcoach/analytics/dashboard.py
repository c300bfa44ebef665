"""The dashboard's widgets: each one a function from the organization and the filter bar's
slice to what the page shows (a chart, a few headline numbers, a table), with every mark
and count linking to the findings behind it.

The numbers come from `analytics.selectors` (SQL aggregates, DESIGN §8) and
`audits.selectors.score_totals_by` (pooled §6 scores); this module only arranges them.
A saved dashboard view (`DashboardView`) is a list of these keys and a filter slice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from django.db.models import Count
from django.urls import reverse
from django.utils.safestring import SafeString

from auditcoach.accounts.models import Auditor, Organization
from auditcoach.accounts.selectors_rosters import person_labels
from auditcoach.analytics import selectors
from auditcoach.analytics.charts import Bar, Point, bar_chart, legend, line_chart, sparkline
from auditcoach.analytics.forms import filter_query
from auditcoach.analytics.selectors import MetricFilters
from auditcoach.audits.selectors import score_totals_by
from auditcoach.engine.metrics import CycleReport
from auditcoach.engine.scoring import code_accuracy
from auditcoach.engine.stats import Proportion


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    href: str = ""
    num: bool = False
    chart: SafeString | None = None


@dataclass(frozen=True, slots=True)
class Stat:
    label: str
    value: str
    detail: str = ""
    href: str = ""
    tone: str = ""


@dataclass(slots=True)
class Widget:
    key: str
    title: str
    subtitle: str = ""
    chart: SafeString | None = None
    legend: SafeString | None = None
    stats: list[Stat] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = ""  # shown instead of the body when there is nothing to show
    more: tuple[str, str] | None = None  # (link text, href)


@dataclass
class Context:
    """What every widget gets: the organization, the slice, the time, and where to link;
    and the per-cycle report that several widgets share, computed once."""

    organization: Organization
    filters: MetricFilters
    now: datetime
    _report: CycleReport | None = None

    def cycle_report(self) -> CycleReport:
        if self._report is None:
            self._report = selectors.cycle_report(
                organization=self.organization, filters=self.filters
            )
        return self._report

    def findings_url(self, **drill: str) -> str:
        base = reverse("analytics:findings", kwargs={"org_slug": self.organization.slug})
        query = filter_query(self.filters, **drill)
        return f"{base}?{query}" if query else base

    def encounters_url(self, **extra: str) -> str:
        base = reverse("analytics:encounters", kwargs={"org_slug": self.organization.slug})
        query = filter_query(self.filters, **extra)
        return f"{base}?{query}" if query else base


def _pct(p: Proportion) -> str:
    return "—" if p.value is None else f"{p.value * 100:.1f}%"


def _ci(p: Proportion) -> str:
    if p.interval is None:
        return ""
    low, high = p.interval
    return f"{low * 100:.1f}–{high * 100:.1f}%"


def _hours(h: float | None) -> str:
    if h is None:
        return "—"
    return f"{h:.0f} h" if h < 48 else f"{h / 24:.1f} d"


# --------------------------------------------------------------------------- widgets


def accuracy_by_cycle(ctx: Context) -> Widget:
    """Code accuracy (AHIMA, DX + PX + LINE pooled) per cycle with its 95% interval; the
    table adds each group and record accuracy. A point leads to the cycle's findings."""
    encounters = selectors.released_encounters(organization=ctx.organization, filters=ctx.filters)
    per_cycle = [(c, t) for c, t in score_totals_by(encounters, "cycle") if c]
    w = Widget(
        "accuracy",
        "Accuracy by cycle",
        "code accuracy (A − a − r − e) / A over DX, PX and LINE, pooled, with 95% intervals",
    )
    if not per_cycle:
        w.empty = "No released encounters in this slice."
        return w
    points = []
    w.headers = ["Cycle", "Encounters", "All codes", "DX", "PX", "LINE", "Record"]
    for cycle, t in per_cycle:
        overall = code_accuracy(t.dx + t.px + t.line)
        interval = overall.interval
        href = ctx.findings_url(cycle=cycle)
        points.append(
            Point(
                cycle,
                overall.value,
                low=interval[0] if interval else None,
                high=interval[1] if interval else None,
                href=href,
                detail=f"{overall.successes}/{overall.n} codes; {t.encounters} encounters",
            )
        )
        w.rows.append(
            [
                Cell(cycle, href=href),
                Cell(str(t.encounters), href=ctx.encounters_url(cycle=cycle), num=True),
                Cell(f"{_pct(overall)} ({overall.successes}/{overall.n})", num=True),
                *(Cell(_pct(code_accuracy(g)), num=True) for g in (t.dx, t.px, t.line)),
                Cell(_pct(Proportion(t.clean_encounters, t.encounters)), num=True),
            ]
        )
    lows = [p.low for p in points if p.low is not None]
    y_min = max(0.0, (min(lows) if lows else 0.0) - 0.05)
    y_min = float(int(y_min * 10)) / 10
    w.chart = line_chart(points, label="Code accuracy by cycle", y_min=y_min, y_max=1.0)
    return w


def p_chart(ctx: Context) -> Widget:
    """The organization's p-chart of code errors (DESIGN §8) with its limits and signals."""
    report = ctx.cycle_report()
    w = Widget(
        "pchart",
        "Code errors: p-chart",
        "p = (a + r + e) / audited codes per cycle; centre p̄, limits p̄ ± 3σ; "
        "signals outside the limits or on a run of 8",
    )
    rows = report.cycles
    if not rows:
        w.empty = "No released encounters in this slice."
        return w
    points = [
        Point(
            r.cycle,
            r.p,
            href=ctx.findings_url(cycle=r.cycle),
            signal=r.signal,
            ucl=r.ucl,
            lcl=r.lcl,
            detail=f"{r.code_errors}/{r.audited_codes} codes",
        )
        for r in rows
    ]
    w.chart = line_chart(points, label="p-chart of code errors", center=report.center)
    w.legend = legend(
        [
            ("", "p per cycle"),
            ("chart-center", "centre p̄"),
            ("chart-limit", "control limits"),
            ("is-signal", "signal"),
        ]
    )
    signals = [r.cycle for r in rows if r.signal]
    w.stats = [
        Stat("Centre p̄", "—" if report.center is None else f"{report.center * 100:.1f}%"),
        Stat("Signals", ", ".join(signals) if signals else "none", tone="warn" if signals else ""),
    ]
    return w


def top_patterns(ctx: Context, *, limit: int = 10) -> Widget:
    """The most frequent pattern keys in the slice, each with its trend over the cycles
    (a sparkline of counts) and a link to its findings."""
    findings = selectors.drill_findings(
        organization=ctx.organization, filters=ctx.filters, drill=selectors.Drill()
    ).order_by()
    top = list(findings.values("pattern").annotate(n=Count("pk")).order_by("-n", "pattern")[:limit])
    w = Widget("patterns", "Top patterns", "pattern keys (kind : group : code family) by findings")
    if not top:
        w.empty = "No findings in this slice."
        return w
    keys = [r["pattern"] for r in top]
    by_cycle = (
        findings.filter(pattern__in=keys)
        .values("pattern", "encounter__cycle")
        .annotate(n=Count("pk"))
        .order_by()
    )
    cycles = sorted({r["encounter__cycle"] for r in by_cycle})
    counts = {(r["pattern"], r["encounter__cycle"]): r["n"] for r in by_cycle}
    bars = []
    w.headers = ["Pattern", "Findings", "By cycle", "Latest vs before"]
    for r in top:
        series = [float(counts.get((r["pattern"], c), 0)) for c in cycles]
        trend = _trend(series)
        href = ctx.findings_url(pattern=r["pattern"])
        bars.append(Bar(r["pattern"], r["n"], href=href, detail=f"{r['n']} findings", note=trend))
        w.rows.append(
            [
                Cell(r["pattern"], href=href),
                Cell(str(r["n"]), num=True),
                Cell("", chart=sparkline(series, label=f"{r['pattern']} by cycle")),
                Cell(trend),
            ]
        )
    w.chart = bar_chart(bars, label="Top patterns", fmt=lambda v: f"{v:.0f}", label_width=170)
    topics = list(
        findings.exclude(topic="")
        .values("topic")
        .annotate(n=Count("pk"))
        .order_by("-n", "topic")[:5]
    )
    if topics:
        w.stats = [
            Stat(f"Topic {t['topic']}", str(t["n"]), href=ctx.findings_url(topic=t["topic"]))
            for t in topics
        ]
    return w


def _trend(series: list[float]) -> str:
    """The latest cycle against the mean of those before it: ↓ fewer, ↑ more, → same."""
    if len(series) < 2:
        return ""
    before = sum(series[:-1]) / len(series[:-1])
    latest = series[-1]
    if latest < before * 0.9:
        return "↓ fewer"
    if latest > before * 1.1:
        return "↑ more"
    return "→ steady"


def repeat_rate(ctx: Context) -> Widget:
    """Repeat-finding rate per cycle (DESIGN §8): findings repeating a pattern or topic of
    the coder's two previous cycles / findings."""
    report = ctx.cycle_report()
    w = Widget(
        "repeats",
        "Repeat findings by cycle",
        "the same pattern (or topic) as in one of the coder's two previous cycles",
    )
    rows = [r for r in report.cycles if r.findings]
    if not rows:
        w.empty = "No findings in this slice."
        return w
    bars = [
        Bar(
            r.cycle,
            r.repeat_findings / r.findings,
            href=ctx.findings_url(cycle=r.cycle, repeat="1"),
            detail=f"{r.repeat_findings} of {r.findings} findings",
            tone="warn",
        )
        for r in rows
    ]
    w.chart = bar_chart(bars, label="Repeat-finding rate by cycle", max_value=1.0, label_width=90)
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        change = b.repeat_findings / b.findings - a.repeat_findings / a.findings
        w.stats = [
            Stat(
                f"Change {a.cycle} → {b.cycle}",
                f"{change * 100:+.1f} points",
                tone="good" if change < 0 else "warn" if change > 0 else "",
            )
        ]
    return w


def resolution(ctx: Context) -> Widget:
    """Time to resolution (DESIGN §8): release → first response and → closed, the share
    answered within the SLA, and the ageing of open findings."""
    r = selectors.resolution(organization=ctx.organization, now=ctx.now, filters=ctx.filters)
    sla = ctx.organization.response_sla_days
    w = Widget("resolution", "Time to resolution", f"from release; SLA {sla} days")
    ageing_url = reverse("coaching:ageing", kwargs={"org_slug": ctx.organization.slug})
    w.stats = [
        Stat(
            "First response, median",
            _hours(r.response_median_hours),
            f"P90 {_hours(r.response_p90_hours)}",
        ),
        Stat("Closed, median", _hours(r.close_median_hours), f"P90 {_hours(r.close_p90_hours)}"),
        Stat(
            "Answered within SLA",
            _pct(r.within_sla),
            f"{r.within_sla.successes}/{r.within_sla.n} · 95% CI {_ci(r.within_sla)}",
        ),
        Stat(
            "Open",
            str(r.open),
            f"{r.overdue} overdue",
            href=ageing_url,
            tone="warn" if r.overdue else "",
        ),
    ]
    if r.open:
        bars = [
            Bar(label, n, href=ageing_url, detail=f"{n} open findings", tone="warn" if i else "")
            for i, (label, n) in enumerate(r.ageing.items())
        ]
        w.chart = bar_chart(
            bars, label="Open findings by age", fmt=lambda v: f"{v:.0f}", label_width=90
        )
    return w


def disputes(ctx: Context) -> Widget:
    """Dispute rate (disputed / released) and overturn rate (overturned / decided disputes)
    per auditor, each with n; a bar leads to that auditor's disputed findings."""
    rates = selectors.dispute_rates_by(
        organization=ctx.organization, by="auditor", filters=ctx.filters
    )
    w = Widget(
        "disputes",
        "Disputes and overturns by auditor",
        "disputed / released · overturned / decided",
    )
    if not rates:
        w.empty = "No released findings in this slice."
        return w
    w.headers = ["Auditor", "Dispute rate", "Overturn rate"]
    labels = person_labels(organization=ctx.organization, model=Auditor)
    bars = []
    for auditor, rate in rates.items():
        name = labels.get(auditor, auditor) if auditor else "—"
        bars.append(
            Bar(
                name,
                rate.dispute.value or 0.0,
                href=ctx.findings_url(auditor=auditor, disputed="1") if auditor else "",
                detail=f"{rate.dispute.successes} of {rate.dispute.n} released findings disputed",
            )
        )
        w.rows.append(
            [
                Cell(name),
                Cell(
                    f"{_pct(rate.dispute)} ({rate.dispute.successes}/{rate.dispute.n})",
                    href=ctx.findings_url(auditor=auditor, disputed="1") if auditor else "",
                    num=True,
                ),
                Cell(
                    f"{_pct(rate.overturn)} ({rate.overturn.successes}/{rate.overturn.n})",
                    href=ctx.findings_url(auditor=auditor, overturned="1") if auditor else "",
                    num=True,
                ),
            ]
        )
    w.chart = bar_chart(bars, label="Dispute rate by auditor", label_width=120)
    return w


def education(ctx: Context) -> Widget:
    """Education engagement and effectiveness (DESIGN §8), for the filter's coder or all."""
    coder = ctx.filters.coder
    e = selectors.engagement(organization=ctx.organization, today=ctx.now.date(), coder=coder)
    eff = selectors.effectiveness(organization=ctx.organization, coder=coder)
    w = Widget("education", "Education", "engagement and effectiveness")
    url = reverse("education:index", kwargs={"org_slug": ctx.organization.slug})
    days = e.median_days_to_complete
    w.stats = [
        Stat(
            "Completed by the due date",
            _pct(e.on_time),
            f"{e.on_time.successes}/{e.on_time.n} due",
            href=url,
        ),
        Stat("Median days to complete", "—" if days is None else f"{days:.0f}"),
        Stat("Overdue", str(e.overdue), href=url, tone="warn" if e.overdue else ""),
    ]
    measured = [x for x in eff.values() if x.before.n and x.after.n]
    if measured:
        improved = sum(1 for x in measured if (x.after.value or 0) < (x.before.value or 0))
        significant = sum(1 for x in measured if x.test is not None and x.test.p_value < 0.05)
        w.stats.append(
            Stat(
                "Effectiveness",
                f"{improved}/{len(measured)} improved",
                f"{significant} with p < 0.05 (pooled two-proportion z-test)",
            )
        )
    return w


def _kappa(k: float | None) -> str:
    return "—" if k is None else f"{k:.2f}"


def consistency(ctx: Context) -> Widget:
    """Auditor consistency from finished blind overreads (DESIGN §8): code agreement with
    its interval, Cohen's kappa on the final DRG and on "record has findings", weighted
    kappa on the E/M level; per auditor in the table. Filters other than the cycle range's
    single cycle do not apply (overreads are few; the consistency page has the detail)."""
    from auditcoach.overreads.selectors import consistency_report

    cycle = ctx.filters.cycle_from if ctx.filters.cycle_from == ctx.filters.cycle_to else ""
    report = consistency_report(ctx.organization, cycle=cycle)
    url = reverse("overreads:consistency", kwargs={"org_slug": ctx.organization.slug})
    w = Widget(
        "consistency",
        "Auditor consistency",
        "finished blind overreads" + (f", cycle {cycle}" if cycle else ""),
        more=("Consistency by auditor and topic", url),
    )
    overall = report.overall
    if not overall.overreads:
        w.empty = "No finished overreads yet: managers set overread plans per auditor and cycle."
        return w
    w.stats = [
        Stat(
            "Code agreement",
            _pct(overall.code_agreement),
            f"{overall.code_agreement.successes}/{overall.code_agreement.n} · 95% CI "
            f"{_ci(overall.code_agreement)}",
            href=url,
        ),
        Stat("κ final DRG", _kappa(overall.drg_kappa), f"{overall.overreads} overreads"),
        Stat("κ has findings", _kappa(overall.findings_kappa)),
        Stat("Weighted κ E/M level", _kappa(overall.em_weighted_kappa)),
    ]
    w.headers = ["Auditor", "Overreads", "Code agreement", "κ DRG", "κ findings"]
    bars = []
    for name, c in report.by_auditor.items():
        bars.append(
            Bar(
                name,
                c.code_agreement.value or 0.0,
                href=url,
                detail=f"{c.code_agreement.successes}/{c.code_agreement.n} codes agreed",
            )
        )
        w.rows.append(
            [
                Cell(name),
                Cell(str(c.overreads), num=True),
                Cell(_pct(c.code_agreement), num=True),
                Cell(_kappa(c.drg_kappa), num=True),
                Cell(_kappa(c.findings_kappa), num=True),
            ]
        )
    w.chart = bar_chart(bars, label="Code agreement by auditor", label_width=120)
    return w


WIDGETS: Final[dict[str, tuple[str, Callable[[Context], Widget]]]] = {
    "accuracy": ("Accuracy by cycle", accuracy_by_cycle),
    "pchart": ("Code errors: p-chart", p_chart),
    "patterns": ("Top patterns", top_patterns),
    "repeats": ("Repeat findings by cycle", repeat_rate),
    "resolution": ("Time to resolution", resolution),
    "disputes": ("Disputes and overturns by auditor", disputes),
    "education": ("Education", education),
    "consistency": ("Auditor consistency", consistency),
}
"""Every widget, in the default dashboard's order."""

DEFAULT_WIDGETS: Final = tuple(WIDGETS)


def build(keys: list[str] | tuple[str, ...], ctx: Context) -> list[Widget]:
    """The widgets of `keys` (unknown keys are skipped), in that order."""
    return [WIDGETS[k][1](ctx) for k in keys if k in WIDGETS]
