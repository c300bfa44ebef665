"""The documentation-patterns (CDI) report: hand-worked numbers on the scorecard's world,
filters, links to the drill-down, permissions and a flat query count."""

from typing import Any

import pytest
from django.urls import reverse

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.analytics.documentation import documentation_report
from auditcoach.analytics.selectors import MetricFilters
from tests.analytics.test_scorecard import Q1, Q2, Q3, WORLD, build, count_queries, more, p

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org: Organization, coder: Coder) -> Coder:
    build(org, coder, WORLD)
    return coder


# The world (tests/analytics/test_scorecard.py, WORLD), documentation findings only:
#   Dr A: E1 (Q1, sepsis), E6 (Q3, no topic);  Dr B: E4 (Q2, sepsis), E8 (Q3, sepsis).
#   Not counted: Ben's overturned finding on E7, the draft on an unreleased encounter.
# Encounters audited: Dr A: E1 (Q1), E3 (Q2), E5, E6 (Q3); Dr B: E2 (Q1), E4, E7 (Q2), E8 (Q3).


def test_report_by_provider(org: Organization, world: Coder) -> None:
    r = documentation_report(organization=org)
    assert (r.total, r.all_findings, r.encounters) == (4, 7, 8)
    assert r.share == p(4, 7)
    a, b = r.providers
    assert (a.provider, a.findings, a.all_findings, a.encounters, a.affected) == (
        "Dr A", 2, 4, 4, 2,
    )  # fmt: skip
    assert (a.share, a.rate, a.counts) == (p(2, 4), p(2, 4), [1, 0, 1])
    assert a.incidence == [p(1, 1), p(0, 1), p(1, 2)]
    assert (a.trend.latest, a.trend.before, a.trend.direction) == (p(1, 2), p(1, 2), "same")
    # Dr B: 2 of 3 counted findings (the overturned one is not a finding of the record)
    assert (b.provider, b.findings, b.share, b.rate) == ("Dr B", 2, p(2, 3), p(2, 4))
    assert b.incidence == [p(0, 1), p(1, 2), p(1, 1)]
    assert (b.trend.latest, b.trend.before, b.trend.direction) == (p(1, 1), p(1, 3), "worse")


def test_report_by_topic_cycle_and_matrix(org: Organization, world: Coder) -> None:
    r = documentation_report(organization=org)
    assert [(c.cycle, c.findings, c.incidence) for c in r.cycles] == [
        (Q1, 1, p(1, 2)),
        (Q2, 1, p(1, 3)),
        (Q3, 2, p(2, 3)),
    ]
    assert r.trend.direction == "worse"  # 2 of 3 after 2 of 5
    sepsis, none = r.topics
    assert (sepsis.topic, sepsis.findings, sepsis.share, sepsis.counts) == (
        "sepsis", 3, p(3, 4), [1, 1, 1],
    )  # fmt: skip
    assert sepsis.incidence == [p(1, 2), p(1, 3), p(1, 3)]
    assert sepsis.trend.direction == "better"  # 1 of 3 after 2 of 5
    assert (none.topic, none.findings, none.trend.direction) == ("", 1, "new")
    assert r.matrix_topics == ["sepsis", ""]
    assert r.matrix == [("Dr A", [1, 1]), ("Dr B", [2, 0])]


def test_report_filters(org: Organization, world: Coder) -> None:
    r = documentation_report(organization=org, filters=MetricFilters(provider="Dr B"))
    assert [x.provider for x in r.providers] == ["Dr B"]
    assert (r.total, r.all_findings, r.encounters) == (2, 3, 4)
    r = documentation_report(organization=org, filters=MetricFilters(cycle_from=Q2, coder="ben"))
    assert [(x.provider, x.findings) for x in r.providers] == [("Dr B", 1)]
    assert [c.cycle for c in r.cycles] == [Q2, Q3]
    empty = documentation_report(organization=org, filters=MetricFilters(cycle_from="2027"))
    assert (empty.total, empty.providers, empty.topics, empty.cycles) == (0, [], [], [])


def url(org: Organization, query: str = "") -> str:
    base = reverse("analytics:documentation", kwargs={"org_slug": org.slug})
    return f"{base}?{query}" if query else base


def test_permissions(
    assert_tenancy: Any,
    org: Organization,
    world: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
) -> None:
    assert_tenancy(url(org), allowed=[manager, auditor, educator, viewer], forbidden=[coder_user])


def test_page_links_every_count_to_the_drill_down(
    org: Organization, world: Coder, manager: User, client_for: Any
) -> None:
    response = client_for(manager).get(url(org, "cycle_from=2026-Q1"))
    assert response.status_code == 200
    drill = "/o/north-health/analytics/findings/?"
    ctx = response.context
    assert ctx["all_href"] == f"{drill}cycle_from=2026-Q1&root_cause=DOCUMENTATION"
    a = ctx["providers"][0]
    assert a["href"] == f"{drill}provider=Dr+A&cycle_from=2026-Q1&root_cause=DOCUMENTATION"
    assert a["cells"][0] == (
        1, f"{drill}provider=Dr+A&cycle_from=2026-Q1&root_cause=DOCUMENTATION&cycle=2026-Q1",
    )  # fmt: skip
    assert a["cells"][1] == (0, "")  # a zero is not a link
    sepsis, none = ctx["topics"]
    assert sepsis["href"] == f"{drill}cycle_from=2026-Q1&root_cause=DOCUMENTATION&topic=sepsis"
    assert none["href"] == ""  # "no topic" cannot be drilled into: the drill has no such filter
    assert ctx["matrix"][1]["cells"][0] == (
        2, f"{drill}provider=Dr+B&cycle_from=2026-Q1&root_cause=DOCUMENTATION&topic=sepsis",
    )  # fmt: skip
    body = response.content.decode()
    assert "worsening" in body
    assert "improving" in body
    # the drill-down behind Dr B × sepsis lists exactly those two findings
    drilled = client_for(manager).get(ctx["matrix"][1]["cells"][0][1])
    assert drilled.context["page"].paginator.count == 2


# The page shell (4), the filter bar's choices (7), the report's four grouped queries, the
# topic labels (1).
DOCUMENTATION_QUERIES = 16


def test_query_count_does_not_grow_with_the_data(
    org: Organization, world: Coder, manager: User, client_for: Any
) -> None:
    client = client_for(manager)
    before = count_queries(client, url(org))
    more(org, world)
    assert count_queries(client, url(org)) == before == DOCUMENTATION_QUERIES
