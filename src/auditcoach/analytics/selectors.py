"""DESIGN §8 metrics computed by the database, always starting from the organization.

Each selector aggregates in SQL (`values().annotate()`, `Exists`, `Subquery`) and hands the
small per-group rows to the plain rules of `auditcoach.engine.metrics` / `engine.stats`;
no Python loop runs over finding or encounter rows. `tests/analytics` checks every selector
against the engine's plain-Python reference on the same data, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, Collate, TruncDate

from auditcoach.accounts.models import Organization
from auditcoach.analytics.models import DashboardView
from auditcoach.audits.models import Encounter, Finding
from auditcoach.coaching.models import FindingEvent
from auditcoach.education.models import EducationAssignment
from auditcoach.engine.metrics import (
    AGEING_BUCKETS,
    HOUR,
    OPEN_STATUSES,
    OVERTURNED,
    CycleCounts,
    CycleReport,
    DisputeRates,
    Effectiveness,
    Engagement,
    Resolution,
    bucket_label,
    report_from_counts,
)
from auditcoach.engine.stats import Proportion, two_proportion_z_test

S = Finding.Status
K = FindingEvent.Kind


@dataclass(frozen=True, slots=True)
class MetricFilters:
    """A slice of the organization's released encounters; "" means no filter. Roster
    fields are matched by name; `cycle_from` / `cycle_to` bound the cycle label
    (inclusive, in plain character order)."""

    facility: str = ""
    service_line: str = ""
    provider: str = ""
    coder: str = ""
    auditor: str = ""
    payer: str = ""
    setting: str = ""
    cycle_from: str = ""
    cycle_to: str = ""


def _collated(expr: str | Combinable) -> Any:
    # Cycle labels compare and sort in plain character order, as Python sorts them: on
    # PostgreSQL the database's collation (en_US and the like) would ignore punctuation, so
    # the comparisons carry COLLATE "C". SQLite already compares bytes.
    if connection.vendor == "postgresql":
        return Collate(F(expr) if isinstance(expr, str) else expr, "C")
    return F(expr) if isinstance(expr, str) else expr


def _encounter_q(filters: MetricFilters, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}released_at__isnull": False})
    for name, lookup in (
        ("facility", "facility__name"),
        ("service_line", "service_line__name"),
        ("provider", "provider__name"),
        ("coder", "coder__name"),
        ("auditor", "auditor_name"),
        ("payer", "payer"),
        ("setting", "setting"),
    ):
        value = getattr(filters, name)
        if value:
            q &= Q(**{f"{prefix}{lookup}": value})
    return q


def _cycle_bounds(qs: QuerySet[Any], filters: MetricFilters, field: str) -> QuerySet[Any]:
    if filters.cycle_from or filters.cycle_to:
        qs = qs.alias(_cycle_c=_collated(field))
        if filters.cycle_from:
            qs = qs.filter(_cycle_c__gte=filters.cycle_from)
        if filters.cycle_to:
            qs = qs.filter(_cycle_c__lte=filters.cycle_to)
    return qs


def released_encounters(
    *, organization: Organization, filters: MetricFilters = MetricFilters()
) -> QuerySet[Encounter]:
    qs = Encounter.objects.filter(Q(organization=organization) & _encounter_q(filters))
    return _cycle_bounds(qs, filters, "cycle")


def counted_findings(*, organization: Organization) -> QuerySet[Finding]:
    """The findings §8 counts, unfiltered: released to the coder, active, not overturned,
    in a released encounter (also the priors of repeats)."""
    return Finding.objects.filter(
        organization=organization, active=True, encounter__released_at__isnull=False
    ).exclude(status__in=[S.DRAFT, S.OVERTURNED])


def _scoped_findings(organization: Organization, filters: MetricFilters) -> QuerySet[Finding]:
    qs = counted_findings(organization=organization).filter(_encounter_q(filters, "encounter__"))
    return _cycle_bounds(qs, filters, "encounter__cycle")


def with_repeats(qs: QuerySet[Finding], *, organization: Organization) -> QuerySet[Finding]:
    """Annotate `is_repeat` (DESIGN §8) on counted findings.

    The coder's cycle list is the sorted distinct cycles of the coder's released
    encounters; the two cycles before t are those between the label two back (`back2`,
    the 2nd largest label below t, or none) and t. A prior is a counted finding of the same
    coder there with the same pattern key, or the same (non-empty) topic.
    """
    back2 = Subquery(
        Encounter.objects.filter(
            organization=organization,
            coder=OuterRef("encounter__coder"),
            released_at__isnull=False,
        )
        .alias(c=_collated("cycle"))
        .filter(c__lt=OuterRef("encounter__cycle"))
        .annotate(label=_collated("cycle"))
        .values("label")
        .distinct()
        .order_by("-label")[1:2]
    )
    priors = (
        counted_findings(organization=organization)
        .filter(encounter__coder=OuterRef("encounter__coder"))
        .alias(c=_collated("encounter__cycle"))
        .filter(c__lt=OuterRef("encounter__cycle"), c__gte=OuterRef("back2"))
        .filter(Q(pattern=OuterRef("pattern")) | (Q(topic=OuterRef("topic")) & ~Q(topic="")))
    )
    return qs.annotate(back2=Coalesce(back2, Value(""))).annotate(
        is_repeat=Exists(priors) & Q(encounter__coder__isnull=False)
    )


_CODES = F("dx_audited") + F("px_audited") + F("line_audited")
_ERRORS = (
    F("dx_added") + F("dx_revised") + F("dx_line_errors")
    + F("px_added") + F("px_revised") + F("px_line_errors")
    + F("line_added") + F("line_revised") + F("line_line_errors")
)  # fmt: skip


def cycle_report(
    *, organization: Organization, filters: MetricFilters = MetricFilters()
) -> CycleReport:
    """The per-cycle p-charts of the organization and each coder, with findings and
    repeats: the `auditcoach metrics --json` object. Two grouped queries."""
    encounter_rows = (
        released_encounters(organization=organization, filters=filters)
        .values("coder__name", "cycle")
        .annotate(n=Count("pk"), codes=Sum(_CODES), errors=Sum(_ERRORS))
        .order_by()
    )
    finding_rows = (
        with_repeats(_scoped_findings(organization, filters), organization=organization)
        .values("encounter__coder__name", "encounter__cycle")
        .annotate(n=Count("pk"), repeats=Count("pk", filter=Q(is_repeat=True)))
        .order_by()
    )
    found = {
        (r["encounter__coder__name"], r["encounter__cycle"]): (r["n"], r["repeats"])
        for r in finding_rows
    }
    return report_from_counts(
        (
            r["coder__name"],
            CycleCounts(
                cycle=r["cycle"],
                encounters=r["n"],
                audited_codes=r["codes"] or 0,
                code_errors=r["errors"] or 0,
                findings=found.get((r["coder__name"], r["cycle"]), (0, 0))[0],
                repeat_findings=found.get((r["coder__name"], r["cycle"]), (0, 0))[1],
            ),
        )
        for r in encounter_rows
    )


# --------------------------------------------------------------------------- resolution


def released_findings(
    *, organization: Organization, filters: MetricFilters = MetricFilters()
) -> QuerySet[Finding]:
    """Findings released to their coder in the slice: not drafts, and active or overturned
    (now, or by a decision before it was closed); a finding withdrawn by a later edit has
    no resolution to time."""
    overturned = Exists(
        FindingEvent.objects.filter(finding=OuterRef("pk"), kind=K.DECIDE, to_status=OVERTURNED)
    )
    qs = (
        Finding.objects.filter(organization=organization, released_at__isnull=False)
        .exclude(status=S.DRAFT)
        .filter(Q(active=True) | Q(status=S.OVERTURNED) | overturned)
        .filter(_encounter_q(filters, "encounter__"))
    )
    return _cycle_bounds(qs, filters, "encounter__cycle")


def _first_event_at(*kinds: str) -> Subquery:
    return Subquery(
        FindingEvent.objects.filter(finding=OuterRef("pk"), kind__in=kinds)
        .order_by("at", "pk")
        .values("at")[:1]
    )


def _nearest_rank(qs: QuerySet[Any], field: str, n: int, q: float) -> Any:
    """The value at rank ⌈q·n⌉ of `field` (nearest rank), read with ORDER BY … OFFSET."""
    if n == 0:
        return None
    k = max(1, math.ceil(q * n - 1e-12))
    return qs.order_by(field, "pk").values_list(field, flat=True)[k - 1]


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else value / HOUR


def resolution(
    *,
    organization: Organization,
    now: datetime,
    filters: MetricFilters = MetricFilters(),
) -> Resolution:
    """Time to resolution (DESIGN §8) with the organization's SLA."""
    sla_days = organization.response_sla_days
    sla = timedelta(days=sla_days)
    qs = released_findings(organization=organization, filters=filters).annotate(
        responded_at=_first_event_at(K.AGREE, K.DISPUTE),
        closed_at=_first_event_at(K.CLOSE),
    )
    qs = qs.annotate(
        to_response=ExpressionWrapper(F("responded_at") - F("released_at"), DurationField()),
        to_close=ExpressionWrapper(F("closed_at") - F("released_at"), DurationField()),
    )
    is_open = Q(status__in=list(OPEN_STATUSES), active=True)
    buckets: dict[str, Any] = {}
    for i, (lo, hi) in enumerate(AGEING_BUCKETS):
        q = is_open
        if i > 0:
            q &= Q(released_at__lte=now - timedelta(days=lo))
        if hi is not None:
            q &= Q(released_at__gt=now - timedelta(days=hi + 1))
        buckets[bucket_label(lo, hi)] = Count("pk", filter=q)
    totals = qs.aggregate(
        responded=Count("pk", filter=Q(responded_at__isnull=False)),
        closed=Count("pk", filter=Q(closed_at__isnull=False)),
        in_time=Count("pk", filter=Q(responded_at__isnull=False, to_response__lte=sla)),
        known=Count("pk", filter=Q(responded_at__isnull=False) | Q(released_at__lt=now - sla)),
        open=Count("pk", filter=is_open),
        overdue=Count(
            "pk", filter=is_open & Q(released_at__lte=now - timedelta(days=sla_days + 1))
        ),
        **buckets,
    )
    answered = qs.filter(responded_at__isnull=False)
    closed = qs.filter(closed_at__isnull=False)
    return Resolution(
        responded=totals["responded"],
        response_median_hours=_hours(
            _nearest_rank(answered, "to_response", totals["responded"], 0.5)
        ),
        response_p90_hours=_hours(_nearest_rank(answered, "to_response", totals["responded"], 0.9)),
        within_sla=Proportion(totals["in_time"], totals["known"]),
        closed=totals["closed"],
        close_median_hours=_hours(_nearest_rank(closed, "to_close", totals["closed"], 0.5)),
        close_p90_hours=_hours(_nearest_rank(closed, "to_close", totals["closed"], 0.9)),
        open=totals["open"],
        overdue=totals["overdue"],
        ageing={label: totals[label] for label in buckets},
    )


