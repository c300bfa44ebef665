"""DESIGN §8 metrics computed by the database, always starting from the organization.

Each selector aggregates in SQL and hands the small per-group rows to the plain rules of
`auditcoach.engine.metrics` / `engine.stats`; no Python loop runs over finding or encounter
rows. The queries are set-based: grouped joins, uncorrelated `IN` sets and window functions
over whole tables (raw SQL with CTEs where the ORM cannot say it: repeats, nearest ranks,
education effectiveness), never a subquery evaluated once per finding or encounter.
`tests/analytics` checks every selector against the engine's plain-Python reference on the
same data, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.expressions import Combinable, RawSQL
from django.db.models.functions import Collate, RowNumber, TruncDate

from auditcoach.accounts.models import Organization
from auditcoach.analytics.models import DashboardView
from auditcoach.audits.models import Audit, Encounter, Finding
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
    # Released, and not in an archived audit (archived audits count nowhere, docs/audits.md).
    q = Q(**{f"{prefix}released_at__isnull": False, f"{prefix}audit__archived_at__isnull": True})
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
        organization=organization,
        active=True,
        encounter__released_at__isnull=False,
        encounter__audit__archived_at__isnull=True,
    ).exclude(status__in=[S.DRAFT, S.OVERTURNED])


def _scoped_findings(organization: Organization, filters: MetricFilters) -> QuerySet[Finding]:
    qs = counted_findings(organization=organization).filter(_encounter_q(filters, "encounter__"))
    return _cycle_bounds(qs, filters, "encounter__cycle")


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _not_archived(alias: str) -> str:
    """Raw SQL: the encounter `alias` is not in an archived audit (see `_encounter_q`)."""
    return f"{alias}.audit_id NOT IN (SELECT id FROM {_table(Audit)} WHERE archived_at IS NOT NULL)"


def _c_collation() -> str:
    # Plain character order for cycle labels in raw SQL (see `_collated`).
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _repeat_ids(organization: Organization) -> RawSQL:
    """The primary keys of the organization's repeat findings (DESIGN §8), set-based.

    Each coder's cycle list is dense-ranked (plain character order) over the distinct
    cycles of the coder's released encounters; every counted finding carries the rank of
    its cycle. A (coder, rank, pattern) seen at rank r is "seen" at ranks r + 1 and r + 2,
    and likewise for non-empty topics; a counted finding is a repeat when its own (coder,
    rank, pattern) or (coder, rank, topic) was seen (semi-joins: no DISTINCT needed; an id
    may appear twice, which `IN (…)` ignores). Over the coder's whole history: the caller
    narrows the findings it reports, never the priors.
    """
    enc, fnd = _table(Encounter), _table(Finding)
    # `cf` is `counted_findings`, inlined (with the coder and the rank of the cycle).
    sql = f"""
        WITH ranks AS (
            SELECT d.coder_id, d.cycle,
                   DENSE_RANK() OVER (PARTITION BY d.coder_id ORDER BY d.cycle{_c_collation()}) AS rk
            FROM (
                SELECT DISTINCT coder_id, cycle FROM {enc} AS e0
                WHERE organization_id = %s AND released_at IS NOT NULL AND coder_id IS NOT NULL
                  AND {_not_archived("e0")}
            ) AS d
        ),
        cf AS (
            SELECT f.id, r.coder_id, r.rk, f.pattern, f.topic
            FROM {fnd} AS f
            JOIN {enc} AS e ON e.id = f.encounter_id
            JOIN ranks AS r ON r.coder_id = e.coder_id AND r.cycle = e.cycle
            WHERE f.organization_id = %s AND f.active = %s AND f.status NOT IN (%s, %s)
              AND e.released_at IS NOT NULL AND {_not_archived("e")}
        ),
        seen_p AS (
            SELECT coder_id, rk + 1 AS rk, pattern FROM cf
            UNION ALL SELECT coder_id, rk + 2 AS rk, pattern FROM cf
        ),
        seen_t AS (
            SELECT coder_id, rk + 1 AS rk, topic FROM cf WHERE topic <> ''
            UNION ALL SELECT coder_id, rk + 2 AS rk, topic FROM cf WHERE topic <> ''
        )
        SELECT cf.id FROM cf WHERE EXISTS (
            SELECT 1 FROM seen_p AS s
            WHERE s.coder_id = cf.coder_id AND s.rk = cf.rk AND s.pattern = cf.pattern
        )
        UNION ALL
        SELECT cf.id FROM cf WHERE cf.topic <> '' AND EXISTS (
            SELECT 1 FROM seen_t AS s
            WHERE s.coder_id = cf.coder_id AND s.rk = cf.rk AND s.topic = cf.topic
        )
    """
    return RawSQL(sql, (organization.pk, organization.pk, True, S.DRAFT, S.OVERTURNED))


def with_repeats(qs: QuerySet[Finding], *, organization: Organization) -> QuerySet[Finding]:
    """Annotate `is_repeat` (DESIGN §8) on counted findings: membership in the
    organization's repeat set (`_repeat_ids`), one uncorrelated subquery."""
    return qs.annotate(is_repeat=Q(pk__in=_repeat_ids(organization)))


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
    # An uncorrelated IN (one hashed pass over the decide events), not a per-row EXISTS.
    overturned = Q(
        pk__in=FindingEvent.objects.filter(
            organization=organization, kind=K.DECIDE, to_status=OVERTURNED
        ).values("finding_id")
    )
    qs = (
        Finding.objects.filter(organization=organization, released_at__isnull=False)
        .exclude(status=S.DRAFT)
        .filter(Q(active=True) | Q(status=S.OVERTURNED) | overturned)
        .filter(_encounter_q(filters, "encounter__"))
    )
    return _cycle_bounds(qs, filters, "encounter__cycle")


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
    # The first answer and the first close per finding: one grouped join over the events
    # (MIN of `at`, as the first event ordered by `at`), no correlated subquery.
    qs = released_findings(organization=organization, filters=filters).annotate(
        responded_at=Min("events__at", filter=Q(events__kind__in=[K.AGREE, K.DISPUTE])),
        closed_at=Min("events__at", filter=Q(events__kind=K.CLOSE)),
    )
    qs = qs.annotate(
        to_response=ExpressionWrapper(F("responded_at") - F("released_at"), DurationField()),
        to_close=ExpressionWrapper(F("closed_at") - F("released_at"), DurationField()),
    )
    is_open = Q(status__in=list(OPEN_STATUSES), active=True)
    conditions: dict[str, Q] = {
        "responded": Q(responded_at__isnull=False),
        "closed": Q(closed_at__isnull=False),
        "in_time": Q(responded_at__isnull=False, to_response__lte=sla),
        "known": Q(responded_at__isnull=False) | Q(released_at__lt=now - sla),
        "open": is_open,
        "overdue": is_open & Q(released_at__lte=now - timedelta(days=sla_days + 1)),
    }
    labels = []
    for i, (lo, hi) in enumerate(AGEING_BUCKETS):
        q = is_open
        if i > 0:
            q &= Q(released_at__lte=now - timedelta(days=lo))
        if hi is not None:
            q &= Q(released_at__gt=now - timedelta(days=hi + 1))
        labels.append(bucket_label(lo, hi))
        conditions[labels[-1]] = q
    totals, ranks = _totals_and_ranks(
        qs, conditions, {"to_response": "responded", "to_close": "closed"}, (0.5, 0.9)
    )
    return Resolution(
        responded=totals["responded"],
        response_median_hours=_hours(ranks[("to_response", 0.5)]),
        response_p90_hours=_hours(ranks[("to_response", 0.9)]),
        within_sla=Proportion(totals["in_time"], totals["known"]),
        closed=totals["closed"],
        close_median_hours=_hours(ranks[("to_close", 0.5)]),
        close_p90_hours=_hours(ranks[("to_close", 0.9)]),
        open=totals["open"],
        overdue=totals["overdue"],
        ageing={label: totals[label] for label in labels},
    )


