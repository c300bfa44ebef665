"""Exports of the analytics lists: drill-down findings and encounters, the coders list
(scorecards), a coder's top patterns and topics, and the documentation report.

The world is the analytics tests' hand-worked one (tests/analytics/test_scorecard.py) with
`more` of everything, so lists span several pages, cycles, providers and topics."""

from typing import Any

import pytest
from django.urls import reverse

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.analytics import views as analytics_views
from auditcoach.lib.exports import mask_account
from tests.analytics.test_scorecard import WORLD, build, more
from tests.conftest import AssertTenancy, ClientFor
from tests.exports.conftest import ScreenRows, as_cells, read_csv, read_xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org: Organization, coder: Coder) -> Coder:
    build(org, coder, WORLD)
    more(org, coder)
    return coder


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"analytics:{name}", kwargs={"org_slug": "north-health", **kwargs})


def finding_row(f: Any) -> list[Any]:
    """A drill-down row as analytics/findings.html shows it."""
    e = f.encounter
    return [
        e.cycle,
        mask_account(e.external_id),
        e.coder.label if e.coder else "",
        e.provider.name if e.provider else "",
        f.kind,
        "" if f.group == "-" else f.group,
        f.original_text,
        f.audited_text,
        f.original_value,
        f.audited_value,
        f.get_status_display(),
        f.pattern,
        f.topic,
        f.get_root_cause_display() if f.root_cause else "",
    ]


@pytest.mark.parametrize(
    "params", [{}, {"cycle": "2026-Q2"}, {"root_cause": "DOCUMENTATION"}, {"repeat": "1"}]
)
def test_drill_findings_xlsx_equals_every_page(
    client_for: ClientFor,
    manager: User,
    world: Coder,
    screen_rows: ScreenRows,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
) -> None:
    monkeypatch.setattr(analytics_views, "FINDINGS_PER_PAGE", 4)
    client = client_for(manager)
    shown = screen_rows(client, url("findings"), **params)
    assert shown
    sheet = read_xlsx(client.get(url("findings"), {**params, "export": "xlsx"}))
    assert sheet[0][:4] == ["Cycle", "Encounter", "Coder", "Provider"]
    assert sheet[1:] == [[as_cells(v) for v in finding_row(f)] for f in shown]
    if not params:
        assert len(shown) > 4


