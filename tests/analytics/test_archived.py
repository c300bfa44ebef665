"""Archived audits count nowhere: `auditcoach metrics`, the dashboard, scorecards' and the
report's selectors, education effectiveness and overread consistency leave them out, as if
the organization had never imported them; unarchiving restores every number.

The expected numbers come from a second organization that imported the same workbooks
except the archived one (the metrics are checked against `engine/metrics.py` in
tests/analytics/test_command.py and test_selectors.py).
"""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.analytics import selectors
from auditcoach.audits.models import Audit, Encounter, Finding
from auditcoach.audits.services import audit_archive, audit_unarchive
from auditcoach.education.models import EducationAssignment
from auditcoach.overreads.models import OverreadPlan
from auditcoach.overreads.selectors import consistency_report
from tests.analytics.test_command import WORKBOOKS, metrics_json, write_workbook
from tests.analytics.test_dashboard import Q1, Q2
from tests.conftest import ClientFor
from tests.overreads.builders import make_auditor, make_done_overread

pytestmark = pytest.mark.django_db


def _import(org: Organization, folder: Path, name: str, released: bool) -> Audit:
    args = [str(folder), "--org", org.slug, "--audit", name]
    call_command("import", *args, *(["--released"] if released else []))
    return Audit.objects.get(organization=org, name=name)


def _load(org: Organization, tmp_path: Path, skip: str = "") -> dict[str, Audit]:
    audits = {}
    for name, released, specs in WORKBOOKS:
        if name != skip:
            folder = write_workbook(tmp_path / f"{org.slug}-{name}", specs)
            audits[name] = _import(org, folder, name, released)
    return audits