# --------------------------------------------------------------------------- disputes


def dispute_rates_by(
    *, organization: Organization, by: str, filters: MetricFilters = MetricFilters()
) -> dict[str, DisputeRates]:
    """Dispute and overturn rates per `auditor` (the encounter's auditor name) or per
    `kind`: disputed / released, overturned / decided disputes."""
    key = {"auditor": "encounter__auditor_name", "kind": "kind"}[by]
    decision = Subquery(
        FindingEvent.objects.filter(finding=OuterRef("pk"), kind=K.DECIDE)
        .order_by("-at", "-pk")
        .values("to_status")[:1]
    )
    rows = (
        released_findings(organization=organization, filters=filters)
        .annotate(
            ever_disputed=Exists(
                FindingEvent.objects.filter(finding=OuterRef("pk"), kind=K.DISPUTE)
            ),
            last_decision=decision,
        )
        .values(key)
        .annotate(
            released=Count("pk"),
            n_disputed=Count("pk", filter=Q(ever_disputed=True)),
            decided=Count("pk", filter=Q(ever_disputed=True, last_decision__isnull=False)),
            overturned=Count("pk", filter=Q(ever_disputed=True, last_decision=OVERTURNED)),
        )
        .order_by(key)
    )
    return {
        r[key]: DisputeRates(
            dispute=Proportion(r["n_disputed"], r["released"]),
            overturn=Proportion(r["overturned"], r["decided"]),
        )
        for r in rows
    }


