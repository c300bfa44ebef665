"""The dashboard: who may open it, its numbers on hand-worked data, drill-down to the exact
findings behind a mark, a query count that does not grow with the data, and saved views."""

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.analytics.models import DashboardView
from auditcoach.audits.models import Finding
from tests.analytics.test_command import write_workbook
from tests.conftest import AssertTenancy, ClientFor

pytestmark = pytest.mark.django_db

# Two released cycles of outpatient DX coding (see tests/analytics/test_command.py):
# Q1  A1 I10 I50.9 → I10 I50.23    REVISED I50                     A=2 err=1
#     B1 E11.9 → E11.9 I10          ADDED I10                       A=2 err=1
# Q2  A2 I10 I50.9 → I10 I50.23    REVISED I50 (repeat of Q1)      A=2 err=1
#     B2 E11.9 → E11.9              clean                           A=1 err=0
# Code accuracy: Q1 (4 − 2)/4 = 50.0%, Q2 (3 − 1)/3 = 66.7%. Repeats: Q1 0/2, Q2 1/1.
Q1 = [
    ("A1", "coder.ana", "2026-Q1", ["I10", "I50.9"], ["I10", "I50.23"]),
    ("B1", "coder.ben", "2026-Q1", ["E11.9"], ["E11.9", "I10"]),
]
Q2 = [
    ("A2", "coder.ana", "2026-Q2", ["I10", "I50.9"], ["I10", "I50.23"]),
    ("B2", "coder.ben", "2026-Q2", ["E11.9"], ["E11.9"]),
]


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"analytics:{name}", kwargs={"org_slug": "north-health", **kwargs})


def load(org: Organization, tmp_path: Path, *batches: list[Any]) -> None:
    from django.core.management import call_command

    for i, batch in enumerate(batches):
        folder = write_workbook(tmp_path / f"wb{i}", batch)
        name = f"{tmp_path.name} {i}"
        call_command("import", str(folder), "--org", org.slug, "--audit", name, "--released")


@pytest.fixture
def data(org: Organization, tmp_path: Path) -> Organization:
    load(org, tmp_path, Q1, Q2)
    return org


def test_who_may_open_it(
    data: Organization,
    assert_tenancy: AssertTenancy,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
) -> None:
    for name in ("dashboard", "findings", "encounters"):
        assert_tenancy(
            url(name), allowed=[manager, auditor, educator, viewer], forbidden=[coder_user]
        )


def test_the_numbers_and_their_links(
    data: Organization, client_for: ClientFor, auditor: User
) -> None:
    page = client_for(auditor).get(url("dashboard")).content.decode()
    # Accuracy by cycle: the points' tooltips carry value, interval and counts.
    assert "2026-Q1: 50.0%" in page
    assert "2/4 codes" in page
    assert "2026-Q2: 66.7%" in page
    # Repeats: Q2 has one repeat of one finding, linked to exactly that.
    repeat_link = url("findings") + "?cycle=2026-Q2&amp;repeat=1"
    assert repeat_link in page
    assert "1 of 1 findings" in page
    # The p-chart's centre: 3 errors / 7 audited codes over both cycles.
    pchart = page[page.index('id="widget-pchart"') :]
    assert "42.9%" in pchart[: pchart.index("</section>")]
    # Top patterns: REVISED:DX:I50 twice, linked to its findings.
    assert url("findings") + "?pattern=REVISED%3ADX%3AI50" in page


def test_drill_down_lists_exactly_the_findings_behind_a_mark(
    data: Organization, client_for: ClientFor, auditor: User
) -> None:
    client = client_for(auditor)
    page = client.get(url("findings"), {"pattern": "REVISED:DX:I50"})
    body = page.content.decode()
    assert "2 findings" in body
    assert ">A1<" in body
    assert ">A2<" in body
    assert ">B1<" not in body
    repeats = client.get(url("findings"), {"cycle": "2026-Q2", "repeat": "1"}).content.decode()
    assert "1 finding " in repeats
    assert ">A2<" in repeats
    # With the filter bar: coder.ben only.
    bens = client.get(url("findings"), {"coder": "coder.ben"}).content.decode()
    assert ">B1<" in bens
    assert ">A1<" not in bens
    # The encounters behind a cycle.
    encounters = client.get(url("encounters"), {"cycle": "2026-Q1"}).content.decode()
    assert "2 encounters" in encounters