def test_metrics_leave_an_archived_audit_out_exactly(
    org: Organization,
    other_org: Organization,
    manager: User,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    audits = _load(org, tmp_path)
    _load(other_org, tmp_path, skip="w2")  # the same history without w2 (2026-Q3)
    everything = metrics_json(capsys, org.slug)
    without_w2 = metrics_json(capsys, other_org.slug)
    # w2 matters: it holds Q3, and Ben's Q4 REVISED E11 repeats its B2.
    assert everything != without_w2
    assert "2026-Q3" not in [c["cycle"] for c in without_w2["cycles"]]

    audit_archive(audit=audits["w2"], actor=manager)
    assert metrics_json(capsys, org.slug) == without_w2

    audit_unarchive(audit=audits["w2"], actor=manager)
    assert metrics_json(capsys, org.slug) == everything


def test_selectors_behind_scorecards_and_reports_leave_it_out(
    org: Organization, other_org: Organization, manager: User, tmp_path: Path
) -> None:
    audits = _load(org, tmp_path)
    _load(other_org, tmp_path, skip="w2")
    w2 = audits["w2"]
    encounters = Encounter.objects.filter(audit=w2).count()
    findings = Finding.objects.filter(encounter__audit=w2).count()
    before = (
        selectors.released_encounters(organization=org).count(),
        selectors.counted_findings(organization=org).count(),
        selectors.released_findings(organization=org).count(),
    )
    audit_archive(audit=w2, actor=manager)
    after = (
        selectors.released_encounters(organization=org).count(),
        selectors.counted_findings(organization=org).count(),
        selectors.released_findings(organization=org).count(),
    )
    assert after == (before[0] - encounters, before[1] - findings, before[2] - findings)
    assert after == (
        selectors.released_encounters(organization=other_org).count(),
        selectors.counted_findings(organization=other_org).count(),
        selectors.released_findings(organization=other_org).count(),
    )
    # The drill-down behind every chart mark (and so the scorecards and the
    # documentation report, which list it) has none of w2's findings.
    drilled = selectors.drill_findings(
        organization=org, filters=selectors.MetricFilters(), drill=selectors.Drill()
    )
    assert not drilled.filter(encounter__audit=w2).exists()


def test_education_effectiveness_leaves_it_out(
    org: Organization, other_org: Organization, manager: User, tmp_path: Path
) -> None:
    audits = _load(org, tmp_path)
    _load(other_org, tmp_path, skip="w2")

    def assignment(o: Organization) -> int:
        return EducationAssignment.objects.create(
            organization=o,
            coder=Coder.objects.get(organization=o, name="ana"),
            pattern_key="ADDED:DX:E87",
            resource_title="Hyponatremia",
            due_date=datetime(2026, 2, 1, tzinfo=UTC).date(),
            status=EducationAssignment.Status.COMPLETED,
            completed_at=datetime(2026, 2, 1, 12, tzinfo=UTC),
            attestation=True,
        ).pk

    mine, theirs = assignment(org), assignment(other_org)
    before = selectors.effectiveness(organization=org)[mine]
    audit_archive(audit=audits["w2"], actor=manager)
    after = selectors.effectiveness(organization=org)[mine]
    expected = selectors.effectiveness(organization=other_org)[theirs]
    assert after.after == expected.after
    assert after.after.n == before.after.n - 1  # A4, Ana's one encounter of w2


def test_overread_consistency_leaves_it_out(
    org: Organization, manager: User, auditor: User, tmp_path: Path
) -> None:
    audits = _load(org, tmp_path)
    second = make_auditor(org, "auditor2", "Bea", "Second")
    plan = OverreadPlan.objects.create(organization=org, auditor=auditor, cycle="2026-Q3", share=50)
    for encounter in Encounter.objects.filter(audit=audits["w2"]):
        make_done_overread(plan, encounter, second, ("I10",))
    a1 = Encounter.objects.get(audit=audits["w1"], external_id="A1")
    make_done_overread(plan, a1, second, ("I10",))
    assert consistency_report(org).overall.overreads == 3
    audit_archive(audit=audits["w2"], actor=manager)
    assert consistency_report(org).overall.overreads == 1
    audit_unarchive(audit=audits["w2"], actor=manager)
    assert consistency_report(org).overall.overreads == 3


def _section(html: str, widget: str) -> str:
    start = html.index(f'id="{widget}"')
    return html[start : html.index("</section>", start)]


def test_the_dashboard_changes_exactly_by_the_archived_audit(
    client_for: ClientFor,
    org: Organization,
    other_org: Organization,
    manager: User,
    outsider: User,
    tmp_path: Path,
) -> None:
    q1 = _import(org, write_workbook(tmp_path / "q1", Q1), "Q1", True)
    q2 = _import(org, write_workbook(tmp_path / "q2", Q2), "Q2", True)
    _import(other_org, write_workbook(tmp_path / "other-q1", Q1), "Q1", True)
    mine = reverse("analytics:dashboard", kwargs={"org_slug": org.slug})
    theirs = reverse("analytics:dashboard", kwargs={"org_slug": other_org.slug})

    def widgets(client: Any, target: str, slug: str) -> list[str]:
        html = client.get(target).content.decode().replace(slug, "ORG")
        # Saved-view and CSRF bits differ per page; the widgets' numbers must not.
        html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", html)
        return [_section(html, w) for w in ("widget-accuracy", "widget-pchart", "widget-repeats")]

    page = client_for(manager).get(mine).content.decode()
    assert "2026-Q2: 66.7%" in page  # both cycles count (see test_dashboard.py)
    assert "42.9%" in _section(page, "widget-pchart")  # 3 errors / 7 codes

    audit_archive(audit=q2, actor=manager)
    page = client_for(manager).get(mine).content.decode()
    assert "2026-Q2: 66.7%" not in page
    assert "50.0%" in _section(page, "widget-pchart")  # Q1 alone: 2 / 4
    assert widgets(client_for(manager), mine, org.slug) == widgets(
        client_for(outsider), theirs, other_org.slug
    )

    audit_unarchive(audit=q2, actor=manager)
    assert "2026-Q2: 66.7%" in client_for(manager).get(mine).content.decode()
    assert q1.archived_at is None
