"""Benchmark of the analytics dashboard on PostgreSQL against DuckDB (DESIGN §11, dashboards).

Prints, from one run on the same rows:
- the load: N released, audited encounters (with code lines, findings, coaching events and
  education assignments) written into a fresh PostgreSQL database with COPY;
- the dashboard's server time: `analytics:dashboard` fetched through Django's test Client as
  a signed-in manager (no network), median and P95 over `--runs` runs after a warm-up; when
  that URL does not resolve, the analytics selectors the dashboard calls;
- DuckDB (in memory) running the same aggregates as SQL over the same rows, copied from
  PostgreSQL, median and P95; its numbers are checked to EQUAL the selectors' numbers;
- the ratio dashboard / DuckDB at P95 and whether the §11 targets hold at that size
  (≤ 300 ms at P95 with 1M encounters, and ≤ 3× DuckDB).

The data is synthetic. A pool of encounters from `auditcoach.demo.generator` is compared by
the engine (no grouper: no DRG findings); each generated encounter copies one pool member's
code lines, findings and derived counts (so the tallies agree with the findings), with its
own coder (200), facility (10), auditor (8), cycle (12 quarters: 3 years) and release date.
Each coder leans on a few pool members of their own (a habit), which makes repeats. A
finding is agreed, disputed (then upheld, modified or overturned, some escalated) or still
unanswered, most are closed, with the coaching events that say so. An overturned finding is
inactive, as the app leaves it, but its encounter keeps the counts of its release (the app
would recompute them); both sides read the same rows, so the check is unaffected.

    uv run python bench/dashboard.py [--encounters 100000] [--runs 30] [--keep] [--duckdb-only]
                                     [--database-url postgres://postgres@127.0.0.1:5432/auditcoach_bench]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb
import psycopg

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/auditcoach_bench"
CODERS = 200
FACILITIES = 10
AUDITORS = 8
CYCLE_COUNT = 12
POOL = 4000
HABIT = 6  # pool members each coder leans on
HABIT_SHARE = 0.3


# --------------------------------------------------------------------------- database


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    from django.db import connections

    connections.close_all()
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


# --------------------------------------------------------------------------- data


def quarter_labels(today: date, count: int) -> list[str]:
    """The `count` calendar quarters before the current one, oldest first."""
    year, quarter = today.year, (today.month - 1) // 3 + 1
    labels = []
    for _ in range(count):
        quarter -= 1
        if quarter == 0:
            year, quarter = year - 1, 4
        labels.append(f"{year}-Q{quarter}")
    return labels[::-1]


def _text(value: object) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return s


class Table:
    """COPY of one model's rows in text format: every concrete column, with the model's
    defaults (Django's defaults are not database defaults), chunked."""

    def __init__(self, cursor: psycopg.Cursor[Any], model: Any, now: datetime) -> None:
        self.cursor = cursor
        self.table = model._meta.db_table
        self.columns: list[str] = []
        self.defaults: dict[str, object] = {}
        for f in model._meta.concrete_fields:
            value = f.get_default()
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            if isinstance(value, dict | list):
                value = json.dumps(value)
            self.columns.append(f.column)
            self.defaults[f.column] = value
        self.buffer = io.StringIO()
        self.pending = 0
        self.rows = 0

    def template(self, **values: object) -> dict[str, object]:
        return {**self.defaults, **values}

    def add(self, row: dict[str, object]) -> None:
        self.buffer.write("\t".join([_text(row[c]) for c in self.columns]))
        self.buffer.write("\n")
        self.pending += 1
        if self.pending >= 20_000:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        cols = ", ".join(f'"{c}"' for c in self.columns)
        with self.cursor.copy(f'COPY "{self.table}" ({cols}) FROM STDIN') as copy:
            copy.write(self.buffer.getvalue())
        self.rows += self.pending
        self.buffer = io.StringIO()
        self.pending = 0


def engine_pool(size: int, seed: int) -> list[dict[str, Any]]:
    """Pool members: derived counts, findings and code lines of demo encounters."""
    from auditcoach.audits.conversions import derived_fields
    from auditcoach.demo.generator import generate
    from auditcoach.engine.codes import format_modifiers
    from auditcoach.engine.compare import compare_encounter

    pool = []
    for e in generate(seed=seed, encounters_per_cycle=size // 4):
        result = compare_encounter(e)
        derived = derived_fields(result)
        derived["warnings"] = json.dumps(derived["warnings"])
        lines = [
            (version, line.system, line.group, line.seq, line.code, line.poa,
             format_modifiers(line.modifiers), line.units)
            for version, version_lines in (("original", e.original), ("audited", e.audited))
            for line in version_lines
        ]  # fmt: skip
        findings = [
            {
                "kind": f.kind,
                "group": f.group,
                "original_code": f.original or "",
                "audited_code": f.audited or "",
                "principal": f.principal,
                "pattern": f.pattern,
                "em_delta": f.em_delta,
                "original_value": f.original_value or "",
                "audited_value": f.audited_value or "",
                "original_rw": f.original_rw,
                "audited_rw": f.audited_rw,
            }
            for f in result.findings
        ]
        pool.append(
            {
                "setting": e.setting,
                "age": e.age,
                "sex": e.sex or "",
                "discharge_disposition": e.discharge_disposition or "",
                "audited_disposition": e.audited_disposition or "",
                "billed_drg": e.billed_drg or "",
                "payer": e.payer,
                **derived,
                "_lines": lines,
                "_findings": findings,
            }
        )
    return pool


def finding_story(
    rng: random.Random, released: datetime, now: datetime, latest: bool
) -> tuple[str, bool, str, list[tuple[str, datetime, str, str]]]:
    """(status, active, decision, events) of one released finding."""
    events = [("release", released, "draft", "released")]
    status, active, decision = "released", True, ""

    def later(t: datetime, median_hours: float) -> datetime:
        return t + timedelta(hours=rng.lognormvariate(math.log(median_hours), 1.0))

    r = rng.random()
    if r < (0.25 if latest else 0.03):
        return status, active, decision, events  # not answered (yet)
    if r < 0.85:
        t = later(released, 40)
        if t >= now:
            return status, active, decision, events
        events.append(("agree", t, "released", "agreed"))
        status = "agreed"
        if rng.random() < 0.8:
            t = later(t, 20)
            if t < now:
                events.append(("close", t, "agreed", "closed"))
                status = "closed"
        return status, active, decision, events
    t = later(released, 60)
    if t >= now:
        return status, active, decision, events
    events.append(("dispute", t, "released", "disputed"))
    status = "disputed"
    if rng.random() < 0.2:
        t = later(t, 48)
        if t >= now:
            return status, active, decision, events
        events.append(("escalate", t, "disputed", "escalated"))
        status = "escalated"
    if rng.random() < 0.75:
        t = later(t, 120)
        if t >= now:
            return status, active, decision, events
        decision = rng.choices(["upheld", "overturned", "modified"], [60, 25, 15])[0]
        events.append(("decide", t, status, decision))
        status = decision
        if decision == "overturned":
            active = False
        elif rng.random() < 0.7:
            t = later(t, 24)
            if t < now:
                events.append(("close", t, decision, "closed"))
                status = "closed"
    return status, active, decision, events


def load(n: int, seed: int, now: datetime) -> tuple[Any, Any, dict[str, int]]:
    """Writes the organization and its N released encounters; returns (organization,
    manager user, row counts)."""
    from django.db import connection

    from auditcoach.accounts.models import Coder, Facility, Membership, Organization, Role, User
    from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
    from auditcoach.coaching.models import FindingEvent
    from auditcoach.education.models import EducationAssignment

    rng = random.Random(seed)
    org = Organization.objects.create(slug="bench", name="Bench Health")
    manager = User.objects.create_user("bench-manager")
    Membership.objects.create(user=manager, organization=org, role=Role.MANAGER)
    facilities = Facility.objects.bulk_create(
        Facility(organization=org, name=f"Facility {i:02d}") for i in range(1, FACILITIES + 1)
    )
    coders = Coder.objects.bulk_create(
        Coder(organization=org, name=f"Coder {i:03d}") for i in range(1, CODERS + 1)
    )
    auditors = [f"Auditor {chr(65 + i)}" for i in range(AUDITORS)]
    cycles = quarter_labels(now.date(), CYCLE_COUNT)
    audits = {
        c: Audit.objects.create(
            organization=org, name=f"Bench {c}", cycle=c, status="released", released_at=now
        )
        for c in cycles
    }
    from auditcoach.demo.generator import cycle_dates

    bounds = {c: cycle_dates(c) for c in cycles}

    pool = engine_pool(POOL, seed)
    with_findings = [i for i, p in enumerate(pool) if p["_findings"]]
    # A quarter of the pattern keys carry a coaching topic, two keys to a topic.
    patterns = sorted({f["pattern"] for p in pool for f in p["_findings"]})
    topics = {k: f"topic-{i // 2:02d}" for i, k in enumerate(patterns[::4])}
    # Each coder: a first cycle (some join later), a home facility and a habit.
    coder_rows = [
        (
            c,
            rng.choice([0, 0, 0, 1, 2, 3]),
            facilities[i % FACILITIES],
            rng.sample(with_findings, HABIT),
        )
        for i, c in enumerate(coders)
    ]

    cursor = connection.cursor().cursor  # psycopg's own cursor, for COPY
    enc_t = Table(cursor, Encounter, now)
    line_t = Table(cursor, CodeLine, now)
    find_t = Table(cursor, Finding, now)
    event_t = Table(cursor, FindingEvent, now)
    finding_id = event_id = line_id = 0
    for enc_id in range(1, n + 1):
        coder, first, facility, habit = coder_rows[rng.randrange(CODERS)]
        cycle = cycles[rng.randrange(first, CYCLE_COUNT)]
        start, end = bounds[cycle]
        p = pool[rng.choice(habit) if rng.random() < HABIT_SHARE else rng.randrange(POOL)]
        released = datetime.combine(end, datetime.min.time(), UTC) + timedelta(
            days=rng.uniform(5, 45)
        )
        released = min(released, now - timedelta(hours=1))
        auditor = auditors[rng.randrange(AUDITORS)]
        row = enc_t.template(
            **{k: v for k, v in p.items() if not k.startswith("_")},
            id=enc_id,
            organization_id=org.pk,
            audit_id=audits[cycle].pk,
            public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            external_id=f"E{enc_id:08d}",
            discharge_date=start + timedelta(days=rng.randrange((end - start).days + 1)),
            facility_id=facility.pk if rng.random() < 0.9 else facilities[rng.randrange(10)].pk,
            coder_id=coder.pk,
            auditor_name=auditor,
            cycle=cycle,
            released_at=released,
            review_status="done",
        )
        enc_t.add(row)
        for version, system, group, seq, code, poa, modifiers, units in p["_lines"]:
            line_id += 1
            line_t.add(
                {
                    "id": line_id,
                    "organization_id": org.pk,
                    "encounter_id": enc_id,
                    "version": version,
                    "system": system,
                    "group": group,
                    "seq": seq,
                    "code": code,
                    "poa": poa,
                    "modifiers": modifiers,
                    "units": units,
                }
            )
        for position, f in enumerate(p["_findings"]):
            finding_id += 1
            status, active, decision, events = finding_story(
                rng, released, now, cycle == cycles[-1]
            )
            find_t.add(
                find_t.template(
                    **f,
                    id=finding_id,
                    organization_id=org.pk,
                    encounter_id=enc_id,
                    public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    position=position,
                    status=status,
                    active=active,
                    released_at=released,
                    decision=decision,
                    topic=topics.get(f["pattern"], ""),
                )
            )
            for kind, at, from_status, to_status in events:
                event_id += 1
                event_t.add(
                    event_t.template(
                        id=event_id,
                        organization_id=org.pk,
                        finding_id=finding_id,
                        actor_name=auditor if kind in ("release", "decide") else coder.name,
                        at=at,
                        kind=kind,
                        from_status=from_status,
                        to_status=to_status,
                    )
                )
    for t in (enc_t, line_t, find_t, event_t):
        t.flush()

    edu_t = Table(cursor, EducationAssignment, now)
    first_day = datetime.combine(bounds[cycles[0]][0], datetime.min.time(), UTC)
    span = (now - first_day).total_seconds()
    edu_id = 0
    for coder, _, _, habit in coder_rows:
        for _ in range(rng.randint(2, 8)):
            edu_id += 1
            f = rng.choice(pool[rng.choice(habit)]["_findings"])
            assigned = first_day + timedelta(seconds=rng.uniform(0, span - 86400))
            completed = assigned + timedelta(days=rng.uniform(1, 50))
            done = rng.random() < 0.75 and completed < now
            edu_t.add(
                edu_t.template(
                    id=edu_id,
                    organization_id=org.pk,
                    public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    coder_id=coder.pk,
                    pattern_key=f["pattern"],
                    topic=topics.get(f["pattern"], ""),
                    resource_title="Bench module",
                    assigned_at=assigned,
                    due_date=assigned.date() + timedelta(days=30),
                    status="completed" if done else "assigned",
                    completed_at=completed if done else None,
                    attestation=done,
                )
            )
    edu_t.flush()
    for t in (enc_t, line_t, find_t, event_t, edu_t):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{t.table}\"', 'id'), "
            f'(SELECT max(id) FROM "{t.table}"))'
        )
    counts = {
        "encounters": enc_t.rows,
        "code lines": line_t.rows,
        "findings": find_t.rows,
        "finding events": event_t.rows,
        "education assignments": edu_t.rows,
    }
    return org, manager, counts


# --------------------------------------------------------------------------- Django side


def django_aggregates(org: Any, now: datetime) -> dict[str, Any]:
    """What the dashboard's widgets ask the database, through the analytics selectors (the
    reference numbers for DuckDB's, and what is timed when the dashboard URL is missing)."""
    from django.db.models import Count

    from auditcoach.analytics import selectors as s
    from auditcoach.audits.selectors import score_totals_by

    filters = s.MetricFilters()
    findings = s.drill_findings(organization=org, filters=filters, drill=s.Drill()).order_by()
    top = list(findings.values("pattern").annotate(n=Count("pk")).order_by("-n", "pattern")[:10])
    keys = [r["pattern"] for r in top]
    by_cycle = (
        findings.filter(pattern__in=keys)
        .values("pattern", "encounter__cycle")
        .annotate(n=Count("pk"))
        .order_by()
    )
    topics = findings.exclude(topic="").values("topic").annotate(n=Count("pk"))
    return {
        "accuracy": [
            (c, t)
            for c, t in score_totals_by(
                s.released_encounters(organization=org, filters=filters), "cycle"
            )
            if c
        ],
        "cycle_report": s.cycle_report(organization=org, filters=filters),
        "patterns": [(r["pattern"], r["n"]) for r in top],
        "patterns_by_cycle": {(r["pattern"], r["encounter__cycle"]): r["n"] for r in by_cycle},
        "topics": [(r["topic"], r["n"]) for r in topics.order_by("-n", "topic")[:5]],
        "resolution": s.resolution(organization=org, now=now, filters=filters),
        "disputes": s.dispute_rates_by(organization=org, by="auditor", filters=filters),
        "engagement": s.engagement(organization=org, today=now.date()),
        "effectiveness": s.effectiveness(organization=org),
    }


def dashboard_timer(org: Any, manager: Any) -> tuple[str, Callable[[], object]]:
    """What "the dashboard's server time" times: the page through the test Client when
    `analytics:dashboard` resolves, else the selectors it calls."""
    from django.test import Client
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    try:
        url = reverse("analytics:dashboard", kwargs={"org_slug": org.slug})
    except NoReverseMatch:
        return "analytics selectors", lambda: django_aggregates(org, timezone.now())
    client = Client()
    client.force_login(manager)

    def page() -> object:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    return f"GET {url}", page


# --------------------------------------------------------------------------- DuckDB side

_PARTS = ("audited", "original", "matched", "revised", "added", "deleted", "line_errors")
_COUNT_COLUMNS = [f"{g}_{p}" for g in ("dx", "px", "line") for p in _PARTS] + [
    "poa_checked",
    "poa_changed",
    "em_overcoded",
    "em_undercoded",
]
_FLAG_COLUMNS = ["pdx_counted", "pdx_same", "drg_counted", "drg_changed", "em_counted", "em_same"]
_US = "(extract(epoch from {0}) * 1000000)::bigint AS {1}"
EXPORTS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    # DuckDB table: (PostgreSQL table, [(PostgreSQL expression, DuckDB column, type)])
    "coder": ("accounts_coder", [("id", "id", "BIGINT"), ("name", "name", "VARCHAR")]),
    "enc": (
        "audits_encounter",
        [
            ("id", "id", "BIGINT"),
            ("coder_id", "coder_id", "BIGINT"),
            ("cycle", "cycle", "VARCHAR"),
            ("auditor_name", "auditor_name", "VARCHAR"),
            (_US.format("released_at", "released_us"), "released_us", "BIGINT"),
            ("discharge_date", "discharge_date", "DATE"),
            ("finding_count", "finding_count", "BIGINT"),
            ("financial_impact", "financial_impact", "DECIMAL(12,2)"),
            *((c, c, "BIGINT") for c in _COUNT_COLUMNS),
            *((f"{c}::int", c, "BIGINT") for c in _FLAG_COLUMNS),
        ],
    ),
    "fnd": (
        "audits_finding",
        [
            ("id", "id", "BIGINT"),
            ("encounter_id", "encounter_id", "BIGINT"),
            ("status", "status", "VARCHAR"),
            ("active::int", "active", "BIGINT"),
            (_US.format("released_at", "released_us"), "released_us", "BIGINT"),
            ("kind", "kind", "VARCHAR"),
            ("pattern", "pattern", "VARCHAR"),
            ("topic", "topic", "VARCHAR"),
            ("decision", "decision", "VARCHAR"),
        ],
    ),
    "ev": (
        "coaching_findingevent",
        [
            ("id", "id", "BIGINT"),
            ("finding_id", "finding_id", "BIGINT"),
            ("kind", "kind", "VARCHAR"),
            (_US.format("at", "at_us"), "at_us", "BIGINT"),
            ("to_status", "to_status", "VARCHAR"),
        ],
    ),
    "edu": (
        "education_educationassignment",
        [
            ("id", "id", "BIGINT"),
            ("coder_id", "coder_id", "BIGINT"),
            ("pattern_key", "pattern_key", "VARCHAR"),
            ("topic", "topic", "VARCHAR"),
            (_US.format("assigned_at", "assigned_us"), "assigned_us", "BIGINT"),
            ("due_date", "due_date", "DATE"),
            (_US.format("completed_at", "completed_us"), "completed_us", "BIGINT"),
        ],
    ),
}