def test_the_query_count_does_not_grow_with_the_data(
    org: Organization, tmp_path: Path, client_for: ClientFor, manager: User
) -> None:
    client = client_for(manager)
    load(org, tmp_path, Q1)
    client.get(url("dashboard"))  # warm the session and caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(url("dashboard")).status_code == 200
    more = [
        # Encounter ids unique per cycle: `auditcoach import` refuses repeated ones.
        [(f"{e[0]}-{n}{i}", e[1], f"2026-Q{n}", e[3], e[4]) for e in Q1 + Q2 for i in range(5)]
        for n in (3, 4)
    ]
    (tmp_path / "more").mkdir()
    load(org, tmp_path / "more", *more)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url("dashboard")).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    # Pinned: a change that adds queries to the dashboard shows up here. (24: the
    # disputes widget reads the auditors' display names, one query.)
    assert len(large.captured_queries) <= 24, [q["sql"][:120] for q in large.captured_queries]


def test_saved_views_are_private_until_shared(
    data: Organization, client_for: ClientFor, auditor: User, manager: User, viewer: User
) -> None:
    client = client_for(auditor)
    response = client.post(
        url("view_save"),
        {
            "name": "Ben's patterns",
            "widgets": ["patterns", "accuracy"],
            "position_patterns": "1",
            "position_accuracy": "2",
            "coder": "coder.ben",
            "save_as": "new",
        },
    )
    assert response.status_code == 302
    view = DashboardView.objects.get(name="Ben's patterns")
    assert view.widgets == ["patterns", "accuracy"]
    assert view.filters == {"coder": "coder.ben"}
    page = client.get(url("dashboard"), {"view": str(view.public_id)}).content.decode()
    assert page.index('id="widget-patterns"') < page.index('id="widget-accuracy"')
    assert 'id="widget-pchart"' not in page
    assert "2026-Q2: 100.0%" in page  # Ben's Q2: 1/1 codes right (the view's filter)
    # Not shared yet: another member cannot open it.
    other = client_for(viewer).get(url("dashboard"), {"view": str(view.public_id)})
    assert other.status_code == 404
    client.post(
        url("view_save"),
        {
            "name": "Ben's patterns",
            "widgets": ["patterns"],
            "shared": "1",
            "view": str(view.public_id),
        },
    )
    view.refresh_from_db()
    assert view.shared
    assert view.widgets == ["patterns"]
    assert (
        client_for(viewer).get(url("dashboard"), {"view": str(view.public_id)}).status_code == 200
    )
    # Only the owner changes or deletes it.
    client_for(manager).post(
        url("view_save"), {"name": "Mine now", "widgets": ["patterns"], "view": str(view.public_id)}
    )
    view.refresh_from_db()
    assert view.name == "Ben's patterns"
    client_for(manager).post(url("view_delete", view_id=view.public_id))
    assert DashboardView.objects.filter(pk=view.pk).exists()
    client.post(url("view_delete", view_id=view.public_id))
    assert not DashboardView.objects.filter(pk=view.pk).exists()


def test_an_overturned_finding_leaves_the_counts_but_shows_under_overturned(
    data: Organization, client_for: ClientFor, auditor: User
) -> None:
    finding = Finding.objects.get(encounter__external_id="B1")
    # Mirrors an overturn (coaching.services.finding_decide) without the regrouping.
    Finding.objects.filter(pk=finding.pk).update(
        status="overturned", decision="overturned", active=False
    )
    client = client_for(auditor)
    assert ">B1<" not in client.get(url("findings")).content.decode()
    assert ">B1<" in client.get(url("findings"), {"overturned": "1"}).content.decode()