# --------------------------------------------------------------------------- education


def _assignments(organization: Organization, coder: str) -> QuerySet[EducationAssignment]:
    qs = EducationAssignment.objects.filter(organization=organization)
    return qs.filter(coder__name=coder) if coder else qs


def engagement(*, organization: Organization, today: date, coder: str = "") -> Engagement:
    """Education engagement (DESIGN §8): on time / due, median days to complete, overdue."""
    qs = _assignments(organization, coder).annotate(
        completed_on=TruncDate("completed_at"),
        assigned_on=TruncDate("assigned_at"),
    )
    totals = qs.aggregate(
        due=Count("pk", filter=Q(due_date__lt=today)),
        on_time=Count("pk", filter=Q(due_date__lt=today, completed_on__lte=F("due_date"))),
        overdue=Count("pk", filter=Q(due_date__lt=today, completed_at__isnull=True)),
        completed=Count("pk", filter=Q(completed_at__isnull=False)),
    )
    done = qs.filter(completed_at__isnull=False).annotate(
        days=ExpressionWrapper(F("completed_on") - F("assigned_on"), DurationField())
    )
    median = _nearest_rank(done, "days", totals["completed"], 0.5)
    return Engagement(
        on_time=Proportion(totals["on_time"], totals["due"]),
        median_days_to_complete=None if median is None else float(median.days),
        overdue=totals["overdue"],
    )