def copy_to_duckdb(org_id: int, folder: Path) -> duckdb.DuckDBPyConnection:
    """The organization's rows, PostgreSQL COPY … TO STDOUT (CSV) → DuckDB read_csv."""
    from django.db import connection

    cursor = connection.cursor().cursor
    duck = duckdb.connect()
    for name, (table, cols) in EXPORTS.items():
        path = folder / f"{name}.csv"
        select = ", ".join(expr for expr, _, _ in cols)
        with (
            path.open("wb") as out,
            cursor.copy(
                f'COPY (SELECT {select} FROM "{table}" WHERE organization_id = {org_id}) '
                "TO STDOUT (FORMAT csv, HEADER)"
            ) as copy,
        ):
            for chunk in copy:
                out.write(chunk)
        types = ", ".join(f"'{c}': '{t}'" for _, c, t in cols)
        duck.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true, "
            f"allow_quoted_nulls = false, columns = {{{types}}})"
        )
        path.unlink()
    return duck


_CODES = "dx_audited + px_audited + line_audited"
_ERRORS = " + ".join(f"{g}_{p}" for g in ("dx", "px", "line") for p in ("added", "revised", "line_errors"))  # fmt: skip
_COUNTED = """
    SELECT f.id, f.encounter_id, f.pattern, f.topic, e.coder_id, e.cycle
    FROM fnd f JOIN enc e ON e.id = f.encounter_id
    WHERE f.active = 1 AND e.released_us IS NOT NULL AND f.status NOT IN ('draft', 'overturned')
"""
_RELEASED = """
    SELECT f.id, f.status, f.active, f.released_us, e.auditor_name, t.*
    FROM fnd f JOIN enc e ON e.id = f.encounter_id
    LEFT JOIN (
        SELECT finding_id,
               min(at_us) FILTER (WHERE kind IN ('agree', 'dispute')) AS responded_us,
               min(at_us) FILTER (WHERE kind = 'close') AS closed_us,
               bool_or(kind = 'dispute') AS disputed,
               bool_or(kind = 'decide' AND to_status = 'overturned') AS ever_overturned,
               last(to_status ORDER BY at_us, id) FILTER (WHERE kind = 'decide') AS last_decision
        FROM ev GROUP BY finding_id
    ) t ON t.finding_id = f.id
    WHERE f.released_us IS NOT NULL AND f.status <> 'draft' AND e.released_us IS NOT NULL
      AND (f.active = 1 OR f.status = 'overturned' OR coalesce(t.ever_overturned, false))
"""


