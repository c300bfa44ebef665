"""The SQL metrics of analytics.selectors equal the plain-Python reference of
engine.metrics on the same rows: hand-picked cases and hypothesis-generated worlds."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditcoach.accounts.models import Coder, Organization
from auditcoach.analytics import selectors
from auditcoach.analytics.selectors import MetricFilters
from auditcoach.audits.models import Audit, Encounter, Finding
from auditcoach.coaching.models import FindingEvent
from auditcoach.education.models import EducationAssignment
from auditcoach.engine import metrics
from auditcoach.engine.metrics import (
    AssignmentRow,
    DisputeRow,
    EncounterRow,
    FindingRow,
    ResolutionRow,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)
TODAY = date(2026, 4, 1)
# "2026Q2" sorts after "2026-Q4" in plain character order ('-' < 'Q') but not under a
# natural-language collation that ignores punctuation: the SQL must sort like Python.
CYCLES = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2026Q2"]
CODERS = ["ana", "ana", "ben", "cy", None]
PATTERNS = ["ADDED:DX:E87", "REVISED:DX:I50", "DRG_CHANGED:-:-"]
STATUSES = [s.value for s in Finding.Status]


@dataclass
class F:
    pattern: str
    topic: str
    status: str
    active: bool
    response_h: int | None = None  # hours after release of the first answer
    disputed: bool = False
    decision: str = ""
    close_h: int | None = None
    release_h: int = 0  # hours after T0


@dataclass
class E:
    coder: str | None
    cycle: str
    released: bool
    codes: int
    errors: int
    auditor: str = "raj"
    payer: str = ""
    day: int = 0  # discharge day in March 2026
    findings: list[F] = field(default_factory=list)


@dataclass
class A:
    coder: str
    pattern: str
    topic: str
    due_day: int  # day of March/April (offset from 2026-03-01)
    completed_day: int | None


finding_st = st.builds(
    F,
    pattern=st.sampled_from(PATTERNS),
    topic=st.sampled_from(["", "", "t1", "t2"]),
    # weighted towards findings that count, so repeats (and their edge cases) are common
    status=st.one_of(st.sampled_from(["released", "agreed", "closed"]), st.sampled_from(STATUSES)),
    active=st.sampled_from([True, True, True, False]),
    response_h=st.one_of(st.none(), st.integers(0, 400)),
    disputed=st.booleans(),
    decision=st.sampled_from(["", "upheld", "overturned", "modified"]),
    close_h=st.one_of(st.none(), st.integers(0, 800)),
    release_h=st.integers(0, 700),
)
encounter_st = st.builds(
    E,
    coder=st.sampled_from(CODERS),
    cycle=st.sampled_from(CYCLES),
    released=st.sampled_from([True, True, True, False]),
    codes=st.integers(0, 6),
    errors=st.integers(0, 6),
    auditor=st.sampled_from(["raj", "kim"]),
    payer=st.sampled_from(["", "Medicare"]),
    day=st.integers(0, 30),
    findings=st.lists(finding_st, max_size=3),
)


@st.composite
def worlds(draw: st.DrawFn) -> list[E]:
    """A few encounters for each (coder, cycle), so every coder has a cycle history."""
    out: list[E] = []
    for coder in ("ana", "ben", None):
        for label in CYCLES:
            for e in draw(st.lists(encounter_st, max_size=2)):
                e.coder, e.cycle = coder, label
                out.append(e)
    return out


assignment_st = st.builds(
    A,
    coder=st.sampled_from(["ana", "ben"]),
    pattern=st.sampled_from(["", *PATTERNS]),
    topic=st.sampled_from(["", "t1"]),
    due_day=st.integers(0, 45),
    completed_day=st.one_of(st.none(), st.integers(0, 45)),
)


# --------------------------------------------------------------------------- building rows


def build(org: Organization, encounters: list[E], assignments: list[A] | None = None) -> None:
    audit = Audit.objects.create(organization=org, name="a", cycle="2026-Q1")
    coders = {
        name: Coder.objects.create(organization=org, name=name) for name in ("ana", "ben", "cy")
    }
    for i, e in enumerate(encounters):
        errors = min(e.errors, e.codes)
        enc = Encounter.objects.create(
            organization=org,
            audit=audit,
            external_id=f"E{i}",
            setting="outpatient",
            discharge_date=date(2026, 3, 1) + timedelta(days=e.day),
            coder=coders[e.coder] if e.coder else None,
            auditor_name=e.auditor,
            payer=e.payer,
            cycle=e.cycle,
            released_at=T0 if e.released else None,
            # codes and errors spread over the three groups and the three error parts
            dx_audited=e.codes // 2,
            px_audited=e.codes - e.codes // 2 - min(1, e.codes - e.codes // 2),
            line_audited=min(1, e.codes - e.codes // 2),
            dx_added=errors // 3,
            px_revised=errors // 3,
            line_line_errors=errors - 2 * (errors // 3),
        )
        for j, f in enumerate(e.findings):
            released_at = None if f.status == "draft" else T0 + timedelta(hours=f.release_h)
            row = Finding.objects.create(
                organization=org,
                encounter=enc,
                position=j,
                kind=f.pattern.split(":")[0],
                group=f.pattern.split(":")[1],
                pattern=f.pattern,
                topic=f.topic,
                status=f.status,
                active=f.active,
                released_at=released_at,
            )
            base = released_at or T0

            def event(
                kind: str, hours: int, to: str = "", row: Finding = row, base: datetime = base
            ) -> None:
                FindingEvent.objects.create(
                    organization=org, finding=row, kind=kind, at=base + timedelta(hours=hours),
                    to_status=to,
                )  # fmt: skip

            if f.response_h is not None:
                event("dispute" if f.disputed else "agree", f.response_h)
                if f.disputed and f.decision:
                    event("decide", f.response_h + 1, f.decision)
            if f.close_h is not None:
                event("close", f.close_h)
    start = date(2026, 3, 1)
    for a in assignments or []:
        if not (a.pattern or a.topic):
            continue
        EducationAssignment.objects.create(
            organization=org,
            coder=coders[a.coder],
            pattern_key=a.pattern,
            topic=a.topic,
            resource_title="r",
            assigned_at=T0,
            due_date=start + timedelta(days=a.due_day),
            status="completed" if a.completed_day is not None else "assigned",
            completed_at=None if a.completed_day is None else T0 + timedelta(days=a.completed_day),
            attestation=a.completed_day is not None,
        )


def reference_rows(org: Organization) -> tuple[list[EncounterRow], list[FindingRow]]:
    encounters = [
        EncounterRow(
            key=e.pk,
            coder=e.coder.name if e.coder else None,
            cycle=e.cycle,
            released=e.released_at is not None,
            audited_codes=e.dx_audited + e.px_audited + e.line_audited,
            code_errors=sum(
                getattr(e, f"{g}_{p}") for g in ("dx", "px", "line")
                for p in ("added", "revised", "line_errors")
            ),
            discharge_date=e.discharge_date,
            auditor=e.auditor_name,
        )
        for e in Encounter.objects.filter(organization=org).select_related("coder")
    ]  # fmt: skip
    findings = [
        FindingRow(
            key=f.pk, encounter=f.encounter_id, pattern=f.pattern, topic=f.topic,
            status=f.status, active=f.active, kind=f.kind,
        )
        for f in Finding.objects.filter(organization=org)
    ]  # fmt: skip
    return encounters, findings


def scope_of(org: Organization, filters: MetricFilters) -> set[int]:
    out = set()
    for e in Encounter.objects.filter(organization=org).select_related("coder"):
        if filters.coder and (e.coder is None or e.coder.name != filters.coder):
            continue
        if filters.auditor and e.auditor_name != filters.auditor:
            continue
        if filters.payer and e.payer != filters.payer:
            continue
        if filters.cycle_from and e.cycle < filters.cycle_from:
            continue
        if filters.cycle_to and e.cycle > filters.cycle_to:
            continue
        out.add(e.pk)
    return out


def released_finding_rows(org: Organization, scope: set[int]) -> list[Finding]:
    return [
        f
        for f in Finding.objects.filter(organization=org).select_related("encounter")
        if f.encounter.released_at is not None
        and f.encounter_id in scope
        and f.released_at is not None
        and f.status != "draft"
        and (
            f.active
            or f.status == "overturned"
            or FindingEvent.objects.filter(
                finding=f, kind="decide", to_status="overturned"
            ).exists()
        )
    ]


def events(f: Finding, *kinds: str) -> list[FindingEvent]:
    return list(FindingEvent.objects.filter(finding=f, kind__in=kinds).order_by("at", "pk"))


NO_FILTERS = MetricFilters()


def check_all(org: Organization, filters: MetricFilters = NO_FILTERS) -> None:
    encounters, findings = reference_rows(org)
    scope = scope_of(org, filters)
    # the cycle report
    expected = metrics.cycle_report(encounters, findings, scope=scope)
    assert selectors.cycle_report(organization=org, filters=filters) == expected
    # time to resolution
    released = released_finding_rows(org, scope)
    rows = []
    for f in released:
        assert f.released_at is not None
        first = events(f, "agree", "dispute")
        close = events(f, "close")
        rows.append(
            ResolutionRow(
                released_at=f.released_at,
                first_response_at=first[0].at if first else None,
                closed_at=close[0].at if close else None,
                open=f.active and f.status in metrics.OPEN_STATUSES,
            )
        )
    got = selectors.resolution(organization=org, now=NOW, filters=filters)
    assert got == metrics.resolution(rows, sla_days=org.response_sla_days, now=NOW)
    # disputes
    dispute_rows = []
    for f in released:
        decisions = events(f, "decide")
        dispute_rows.append(
            DisputeRow(
                auditor=f.encounter.auditor_name,
                kind=f.kind,
                disputed=bool(events(f, "dispute")),
                decision=decisions[-1].to_status if decisions else "",
            )
        )
    for by in ("auditor", "kind"):
        assert selectors.dispute_rates_by(
            organization=org, by=by, filters=filters
        ) == metrics.dispute_rates_by(dispute_rows, by)


def assignment_rows(org: Organization) -> dict[int, AssignmentRow]:
    return {
        a.pk: AssignmentRow(
            coder=a.coder.name,
            due_date=a.due_date,
            assigned_on=timezone.localdate(a.assigned_at),
            completed_on=timezone.localdate(a.completed_at) if a.completed_at else None,
            pattern=a.pattern_key,
            topic=a.topic,
        )
        for a in EducationAssignment.objects.filter(organization=org).select_related("coder")
    }


def check_education(org: Organization) -> None:
    encounters, findings = reference_rows(org)
    rows = assignment_rows(org)
    assert selectors.engagement(organization=org, today=TODAY) == metrics.engagement(
        rows.values(), today=TODAY
    )
    expected = {
        pk: metrics.effectiveness(a, encounters, findings)
        for pk, a in rows.items()
        if a.completed_on is not None
    }
    assert selectors.effectiveness(organization=org) == expected


# --------------------------------------------------------------------------- hand-picked


def test_repeat_by_topic_and_coder_cycle_list(org: Organization) -> None:
    # ana: Q1 (topic t1, pattern X), Q2 unreleased only, Q3 (topic t1, pattern Y): Q2 is not
    # in ana's list (nothing released), so Q1 is one back and the topic matches → repeat.
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, findings=[F("ADDED:DX:E87", "t1", "released", True)]),
            E("ana", "2026-Q2", False, 2, 1, findings=[F("ADDED:DX:E87", "", "draft", True)]),
            E("ana", "2026-Q3", True, 2, 1, findings=[F("REVISED:DX:I50", "t1", "agreed", True)]),
            E("ana", "2026-Q4", True, 2, 0, findings=[F("REVISED:DX:I50", "", "closed", True)]),
        ],
    )
    report = selectors.cycle_report(organization=org)
    assert [(c.cycle, c.findings, c.repeat_findings) for c in report.cycles] == [
        ("2026-Q1", 1, 0),
        ("2026-Q3", 1, 1),  # topic t1 matches Q1's
        ("2026-Q4", 1, 1),  # pattern matches Q3's
    ]
    check_all(org)


def test_draft_and_withdrawn_findings_do_not_count(org: Organization) -> None:
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, findings=[F("ADDED:DX:E87", "", "released", False)]),
            E("ana", "2026-Q2", True, 2, 1, findings=[F("ADDED:DX:E87", "", "draft", True)]),
            E("ana", "2026-Q3", True, 2, 1, findings=[F("ADDED:DX:E87", "", "agreed", True)]),
        ],
    )
    report = selectors.cycle_report(organization=org)
    assert [(c.findings, c.repeat_findings) for c in report.cycles] == [(0, 0), (0, 0), (1, 0)]
    check_all(org)


def test_filters_keep_the_coders_whole_history_for_repeats(org: Organization) -> None:
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, "kim", findings=[F("ADDED:DX:E87", "", "released", True)]),
            E("ana", "2026-Q2", True, 2, 1, "raj", findings=[F("ADDED:DX:E87", "", "released", True)]),
        ],
    )  # fmt: skip
    only_raj = MetricFilters(auditor="raj")
    report = selectors.cycle_report(organization=org, filters=only_raj)
    assert [(c.cycle, c.repeat_findings) for c in report.cycles] == [("2026-Q2", 1)]
    check_all(org, only_raj)
    check_all(org, MetricFilters(cycle_from="2026-Q2"))


def test_cycle_report_is_two_queries(org: Organization, django_assert_num_queries: Any) -> None:
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, findings=[F("ADDED:DX:E87", "", "released", True)]),
            E("ben", "2026-Q2", True, 2, 1, findings=[F("ADDED:DX:E87", "", "released", True)]),
            E("ana", "2026-Q2", True, 2, 1, findings=[F("ADDED:DX:E87", "", "released", True)]),
        ],
    )
    with django_assert_num_queries(2):
        report = selectors.cycle_report(organization=org)
    assert sum(c.repeat_findings for c in report.cycles) == 1


def test_resolution_hand_worked(org: Organization) -> None:
    # Three released findings: answered after 10 h and 200 h (SLA 7 days = 168 h), one
    # never answered. Open: the unanswered one and the disputed one (awaiting a decision),
    # both released at T0, i.e. 31 days before NOW: overdue, in the 31+ bucket.
    build(
        org,
        [
            E("ana", "2026-Q1", True, 3, 1, findings=[
                F("ADDED:DX:E87", "", "agreed", True, response_h=10),
                F("ADDED:DX:E87", "", "disputed", True, response_h=200, disputed=True),
                F("REVISED:DX:I50", "", "released", True),
            ]),
        ],
    )  # fmt: skip
    got = selectors.resolution(organization=org, now=NOW)
    assert got.responded == 2
    assert got.response_median_hours == 10.0  # nearest rank ⌈0.5·2⌉ = 1
    assert got.response_p90_hours == 200.0  # ⌈0.9·2⌉ = 2
    assert got.within_sla.successes == 1
    assert got.within_sla.n == 3  # the open one is past the SLA: its outcome is known
    assert (got.open, got.overdue) == (2, 2)
    assert got.ageing == {"0-7": 0, "8-14": 0, "15-30": 0, "31+": 2}
    check_all(org)


def test_education_hand_worked(org: Organization) -> None:
    # ana completed education on E87 on day 10; before: 2 encounters, 1 with E87;
    # after: 2 encounters, none with it.
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, day=2, findings=[F("ADDED:DX:E87", "", "released", True)]),
            E("ana", "2026-Q1", True, 2, 0, day=5),
            E("ana", "2026-Q2", True, 2, 0, day=20),
            E("ana", "2026-Q2", True, 2, 1, day=25, findings=[F("REVISED:DX:I50", "", "released", True)]),
        ],
        [A("ana", "ADDED:DX:E87", "", 12, 9), A("ana", "REVISED:DX:I50", "", 5, None)],
    )  # fmt: skip
    eff = list(selectors.effectiveness(organization=org).values())
    assert len(eff) == 1
    assert (eff[0].before.successes, eff[0].before.n) == (1, 2)
    assert (eff[0].after.successes, eff[0].after.n) == (0, 2)
    assert eff[0].test is not None
    eng = selectors.engagement(organization=org, today=TODAY)
    assert (eng.on_time.successes, eng.on_time.n, eng.overdue) == (1, 2, 1)
    assert eng.median_days_to_complete == 9.0
    check_education(org)


# --------------------------------------------------------------------------- generated


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    encounters=worlds(),
    assignments=st.lists(assignment_st, max_size=4),
    filters=st.sampled_from(
        [
            MetricFilters(),
            MetricFilters(coder="ana"),
            MetricFilters(auditor="kim"),
            MetricFilters(payer="Medicare", coder="ben"),
            MetricFilters(cycle_from="2026-Q2", cycle_to="2026-Q4"),
        ]
    ),
)
def test_sql_equals_reference(
    org: Organization, encounters: list[E], assignments: list[A], filters: MetricFilters
) -> None:
    with transaction.atomic():
        build(org, encounters, assignments)
        check_all(org, filters)
        check_education(org)
        transaction.set_rollback(True)


# --------------------------------------------------------------------------- set-based SQL


def test_latest_decision_wins_and_ties_go_to_the_later_event(org: Organization) -> None:
    # Two disputed findings, each decided twice: the latest decision counts. For the second
    # the two decisions share a timestamp, so the later event (higher id) is the latest.
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 2, findings=[
                F("ADDED:DX:E87", "", "upheld", True, response_h=1, disputed=True),
                F("REVISED:DX:I50", "", "upheld", True, response_h=1, disputed=True),
            ]),
        ],
    )  # fmt: skip
    first, second = Finding.objects.filter(organization=org).order_by("position")
    for finding, hours in ((first, 3), (second, 2)):
        for to in ("overturned", "upheld"):
            FindingEvent.objects.create(
                organization=org, finding=finding, kind="decide", to_status=to,
                at=T0 + timedelta(hours=2 if to == "overturned" else hours),
            )  # fmt: skip
    rates = selectors.dispute_rates_by(organization=org, by="auditor")
    assert (rates["raj"].overturn.successes, rates["raj"].overturn.n) == (0, 2)
    assert (rates["raj"].dispute.successes, rates["raj"].dispute.n) == (2, 2)
    check_all(org)


def test_repeats_look_back_exactly_two_of_the_coders_cycles(org: Organization) -> None:
    # ana: E87 in Q1 only; Q2, Q3 and Q4 have other findings. E87 again in 2026Q2 (which
    # sorts after 2026-Q4): Q1 is four of ana's cycles back, so not a repeat; ben's E87 in
    # Q3 is another coder's. I50 in Q4 repeats Q2's (two back); 2026Q2's I50 repeats Q4's.
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, findings=[F("ADDED:DX:E87", "", "released", True)]),
            E("ana", "2026-Q2", True, 2, 1, findings=[F("REVISED:DX:I50", "", "released", True)]),
            E("ana", "2026-Q3", True, 2, 1, findings=[F("DRG_CHANGED:-:-", "", "agreed", True)]),
            E("ben", "2026-Q3", True, 2, 1, findings=[F("ADDED:DX:E87", "", "agreed", True)]),
            E("ana", "2026-Q4", True, 2, 1, findings=[F("REVISED:DX:I50", "", "agreed", True)]),
            E("ana", "2026Q2", True, 2, 2, findings=[
                F("ADDED:DX:E87", "", "released", True),
                F("REVISED:DX:I50", "", "released", True),
            ]),
        ],
    )  # fmt: skip
    report = selectors.cycle_report(organization=org)
    ana = dict(report.coders)["ana"]
    assert [(c.cycle, c.findings, c.repeat_findings) for c in ana.cycles] == [
        ("2026-Q1", 1, 0),
        ("2026-Q2", 1, 0),
        ("2026-Q3", 1, 0),
        ("2026-Q4", 1, 1),
        ("2026Q2", 2, 1),
    ]
    repeats = selectors.drill_findings(
        organization=org, filters=NO_FILTERS, drill=selectors.Drill(repeat=True)
    )
    assert sorted((f.encounter.cycle, f.pattern) for f in repeats) == [
        ("2026-Q4", "REVISED:DX:I50"),
        ("2026Q2", "REVISED:DX:I50"),
    ]
    check_all(org)
    check_all(org, MetricFilters(cycle_from="2026-Q4"))


def test_metric_selectors_run_a_fixed_number_of_queries(
    org: Organization, django_assert_num_queries: Any
) -> None:
    # Set-based: the number of queries does not depend on the rows (no per-row work).
    build(
        org,
        [
            E("ana", "2026-Q1", True, 2, 1, day=2, findings=[
                F("ADDED:DX:E87", "", "closed", True, response_h=5, close_h=9),
                F("REVISED:DX:I50", "t1", "upheld", True, response_h=7, disputed=True,
                  decision="upheld", close_h=30),
            ]),
            E("ana", "2026-Q2", True, 2, 1, day=20, findings=[
                F("ADDED:DX:E87", "t1", "released", True),
            ]),
        ],
        [A("ana", "ADDED:DX:E87", "", 12, 9), A("ana", "", "t1", 12, 10)],
    )  # fmt: skip
    with django_assert_num_queries(1):  # the totals and the nearest ranks together
        selectors.resolution(organization=org, now=NOW)
    with django_assert_num_queries(1):
        selectors.dispute_rates_by(organization=org, by="kind")
    with django_assert_num_queries(1):
        selectors.effectiveness(organization=org)
    check_all(org)
    check_education(org)