def effectiveness(*, organization: Organization, coder: str = "") -> dict[int, Effectiveness]:
    """Per completed assignment (by primary key): the coder's incidence of the pattern (or
    topic) in released encounters discharged before vs after the completion date, with the
    pooled two-proportion z-test. One query: four correlated counts per assignment."""
    enc = Encounter.objects.filter(
        organization=organization,
        released_at__isnull=False,
        coder=OuterRef("coder"),
    )
    hit = (
        counted_findings(organization=organization)
        .filter(encounter=OuterRef("pk"))
        .filter(
            (~Q(pattern="") & Q(pattern=OuterRef(OuterRef("pattern_key"))))
            | (~Q(topic="") & Q(topic=OuterRef(OuterRef("topic"))))
        )
    )

    def count(q: Q, with_hit: bool) -> Coalesce:
        sub = enc.filter(q)
        if with_hit:
            sub = sub.filter(Exists(hit))
        return Coalesce(Subquery(sub.values("coder").annotate(n=Count("pk")).values("n")[:1]), 0)

    before = Q(discharge_date__lt=OuterRef("completed_on"))
    after = Q(discharge_date__gt=OuterRef("completed_on"))
    rows = (
        _assignments(organization, coder)
        .filter(completed_at__isnull=False)
        .annotate(completed_on=TruncDate("completed_at"))
        .annotate(
            before_n=count(before, False),
            before_hit=count(before, True),
            after_n=count(after, False),
            after_hit=count(after, True),
        )
        .values("pk", "before_n", "before_hit", "after_n", "after_hit")
    )
    return {
        r["pk"]: Effectiveness(
            before=Proportion(r["before_hit"], r["before_n"]),
            after=Proportion(r["after_hit"], r["after_n"]),
            test=two_proportion_z_test(
                r["before_hit"], r["before_n"], r["after_hit"], r["after_n"]
            ),
        )
        for r in rows
    }


# --------------------------------------------------------------------------- drill-down


@dataclass(frozen=True, slots=True)
class Drill:
    """What a chart mark stands for, on top of the dashboard's filters: the findings behind
    it. "" / False means no constraint."""

    cycle: str = ""
    pattern: str = ""
    topic: str = ""
    kind: str = ""
    group: str = ""
    root_cause: str = ""
    repeat: bool = False  # only §8 repeat findings
    disputed: bool = False  # released findings the coder disputed (decided or not)
    overturned: bool = False  # findings overturned on dispute


def drill_findings(
    *, organization: Organization, filters: MetricFilters, drill: Drill
) -> QuerySet[Finding]:
    """The findings behind a chart mark. The §8 counted findings, except for dispute marks,
    which start from every released finding (an overturned one is not counted)."""
    if drill.disputed or drill.overturned:
        qs = released_findings(organization=organization, filters=filters)
        if drill.disputed:
            qs = qs.filter(
                Exists(FindingEvent.objects.filter(finding=OuterRef("pk"), kind=K.DISPUTE))
            )
        if drill.overturned:
            qs = qs.filter(Q(decision=OVERTURNED) | Q(status=S.OVERTURNED))
    else:
        qs = _scoped_findings(organization, filters)
    for field, lookup in (
        ("cycle", "encounter__cycle"),
        ("pattern", "pattern"),
        ("topic", "topic"),
        ("kind", "kind"),
        ("group", "group"),
        ("root_cause", "root_cause"),
    ):
        value = getattr(drill, field)
        if value:
            qs = qs.filter(**{lookup: value})
    if drill.repeat:
        qs = with_repeats(qs, organization=organization).filter(Q(is_repeat=True))
    return qs.select_related(
        "encounter", "encounter__coder", "encounter__audit", "encounter__provider"
    ).order_by("-encounter__cycle", "encounter__external_id", "position")


# --------------------------------------------------------------------------- saved views


def dashboard_views(*, organization: Organization, user: Any) -> QuerySet[DashboardView]:
    """The views a member may open: their own and those shared with the organization."""
    return (
        DashboardView.objects.filter(organization=organization)
        .filter(Q(owner=user) | Q(shared=True))
        .select_related("owner")
        .order_by("name", "pk")
    )