def _rank(values: str, n: str, q: float) -> str:
    """Nearest rank ⌈q·n⌉ of a sorted list, as the selectors read it with OFFSET."""
    return f"({values})[greatest(1, ceil({q} * {n} - 1e-12))::bigint]"


def duck_aggregates(
    duck: duckdb.DuckDBPyConnection, now: datetime, sla_days: int
) -> dict[str, Any]:
    """The dashboard's aggregates as DuckDB SQL, arranged like the selectors' results."""
    from auditcoach.audits.conversions import totals_from_sums
    from auditcoach.engine.metrics import (
        AGEING_BUCKETS,
        CycleCounts,
        DisputeRates,
        Engagement,
        Resolution,
        bucket_label,
        report_from_counts,
    )
    from auditcoach.engine.metrics import Effectiveness as Eff
    from auditcoach.engine.stats import Proportion, two_proportion_z_test

    def rows(sql: str) -> list[dict[str, Any]]:
        cur = duck.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # Accuracy: the pooled §6 sums per cycle.
    sums = ", ".join(
        f"sum({c}) AS {c}" for c in ["financial_impact", *_COUNT_COLUMNS, *_FLAG_COLUMNS]
    )
    accuracy = [
        (r["cycle"], totals_from_sums(r))
        for r in rows(
            f"SELECT cycle, count(*) AS encounters, "
            f"sum(CASE WHEN finding_count = 0 THEN 1 ELSE 0 END) AS clean_encounters, {sums} "
            "FROM enc WHERE released_us IS NOT NULL GROUP BY cycle ORDER BY cycle"
        )
        if r["cycle"]
    ]

    # p-charts, findings and repeats (§8): a dense rank of each coder's cycles; a finding is
    # a repeat when the coder has a counted finding of the pattern (or topic) at rank r-1/r-2.
    enc_rows = rows(
        f"SELECT c.name, e.cycle, count(*) AS n, sum({_CODES}) AS codes, "
        f"sum({_ERRORS}) AS errors FROM enc e LEFT JOIN coder c ON c.id = e.coder_id "
        "WHERE e.released_us IS NOT NULL GROUP BY ALL"
    )
    found_rows = rows(
        f"""
        WITH rk AS (
            SELECT coder_id, cycle, dense_rank() OVER (PARTITION BY coder_id ORDER BY cycle) AS r
            FROM (SELECT DISTINCT coder_id, cycle FROM enc
                  WHERE released_us IS NOT NULL AND coder_id IS NOT NULL)
        ), cf AS (
            SELECT cf.*, rk.r FROM ({_COUNTED}) cf
            LEFT JOIN rk ON rk.coder_id = cf.coder_id AND rk.cycle = cf.cycle
        ), pp AS (
            SELECT DISTINCT coder_id, r + d AS r, pattern
            FROM cf, (VALUES (1), (2)) t(d) WHERE coder_id IS NOT NULL
        ), tp AS (
            SELECT DISTINCT coder_id, r + d AS r, topic
            FROM cf, (VALUES (1), (2)) t(d) WHERE coder_id IS NOT NULL AND topic <> ''
        )
        SELECT c.name, cf.cycle, count(*) AS n,
               count(*) FILTER (WHERE pp.r IS NOT NULL OR tp.r IS NOT NULL) AS repeats
        FROM cf
        LEFT JOIN pp ON pp.coder_id = cf.coder_id AND pp.r = cf.r AND pp.pattern = cf.pattern
        LEFT JOIN tp ON tp.coder_id = cf.coder_id AND tp.r = cf.r AND tp.topic = cf.topic
        LEFT JOIN coder c ON c.id = cf.coder_id
        GROUP BY ALL
        """
    )
    found = {(r["name"], r["cycle"]): (r["n"], r["repeats"]) for r in found_rows}
    report = report_from_counts(
        (
            r["name"],
            CycleCounts(
                cycle=r["cycle"],
                encounters=r["n"],
                audited_codes=int(r["codes"] or 0),
                code_errors=int(r["errors"] or 0),
                findings=found.get((r["name"], r["cycle"]), (0, 0))[0],
                repeat_findings=found.get((r["name"], r["cycle"]), (0, 0))[1],
            ),
        )
        for r in enc_rows
    )

    # Top patterns, their counts per cycle, top topics.
    top = rows(
        f"SELECT pattern, count(*) AS n FROM ({_COUNTED}) GROUP BY pattern "
        "ORDER BY n DESC, pattern LIMIT 10"
    )
    keys = ", ".join("'" + r["pattern"].replace("'", "''") + "'" for r in top) or "NULL"
    by_cycle = rows(
        f"SELECT pattern, cycle, count(*) AS n FROM ({_COUNTED}) WHERE pattern IN ({keys}) "
        "GROUP BY ALL"
    )
    topics = rows(
        f"SELECT topic, count(*) AS n FROM ({_COUNTED}) WHERE topic <> '' GROUP BY topic "
        "ORDER BY n DESC, topic LIMIT 5"
    )

    # Time to resolution (§8) over the released findings.
    now_us = int(now.timestamp() * 1_000_000)
    day = 86_400_000_000
    sla = sla_days * day
    is_open = "status IN ('released', 'disputed', 'escalated') AND active = 1"
    buckets = []
    for i, (lo, hi) in enumerate(AGEING_BUCKETS):
        cond = is_open
        if i > 0:
            cond += f" AND released_us <= {now_us - lo * day}"
        if hi is not None:
            cond += f" AND released_us > {now_us - (hi + 1) * day}"
        buckets.append((bucket_label(lo, hi), f"count(*) FILTER (WHERE {cond})"))
    resp = "list(responded_us - released_us ORDER BY responded_us - released_us) FILTER (WHERE responded_us IS NOT NULL)"
    close = "list(closed_us - released_us ORDER BY closed_us - released_us) FILTER (WHERE closed_us IS NOT NULL)"
    (res,) = rows(
        f"""
        SELECT count(responded_us) AS responded, count(closed_us) AS closed,
          count(*) FILTER (WHERE responded_us - released_us <= {sla}) AS in_time,
          count(*) FILTER (WHERE responded_us IS NOT NULL OR released_us < {now_us - sla}) AS known,
          count(*) FILTER (WHERE {is_open}) AS open,
          count(*) FILTER (WHERE {is_open} AND released_us <= {now_us - (sla_days + 1) * day}) AS overdue,
          {", ".join(f'{sql} AS "{label}"' for label, sql in buckets)},
          {_rank(resp, "count(responded_us)", 0.5)} AS resp_median,
          {_rank(resp, "count(responded_us)", 0.9)} AS resp_p90,
          {_rank(close, "count(closed_us)", 0.5)} AS close_median,
          {_rank(close, "count(closed_us)", 0.9)} AS close_p90
        FROM ({_RELEASED})
        """
    )

    def hours(us: int | None) -> float | None:
        return None if us is None else us / 3_600_000_000

    resolution = Resolution(
        responded=res["responded"],
        response_median_hours=hours(res["resp_median"]),
        response_p90_hours=hours(res["resp_p90"]),
        within_sla=Proportion(res["in_time"], res["known"]),
        closed=res["closed"],
        close_median_hours=hours(res["close_median"]),
        close_p90_hours=hours(res["close_p90"]),
        open=res["open"],
        overdue=res["overdue"],
        ageing={label: res[label] for label, _ in buckets},
    )

    # Disputes and overturns per auditor.
    disputes = {
        r["auditor_name"]: DisputeRates(
            dispute=Proportion(r["disputed"], r["released"]),
            overturn=Proportion(r["overturned"], r["decided"]),
        )
        for r in rows(
            f"""
            SELECT auditor_name, count(*) AS released,
              count(*) FILTER (WHERE disputed) AS disputed,
              count(*) FILTER (WHERE disputed AND last_decision IS NOT NULL) AS decided,
              count(*) FILTER (WHERE disputed AND last_decision = 'overturned') AS overturned
            FROM ({_RELEASED}) GROUP BY auditor_name ORDER BY auditor_name
            """
        )
    }

    # Education: engagement, then effectiveness per completed assignment.
    today = now.date()
    done = "make_timestamp(completed_us)::date"
    days = f"list({done} - make_timestamp(assigned_us)::date ORDER BY {done} - make_timestamp(assigned_us)::date) FILTER (WHERE completed_us IS NOT NULL)"
    (eng,) = rows(
        f"""
        SELECT count(*) FILTER (WHERE due_date < DATE '{today}') AS due,
          count(*) FILTER (WHERE due_date < DATE '{today}' AND {done} <= due_date) AS on_time,
          count(*) FILTER (WHERE due_date < DATE '{today}' AND completed_us IS NULL) AS overdue,
          {_rank(days, "count(completed_us)", 0.5)} AS median_days
        FROM edu
        """
    )
    engagement = Engagement(
        on_time=Proportion(eng["on_time"], eng["due"]),
        median_days_to_complete=None if eng["median_days"] is None else float(eng["median_days"]),
        overdue=eng["overdue"],
    )
    effectiveness = {}
    for r in rows(
        f"""
        WITH a AS (
            SELECT id, coder_id, pattern_key, topic, {done} AS completed_on
            FROM edu WHERE completed_us IS NOT NULL
        ), cf AS ({_COUNTED}),
        hp AS (SELECT DISTINCT encounter_id, pattern FROM cf WHERE pattern <> ''),
        ht AS (SELECT DISTINCT encounter_id, topic FROM cf WHERE topic <> ''),
        x AS (
            SELECT a.id, e.discharge_date < a.completed_on AS before,
                   e.discharge_date > a.completed_on AS after,
                   hp.encounter_id IS NOT NULL OR ht.encounter_id IS NOT NULL AS hit
            FROM a LEFT JOIN enc e ON e.coder_id = a.coder_id AND e.released_us IS NOT NULL
            LEFT JOIN hp ON hp.encounter_id = e.id AND hp.pattern = a.pattern_key
            LEFT JOIN ht ON ht.encounter_id = e.id AND ht.topic = a.topic
        )
        SELECT id, count(*) FILTER (WHERE before) AS before_n,
               count(*) FILTER (WHERE before AND hit) AS before_hit,
               count(*) FILTER (WHERE after) AS after_n,
               count(*) FILTER (WHERE after AND hit) AS after_hit
        FROM x GROUP BY id
        """
    ):
        effectiveness[r["id"]] = Eff(
            before=Proportion(r["before_hit"], r["before_n"]),
            after=Proportion(r["after_hit"], r["after_n"]),
            test=two_proportion_z_test(
                r["before_hit"], r["before_n"], r["after_hit"], r["after_n"]
            ),
        )

    return {
        "accuracy": accuracy,
        "cycle_report": report,
        "patterns": [(r["pattern"], r["n"]) for r in top],
        "patterns_by_cycle": {(r["pattern"], r["cycle"]): r["n"] for r in by_cycle},
        "topics": [(r["topic"], r["n"]) for r in topics],
        "resolution": resolution,
        "disputes": disputes,
        "engagement": engagement,
        "effectiveness": effectiveness,
    }