def test_drill_encounters_xlsx_and_csv_equal_every_page(
    client_for: ClientFor,
    auditor: User,
    world: Coder,
    screen_rows: ScreenRows,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(analytics_views, "FINDINGS_PER_PAGE", 5)
    client = client_for(auditor)
    shown = screen_rows(client, url("encounters"))
    assert len(shown) > 5
    sheet = read_xlsx(client.get(url("encounters"), {"export": "xlsx"}))
    assert sheet[0] == [
        "Cycle",
        "Encounter",
        "Setting",
        "Coder",
        "Provider",
        "Facility",
        "Findings",
    ]
    want = [
        [
            e.cycle,
            mask_account(e.external_id),
            e.get_setting_display(),
            e.coder.label if e.coder else "",
            e.provider.name if e.provider else "",
            e.facility.name if e.facility else "",
            e.finding_count,
        ]
        for e in shown
    ]
    assert sheet[1:] == [[as_cells(v) for v in row] for row in want]
    rows = read_csv(client.get(url("encounters"), {"export": "csv", "accounts": "1"}))
    assert [r[1] for r in rows[1:]] == [e.external_id for e in shown]
    assert [r[6] for r in rows[1:]] == [str(e.finding_count) for e in shown]


def share(p: Any) -> list[Any]:
    return [p.value, p.successes, p.n]


def test_coders_list_xlsx_equals_the_screen(
    client_for: ClientFor, manager: User, world: Coder, screen_rows: ScreenRows
) -> None:
    client = client_for(manager)
    shown = [row["s"] for row in screen_rows(client, url("coders"))]
    assert len(shown) > 1
    sheet = read_xlsx(client.get(url("coders"), {"export": "xlsx"}))
    assert sheet[0][:3] == ["Coder", "Encounters", "Code accuracy"]
    want = [
        [
            s.coder.label,
            s.encounters,
            *share(s.accuracy),
            s.latest_cycle,
            *share(s.latest_accuracy),
            s.latest_repeats,
            s.latest_findings,
            s.signals,
            s.open_education,
            s.overdue_education,
        ]
        for s in shown
    ]
    assert sheet[1:] == [[as_cells(v) for v in row] for row in want]
    csv_rows = read_csv(client.get(url("coders"), {"export": "csv"}))
    # Percents in CSV as the screen writes them, "87.5%".
    assert csv_rows[1][2] == (
        f"{shown[0].accuracy.value * 100:.1f}%" if shown[0].accuracy.n else ""
    )


def trend(t: dict[str, Any]) -> str:
    return t["word"] + (" (significant)" if t["significant"] else "")


def test_top_patterns_xlsx_equals_the_scorecard(
    client_for: ClientFor, educator: User, world: Coder
) -> None:
    client = client_for(educator)
    page = client.get(url("scorecard", coder_id=world.public_id))
    labels = page.context["topic_labels"]
    cycles = [c.cycle for c in page.context["card"].cycles]
    shown = [("Pattern", r["key"], r) for r in page.context["patterns"]] + [
        ("Topic", labels.get(r["key"], r["key"]), r) for r in page.context["topics"]
    ]
    assert shown
    sheet = read_xlsx(client.get(url("scorecard", coder_id=world.public_id), {"export": "xlsx"}))
    assert sheet[0] == ["Pattern or topic", "Key", *cycles, "Total", "Latest incidence", "Trend"]
    for got, (what, key, r) in zip(sheet[1:], shown, strict=True):
        assert got[:2] == [what, key]
        assert got[2 : 2 + len(cycles)] == [float(n) for n, _ in r["cells"]]
        assert got[2 + len(cycles)] == float(r["total"])
        assert got[-1] == trend(r["trend"])


def test_documentation_xlsx_equals_the_report(
    client_for: ClientFor, viewer: User, world: Coder
) -> None:
    client = client_for(viewer)
    page = client.get(url("documentation"))
    labels = page.context["topic_labels"]
    cycles = [c.cycle for c in page.context["report"].cycles]
    providers = page.context["providers"]
    topics = page.context["topics"]
    assert providers
    assert topics
    sheet = read_xlsx(client.get(url("documentation"), {"export": "xlsx"}))
    assert sheet[0] == [
        "Provider or topic",
        "Name",
        "Findings",
        "Share",
        "Encounters affected",
        *cycles,
        "Trend",
    ]
    want = [
        [
            "Provider",
            r["p"].provider or "(no provider)",
            r["p"].findings,
            r["p"].share.value,
            r["p"].affected,
            *[n for n, _ in r["cells"]],
            trend(r["trend"]),
        ]
        for r in providers
    ] + [
        [
            "Topic",
            labels.get(r["t"].topic, r["t"].topic) if r["t"].topic else "(no topic)",
            r["t"].findings,
            r["t"].share.value,
            None,
            *[n for n, _ in r["cells"]],
            trend(r["trend"]),
        ]
        for r in topics
    ]
    assert sheet[1:] == [[as_cells(v) for v in row] for row in want]


@pytest.mark.parametrize("name", ["findings", "encounters", "coders", "documentation"])
def test_analytics_export_checklist(
    assert_tenancy: AssertTenancy,
    world: Coder,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    name: str,
) -> None:
    for fmt in ("csv", "xlsx"):
        assert_tenancy(
            f"{url(name)}?export={fmt}",
            allowed=[manager, auditor, educator, viewer],
            forbidden=[coder_user],
        )
        assert_tenancy(
            f"{url(name)}?export={fmt}&accounts=1",
            allowed=[manager, auditor],
            forbidden=[educator, viewer, coder_user],
        )


def test_scorecard_export_checklist(
    assert_tenancy: AssertTenancy,
    world: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    client_for: ClientFor,
    coder_user: User,
) -> None:
    target = url("scorecard", coder_id=world.public_id)
    assert_tenancy(f"{target}?export=xlsx", allowed=[manager, auditor, educator, viewer])
    # A coder gets the scorecard's own answer: a 404 for any coder's scorecard.
    assert client_for(coder_user).get(target, {"export": "xlsx"}).status_code == 404