def _totals_and_ranks(
    qs: QuerySet[Any],
    conditions: dict[str, Q],
    durations: dict[str, str],
    quantiles: tuple[float, ...],
) -> tuple[dict[str, int], dict[tuple[str, float], timedelta | None]]:
    """One statement over the per-finding rows of `qs` (computed once, a CTE): the number
    of rows meeting each condition, and the nearest-rank quantiles of each duration
    annotation (`durations`: field → the condition counting its non-null values). The
    durations are numbered with ROW_NUMBER() OVER (ORDER BY value, pk); only the rows
    within 2 of q·n come back, and the rank ⌈q·n⌉ is picked here, as `nearest_rank` does."""
    quote = connection.ops.quote_name
    flags = {
        f"_t{i}": Case(When(q, then=Value(1)), default=Value(0), output_field=IntegerField())
        for i, q in enumerate(conditions.values())
    }
    columns = {f"_d{i}": F(field) for i, field in enumerate(durations)}
    inner, params = (qs.order_by().values(_pk=F("pk"), **columns, **flags).query).sql_with_params()
    sums = ", ".join(f"SUM(d.{quote(name)})" for name in flags)
    near = " OR ".join(["(x.rn BETWEEN %s * x.n - 2 AND %s * x.n + 2)"] * len(quantiles))
    near_params = [v for q in quantiles for v in (q, q)]
    parts, part_params = [], []
    for i, col in enumerate(columns):
        parts.append(
            f"SELECT {i} AS which, x.rn, x.v FROM ("
            f"SELECT d.{quote(col)} AS v, COUNT(*) OVER () AS n, "
            f"ROW_NUMBER() OVER (ORDER BY d.{quote(col)}, d.{quote('_pk')}) AS rn "
            f"FROM d WHERE d.{quote(col)} IS NOT NULL) AS x WHERE {near}"
        )
        part_params += near_params
    sql = (
        f"WITH d AS ({inner}), t AS (SELECT {sums} FROM d), "
        f"r AS ({' UNION ALL '.join(parts)}) "
        f"SELECT t.*, r.which, r.rn, r.v FROM t LEFT JOIN r ON 1 = 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *part_params])
        rows = cursor.fetchall()
    totals = {name: rows[0][i] or 0 for i, name in enumerate(conditions)}
    found = {(row[-3], row[-2]): row[-1] for row in rows if row[-3] is not None}
    ranks: dict[tuple[str, float], timedelta | None] = {}
    for i, (field, count) in enumerate(durations.items()):
        n = totals[count]
        for q in quantiles:
            value = found[(i, _rank_k(n, q))] if n else None
            # SQLite returns a duration as microseconds (Django's `django_timestamp_diff`).
            ranks[(field, q)] = timedelta(microseconds=value) if isinstance(value, int) else value
    return totals, ranks


def _rank_k(n: int, q: float) -> int:
    return max(1, math.ceil(q * n - 1e-12))


# --------------------------------------------------------------------------- disputes


def dispute_rates_by(
    *, organization: Organization, by: str, filters: MetricFilters = MetricFilters()
) -> dict[str, DisputeRates]:
    """Dispute and overturn rates per `auditor` (the encounter's auditor name) or per
    `kind`: disputed / released, overturned / decided disputes."""
    key = {"auditor": "encounter__auditor_name", "kind": "kind"}[by]
    # Three uncorrelated sets of finding ids, each one pass over the events (hashed `IN`):
    # ever disputed; with a decision; whose latest decision (by `at`, then id) overturned.
    events = FindingEvent.objects.filter(organization=organization)
    disputed = Q(pk__in=events.filter(kind=K.DISPUTE).values("finding_id"))
    decided = Q(pk__in=events.filter(kind=K.DECIDE).values("finding_id"))
    latest = events.filter(kind=K.DECIDE).annotate(
        latest=Window(
            RowNumber(), partition_by=[F("finding_id")], order_by=[F("at").desc(), F("pk").desc()]
        )
    )
    # (the window filter first, then the status: a status filter beside the window filter
    # would be applied before the numbering)
    overturned = Q(
        pk__in=events.filter(
            pk__in=latest.filter(latest=1).values("pk"), to_status=OVERTURNED
        ).values("finding_id")
    )
    rows = (
        released_findings(organization=organization, filters=filters)
        .values(key)
        .annotate(
            released=Count("pk"),
            n_disputed=Count("pk", filter=disputed),
            decided=Count("pk", filter=disputed & decided),
            overturned=Count("pk", filter=disputed & overturned),
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
    pooled two-proportion z-test.

    One set-based query: the completed assignments (`a`, with the completion date in the
    site's time zone) joined once to their coder's released encounters, and to `hit`, the
    distinct (assignment, encounter) pairs where the encounter has a counted finding of the
    assignment's pattern (or non-empty topic); conditional sums count before and after.
    """
    assignments, a_params = (
        _assignments(organization, coder)
        .filter(completed_at__isnull=False)
        .order_by()
        .values(
            a_id=F("pk"),
            a_coder=F("coder_id"),
            a_on=TruncDate("completed_at"),
            a_pattern=F("pattern_key"),
            a_topic=F("topic"),
        )
        .query.sql_with_params()
    )
    enc, fnd = _table(Encounter), _table(Finding)
    sql = f"""
        WITH a AS ({assignments}),
        e AS (
            SELECT id, coder_id, discharge_date FROM {enc} AS e0
            WHERE organization_id = %s AND released_at IS NOT NULL
              AND coder_id IN (SELECT a_coder FROM a) AND {_not_archived("e0")}
        ),
        cf AS (
            SELECT f.encounter_id, e.coder_id, f.pattern, f.topic
            FROM {fnd} AS f JOIN e ON e.id = f.encounter_id
            WHERE f.organization_id = %s AND f.active = %s AND f.status NOT IN (%s, %s)
        ),
        hit AS (
            SELECT a.a_id, cf.encounter_id FROM a
            JOIN cf ON cf.coder_id = a.a_coder AND cf.pattern = a.a_pattern
            WHERE a.a_pattern <> ''
            UNION
            SELECT a.a_id, cf.encounter_id FROM a
            JOIN cf ON cf.coder_id = a.a_coder AND cf.topic = a.a_topic
            WHERE a.a_topic <> ''
        )
        SELECT a.a_id,
            SUM(CASE WHEN e.discharge_date < a.a_on THEN 1 ELSE 0 END),
            SUM(CASE WHEN e.discharge_date < a.a_on AND hit.a_id IS NOT NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN e.discharge_date > a.a_on THEN 1 ELSE 0 END),
            SUM(CASE WHEN e.discharge_date > a.a_on AND hit.a_id IS NOT NULL THEN 1 ELSE 0 END)
        FROM a
        LEFT JOIN e ON e.coder_id = a.a_coder
        LEFT JOIN hit ON hit.a_id = a.a_id AND hit.encounter_id = e.id
        GROUP BY a.a_id
    """
    params = (
        *a_params, organization.pk, organization.pk, True, S.DRAFT, S.OVERTURNED
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        pk: Effectiveness(
            before=Proportion(before_hit, before_n),
            after=Proportion(after_hit, after_n),
            test=two_proportion_z_test(before_hit, before_n, after_hit, after_n),
        )
        for pk, before_n, before_hit, after_n, after_hit in rows
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
        "encounter", "encounter__coder__user", "encounter__audit", "encounter__provider"
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