# --------------------------------------------------------------------------- timing


def timings(fn: Callable[[], object], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def p95(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


def check(ref: dict[str, Any], duck: dict[str, Any]) -> list[str]:
    """The names of the aggregates where DuckDB's numbers differ from the selectors'."""
    bad = []
    for key, value in ref.items():
        if duck[key] != value:
            bad.append(key)
            print(f"MISMATCH in {key}:", file=sys.stderr)
            print(f"  selectors: {_short(value)}", file=sys.stderr)
            print(f"  duckdb:    {_short(duck[key])}", file=sys.stderr)
    return bad


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) < 2000 else text[:2000] + " …"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--duckdb-only",
        action="store_true",
        help="load and time DuckDB only (no dashboard, no check): for sizes the page cannot take",
    )
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    print(f"recreating {urlsplit(args.database_url).path.lstrip('/')} ...", flush=True)
    recreate_database(args.database_url)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    assert settings.TIME_ZONE == "UTC", "DuckDB's dates are read in UTC"
    call_command("migrate", verbosity=0)

    now = timezone.now()
    print(f"loading {args.encounters:,} released, audited encounters ...", flush=True)
    start = time.perf_counter()
    with transaction.atomic():
        org, manager, counts = load(args.encounters, args.seed, now)
    t_load = time.perf_counter() - start
    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    t_vacuum = time.perf_counter() - start
    for name, n in counts.items():
        print(f"  {n:>12,} {name}")
    print(f"  load {t_load:.1f} s (generate + COPY), VACUUM ANALYZE {t_vacuum:.1f} s")

    label, t_dash = "", []
    if not args.duckdb_only:
        label, dashboard = dashboard_timer(org, manager)
        print(f"timing the dashboard: {label}, {args.runs} runs after 3 warm-up ...", flush=True)
        t_dash = timings(dashboard, args.runs)

    print("copying the rows to DuckDB (in memory) ...", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        duck = copy_to_duckdb(org.pk, Path(folder))
    t_copy = time.perf_counter() - start
    sla = org.response_sla_days
    print(f"  {t_copy:.1f} s; timing DuckDB, {args.runs} runs after 3 warm-up ...", flush=True)
    t_duck = timings(lambda: duck_aggregates(duck, timezone.now(), sla), args.runs)
    km, kp = statistics.median(t_duck) * 1000, p95(t_duck) * 1000

    bad: list[str] = []
    if not args.duckdb_only:
        print("checking DuckDB's numbers against the selectors' ...", flush=True)
        check_now = timezone.now()
        start = time.perf_counter()
        ref = django_aggregates(org, check_now)
        t_ref = time.perf_counter() - start
        bad = check(ref, duck_aggregates(duck, check_now, sla))
        report = ref["cycle_report"]
        cf = sum(c.findings for c in report.cycles)
        rep = sum(c.repeat_findings for c in report.cycles)
        print(
            f"  {len(report.cycles)} cycles, {len(report.coders)} coders, {cf:,} counted "
            f"findings ({rep:,} repeats), {len(ref['effectiveness'])} completed assignments; "
            f"the selectors alone took {t_ref * 1000:.0f} ms once"
        )

    print()
    print(f"rows                          {counts['encounters']:>10,} encounters")
    print(f"load (generate + COPY)        {t_load:>10.1f} s")
    print(f"DuckDB, median / P95          {km:>10.0f} / {kp:.0f} ms")
    if t_dash:
        dm, dp = statistics.median(t_dash) * 1000, p95(t_dash) * 1000
        ratio = dp / kp
        print(f"dashboard, median / P95       {dm:>10.0f} / {dp:.0f} ms   ({label})")
        print(f"ratio dashboard / DuckDB, P95 {ratio:>10.1f}×")
        equal = "yes" if not bad else "NO: " + ", ".join(bad)
        print(f"numbers equal                 {equal:>10}")
        scale = (
            ""
            if args.encounters >= 1_000_000
            else f" (at {args.encounters:,}; the target is set at 1M)"
        )
        print(
            f"§11 targets{scale}: P95 ≤ 300 ms {'holds' if dp <= 300 else 'MISSED'}; "
            f"≤ 3× DuckDB {'holds' if ratio <= 3 else 'MISSED'}"
        )
    else:
        print("dashboard                     not timed (--duckdb-only), numbers not checked")

    duck.close()
    if args.keep:
        print(f"kept {args.database_url} (organization slug 'bench', user bench-manager)")
    else:
        drop_database(args.database_url)
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
