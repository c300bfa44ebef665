"""A manager reads the dashboard: filters it, clicks a chart bar through to the findings
behind it, and saves the arrangement as a shared view."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from auditcoach.analytics.models import DashboardView
from tests.analytics.test_dashboard import Q1, Q2, load
from tests.browser.test_review_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_from_a_chart_bar_to_the_findings_behind_it(
    page: Page,
    live_server: Any,
    org: Organization,
    manager: User,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    load(org, tmp_path, Q1, Q2)
    sign_in(page, live_server.url, "manager")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    patterns = page.locator("#widget-patterns")
    expect(patterns.get_by_role("heading", name="Top patterns")).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # The first bar is REVISED:DX:I50 (2 findings); clicking it lists exactly those.
    bar = patterns.locator("svg a").first
    expect(bar.locator("title")).to_have_text("REVISED:DX:I50: 2 → steady — 2 findings")
    bar.click()
    expect(page.get_by_role("heading", name="Findings: pattern REVISED:DX:I50")).to_be_visible()
    rows = page.locator("#drill-findings tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("A2")
    expect(rows.nth(1)).to_contain_text("A1")
    page.screenshot(path=str(artifacts / "dashboard-drill.png"), full_page=True)

    # Back to the dashboard, filtered to coder.ben: his Q2 is clean (100.0%).
    page.get_by_role("link", name="Dashboard").first.click()
    page.get_by_label("Coder").select_option("coder.ben")
    page.get_by_role("button", name="Apply").click()
    accuracy = page.locator("#widget-accuracy")
    expect(accuracy.locator("svg title").filter(has_text="2026-Q2")).to_contain_text("100.0%")

    # Keep this arrangement: only the accuracy and pattern widgets, shared.
    page.locator("#customize summary").click()
    for title in ("Code errors: p-chart", "Repeat findings by cycle", "Time to resolution",
                  "Disputes and overturns by auditor", "Education", "Auditor consistency"):  # fmt: skip
        page.get_by_role("checkbox", name=title, exact=True).uncheck()
    page.get_by_label("Name").fill("Ben's accuracy")
    page.get_by_label("Share with the organization").check()
    page.get_by_role("button", name="Save as my view").click()
    expect(page.get_by_text("Saved the view “Ben's accuracy”.")).to_be_visible()
    expect(page.locator(".widget")).to_have_count(2)
    view = DashboardView.objects.get(name="Ben's accuracy")
    assert view.shared
    assert view.filters == {"coder": "coder.ben"}
    assert view.widgets == ["accuracy", "patterns"]
    page.screenshot(path=str(artifacts / "dashboard-view.png"), full_page=True)
