"""The coder scorecard and the coders list: hand-worked numbers over three cycles, the
permissions, and query counts that stay flat as the data grows."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from auditcoach.accounts.models import Coder, Organization, Provider, User
from auditcoach.analytics.scorecard import coder_scorecard, coder_summaries, trend
from auditcoach.audits.models import Audit, Encounter, Finding
from auditcoach.education.models import EducationAssignment
from auditcoach.engine.stats import Proportion

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
TODAY = date(2026, 9, 1)
Q1, Q2, Q3 = "2026-Q1", "2026-Q2", "2026-Q3"


@dataclass
class Fd:
    pattern: str
    topic: str = ""
    root_cause: str = ""
    status: str = "released"
    active: bool = True


@dataclass
class En:
    coder: str  # "casey" (the `coder` fixture) or another roster name
    cycle: str
    provider: str
    released: bool = True
    # (group, audited codes, errors): errors as added (DX, PX) or line errors (LINE)
    dx: tuple[int, int] = (0, 0)
    px: tuple[int, int] = (0, 0)
    line: tuple[int, int] = (0, 0)
    findings: list[Fd] = field(default_factory=list)


def build(org: Organization, casey: Coder, encounters: list[En], tag: str = "") -> None:
    """Encounters with their §6 tallies and findings, stored as the import would leave them."""
    audit = Audit.objects.create(organization=org, name=f"a{tag}", cycle=Q1)
    coders = {"casey": casey}
    providers: dict[str, Provider] = {}
    for i, e in enumerate(encounters):
        if e.coder not in coders:
            coders[e.coder] = Coder.objects.get_or_create(organization=org, name=e.coder)[0]
        if e.provider not in providers:
            providers[e.provider] = Provider.objects.get_or_create(
                organization=org, name=e.provider
            )[0]
        counted = [f for f in e.findings if f.status not in ("draft", "overturned") and f.active]
        enc = Encounter.objects.create(
            organization=org,
            audit=audit,
            external_id=f"E{tag}{i + 1}",
            setting="outpatient",
            discharge_date=date(2026, 1, 1) + timedelta(days=i),
            coder=coders[e.coder],
            provider=providers[e.provider],
            cycle=e.cycle,
            released_at=T0 if e.released else None,
            finding_count=len(counted),
            dx_audited=e.dx[0],
            dx_added=e.dx[1],
            px_audited=e.px[0],
            px_added=e.px[1],
            line_audited=e.line[0],
            line_line_errors=e.line[1],
        )
        for j, f in enumerate(e.findings):
            Finding.objects.create(
                organization=org,
                encounter=enc,
                position=j,
                kind=f.pattern.split(":")[0],
                group=f.pattern.split(":")[1],
                pattern=f.pattern,
                topic=f.topic,
                root_cause=f.root_cause,
                status=f.status,
                active=f.active,
                released_at=None if f.status == "draft" else T0,
            )


DOC, GAP = "DOCUMENTATION", "KNOWLEDGE_GAP"
E87, I50 = "ADDED:DX:E87", "REVISED:DX:I50"
PX0, MOD = "ADDED:PX:0DT", "MODIFIER_CHANGED:LINE:99213"

# The worked world (docs/analytics.md reasons it through):
#   Casey, Q1: E1 (A, 4 DX, 1 error, E87 sepsis DOC), E2 (B, 4 DX, 1 error, E87 sepsis GAP)
#          Q2: E3 (A, 4 DX, 1 error, I50 chf GAP), E4 (B, 2 DX + 2 PX, 1 PX error, PX0 sepsis DOC)
#          Q3: E5 (A, 5 DX, clean), E6 (A, 3 DX + 2 LINE, 1 + 1 errors, I50 chf GAP, MOD DOC)
#   Ben,   Q2: E7 (B, 10 DX, clean; an overturned DOC finding that does not count)
#          Q3: E8 (B, 10 DX, 5 errors, E87 sepsis DOC)
#   and an unreleased Q3 encounter of Ben (A) whose DOC finding never counts.
WORLD = [
    En("casey", Q1, "Dr A", dx=(4, 1), findings=[Fd(E87, "sepsis", DOC)]),
    En("casey", Q1, "Dr B", dx=(4, 1), findings=[Fd(E87, "sepsis", GAP)]),
    En("casey", Q2, "Dr A", dx=(4, 1), findings=[Fd(I50, "chf", GAP)]),
    En("casey", Q2, "Dr B", dx=(2, 0), px=(2, 1), findings=[Fd(PX0, "sepsis", DOC)]),
    En("casey", Q3, "Dr A", dx=(5, 0)),
    En(
        "casey",
        Q3,
        "Dr A",
        dx=(3, 1),
        line=(2, 1),
        findings=[Fd(I50, "chf", GAP), Fd(MOD, "", DOC)],
    ),
    En(
        "ben",
        Q2,
        "Dr B",
        dx=(10, 0),
        findings=[Fd(E87, "sepsis", DOC, status="overturned", active=False)],
    ),
    En("ben", Q3, "Dr B", dx=(10, 5), findings=[Fd(E87, "sepsis", DOC)]),
    En("ben", Q3, "Dr A", released=False, dx=(3, 1), findings=[Fd(E87, "x", DOC, "draft")]),
]


def more(org: Organization, casey: Coder) -> None:
    """More of everything: another cycle, coders, providers, patterns, topics, education."""
    extra = []
    for k in range(12):
        extra.append(
            En(
                ["casey", "ben", f"coder{k % 3}"][k % 3], ["2026-Q4", Q2, Q3][k % 3],
                f"Dr {k % 5}", dx=(6, 2), px=(2, 1),
                findings=[
                    Fd(f"ADDED:DX:K{k}", f"t{k % 4}", [DOC, GAP][k % 2]),
                    Fd(f"REVISED:DX:J{k % 2}", "", DOC),
                ],
            )
        )  # fmt: skip
    build(org, casey, extra, tag="x")
    for k in range(4):
        EducationAssignment.objects.create(
            organization=org, coder=casey, pattern_key=E87 if k % 2 else I50, topic="",
            resource_title=f"r{k}", assigned_at=T0, due_date=date(2026, 4, 1 + k),
            status="completed" if k % 2 else "assigned",
            completed_at=T0 + timedelta(days=10) if k % 2 else None, attestation=bool(k % 2),
        )  # fmt: skip


@pytest.fixture
def world(org: Organization, coder: Coder) -> Coder:
    build(org, coder, WORLD)
    return coder


def p(s: int, n: int) -> Proportion:
    return Proportion(s, n)


# --------------------------------------------------------------------------- numbers


def test_trend_compares_the_latest_cycle_with_the_earlier_ones_pooled() -> None:
    t = trend([p(2, 2), p(0, 0), p(0, 2), p(0, 2)])  # a cycle with n = 0 is skipped
    assert (t.latest, t.before, t.direction) == (p(0, 2), p(2, 4), "better")
    assert trend([p(1, 2), p(1, 2)]).direction == "same"
    assert trend([p(0, 2), p(1, 2)]).direction == "new"
    assert trend([p(1, 4), p(1, 2)]).direction == "worse"
    assert trend([p(1, 2)]).direction == ""  # nothing to compare with
    assert trend([]).direction == ""


def test_scorecard_cycles_accuracy_p_chart_and_repeats(org: Organization, world: Coder) -> None:
    card = coder_scorecard(organization=org, coder=world, today=TODAY)
    assert [c.cycle for c in card.cycles] == [Q1, Q2, Q3]
    # all codes: Q1 8 audited, 2 errors; Q2 4 + 4, 2 errors; Q3 5 + 5, 2 errors
    assert [c.code_accuracy for c in card.cycles] == [p(6, 8), p(6, 8), p(8, 10)]
    # DX only: Q1 8/2 errors; Q2 4 + 2 DX with one DX error; Q3 5 + 3 with one
    assert [c.dx_accuracy for c in card.cycles] == [p(6, 8), p(5, 6), p(7, 8)]
    assert [c.record_accuracy for c in card.cycles] == [p(0, 2), p(0, 2), p(1, 2)]
    assert [c.encounters for c in card.cycles] == [2, 2, 2]
    # the p-chart: p_i = errors / codes, centre 6 / 26
    assert card.center == pytest.approx(6 / 26)
    assert [c.chart.p for c in card.cycles if c.chart] == [2 / 8, 2 / 8, 2 / 10]
    # repeats: Q2's PX0 shares the topic "sepsis" with Q1's E87; Q3's I50 repeats Q2's
    assert [(c.findings, c.repeats) for c in card.cycles] == [(2, 0), (2, 1), (2, 1)]
    assert card.cycles[1].repeat_rate == p(1, 2)


def test_scorecard_patterns_topics_and_their_trend(org: Organization, world: Coder) -> None:
    card = coder_scorecard(organization=org, coder=world, today=TODAY)
    rows = {r.key: r for r in card.patterns}
    assert [r.key for r in card.patterns] == [E87, I50, PX0, MOD]  # most findings first
    assert rows[E87].counts == [2, 0, 0]
    assert rows[E87].incidence == [p(2, 2), p(0, 2), p(0, 2)]
    assert (rows[E87].trend.latest, rows[E87].trend.before) == (p(0, 2), p(2, 4))
    assert rows[E87].trend.direction == "better"
    assert rows[I50].trend.direction == "worse"  # 1 of 2 after 1 of 4
    assert rows[MOD].trend.direction == "new"
    assert rows[PX0].trend.direction == "better"
    topics = {r.key: r for r in card.topics}
    assert set(topics) == {"sepsis", "chf"}  # findings without a topic are not a topic
    assert topics["sepsis"].counts == [2, 1, 0]
    assert (topics["sepsis"].trend.latest, topics["sepsis"].trend.before) == (p(0, 2), p(3, 4))
    assert topics["chf"].trend.direction == "worse"


def test_scorecard_strengths_follow_the_stated_rule(org: Organization, world: Coder) -> None:
    card = coder_scorecard(organization=org, coder=world, today=TODAY)
    # Casey: all codes 20/26 = 76.9% against the organization's 35/46 = 76.1%; DX 18/22 =
    # 81.8% against 33/42 = 78.6%. Clean records 1/6 against 2/8: not a strength. PX and
    # lines have fewer than 5 codes. E87: 2 earlier findings, none in Q3.
    assert [s.title for s in card.strengths] == [
        "Code accuracy (DX, PX and lines) at or above the organization",
        "DX code accuracy at or above the organization",
        f"{E87} stopped recurring",
    ]
    assert card.strengths[0].coder == p(20, 26)
    assert card.strengths[0].organization == p(35, 46)
    assert card.strengths[1].organization == p(33, 42)
    compared = {title: (mine, org_) for title, mine, org_ in card.compared()}
    assert compared["clean-record rate"] == (p(1, 6), p(2, 8))


def test_scorecard_education_status(org: Organization, world: Coder) -> None:
    make = EducationAssignment.objects.create
    common: dict[str, Any] = {"organization": org, "coder": world, "assigned_at": T0}
    make(**common, pattern_key=I50, resource_title="open", due_date=date(2026, 12, 1))
    make(**common, pattern_key=I50, resource_title="late", due_date=date(2026, 5, 1))
    # completed between Q1's discharges (Jan 1–2) and Q2's (Jan 3–4)
    make(
        **common, pattern_key=E87, resource_title="done", due_date=date(2026, 2, 1),
        status="completed", completed_at=datetime(2026, 1, 2, 18, tzinfo=UTC),
        attestation=True,
    )  # fmt: skip
    card = coder_scorecard(organization=org, coder=world, today=TODAY)
    ed = card.education
    assert (ed.open, ed.overdue, ed.completed) == (2, 1, 1)
    by_title = {r.assignment.resource_title: r for r in ed.assignments}
    assert by_title["late"].overdue
    assert not by_title["open"].overdue
    e = by_title["done"].effectiveness
    assert e is not None
    # E87 incidence: discharged before Jan 2: E1 (1 of 1); after: E3–E6, none of 4
    assert (e.before, e.after) == (p(1, 1), p(0, 4))
    assert by_title["open"].effectiveness is None


def test_coder_summaries(org: Organization, world: Coder) -> None:
    rows = {s.coder.name: s for s in coder_summaries(organization=org, today=TODAY)}
    assert set(rows) == {"Casey Coder", "ben"}  # by name, in the database's collation
    casey, ben = rows["Casey Coder"], rows["ben"]
    assert (casey.encounters, casey.accuracy, casey.latest_cycle) == (6, p(20, 26), Q3)
    assert casey.latest_accuracy == p(8, 10)
    assert (casey.latest_findings, casey.latest_repeats) == (2, 1)
    assert casey.accuracy_series == pytest.approx([0.75, 0.75, 0.8])
    assert (ben.encounters, ben.accuracy, ben.latest_accuracy) == (2, p(15, 20), p(5, 10))


# --------------------------------------------------------------------------- pages


def scorecard_url(org: Organization, c: Coder) -> str:
    return reverse("analytics:scorecard", kwargs={"org_slug": org.slug, "coder_id": c.public_id})


def test_scorecard_permissions(
    assert_tenancy: Any,
    org: Organization,
    world: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
    client_for: Any,
) -> None:
    url = scorecard_url(org, world)
    assert_tenancy(url, allowed=[manager, auditor, educator, viewer])
    # a coder never opens a coder's scorecard by id, their own included: theirs is me/
    assert client_for(coder_user).get(url).status_code == 404
    ben = Coder.objects.get(organization=org, name="ben")
    assert client_for(coder_user).get(scorecard_url(org, ben)).status_code == 404
    other_org = Organization.objects.create(slug="x", name="X")
    other = Coder.objects.create(organization=other_org, name="Casey Coder")
    assert client_for(manager).get(scorecard_url(org, other)).status_code == 404


def test_coders_list_permissions(
    assert_tenancy: Any,
    org: Organization,
    world: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
) -> None:
    url = reverse("analytics:coders", kwargs={"org_slug": org.slug})
    assert_tenancy(url, allowed=[manager, auditor, educator, viewer], forbidden=[coder_user])


def test_my_scorecard_permissions_and_unlinked_login(
    assert_tenancy: Any,
    org: Organization,
    world: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
    client_for: Any,
) -> None:
    url = reverse("analytics:my_scorecard", kwargs={"org_slug": org.slug})
    assert_tenancy(url, allowed=[coder_user], forbidden=[manager, auditor, educator, viewer])
    response = client_for(coder_user).get(url)
    assert response.context["card"].coder == world
    body = response.content.decode()
    assert "My scorecard" in body
    # the coder's own marks open My feedback, never the organization's drill-down
    assert "/analytics/findings/" not in body
    assert "/coaching/feedback/?show=all" in body
    world.user = None
    world.save(update_fields=["user"])
    response = client_for(coder_user).get(url)
    assert response.status_code == 200
    assert "not linked to a coder" in response.content.decode()
    assert "card" not in response.context


def test_scorecard_page_links_every_mark_to_its_findings(
    org: Organization, world: Coder, manager: User, client_for: Any
) -> None:
    response = client_for(manager).get(scorecard_url(org, world))
    body = response.content.decode()
    drill = "/o/north-health/analytics/findings/?coder=Casey+Coder"
    for cycle in (Q1, Q2, Q3):
        assert f"{drill}&amp;cycle={cycle}" in body  # the p-chart's and the tables' points
        assert f"{drill}&amp;cycle={cycle}&amp;repeat=1" in body
    assert f"{drill}&amp;cycle={Q1}&amp;pattern={E87.replace(':', '%3A')}" in body
    assert f"{drill}&amp;pattern={E87.replace(':', '%3A')}" in body
    assert f"{drill}&amp;topic=sepsis" in body
    assert "improving" in body
    assert "worsening" in body
    assert f"{E87} stopped recurring" in body


def count_queries(client: Any, url: str) -> int:
    client.get(url)  # the first visit also remembers the organization in the session
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# The page shell: session, user, membership, unread notifications (4). The scorecard: the
# coder (1), §6 sums per cycle (1), the cycle report (2), the organization's sums (1),
# patterns and topics (2), education (3), topic labels (1). The list: the filter bar's choices
# (7), the roster (1), the cycle report (2), education per coder (1).
SCORECARD_QUERIES = 15
CODERS_QUERIES = 15


def test_scorecard_and_list_query_counts_do_not_grow_with_the_data(
    org: Organization, world: Coder, manager: User, coder_user: User, client_for: Any
) -> None:
    pages = {
        "scorecard": (client_for(manager), scorecard_url(org, world), SCORECARD_QUERIES),
        "me": (
            client_for(coder_user),
            reverse("analytics:my_scorecard", kwargs={"org_slug": org.slug}),
            SCORECARD_QUERIES,
        ),
        "coders": (
            client_for(manager),
            reverse("analytics:coders", kwargs={"org_slug": org.slug}),
            CODERS_QUERIES,
        ),
    }
    before = {name: count_queries(c, url) for name, (c, url, _) in pages.items()}
    more(org, world)
    after = {name: count_queries(c, url) for name, (c, url, _) in pages.items()}
    assert before == after
    assert after == {name: pinned for name, (_, _, pinned) in pages.items()}
