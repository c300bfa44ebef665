"""A viewer (a client executive, say) reads what they may: the dashboard, the coder
scorecards, the documentation report and an audit's summary; every write control is absent
and the browser reports no error on any of those pages (the `page` fixture checks it)."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Organization, User
from tests.analytics.test_dashboard import Q1, Q2, load
from tests.browser.test_review_journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_viewer_reads_the_reports_and_can_change_nothing(
    page: Page,
    live_server: Any,
    org: Organization,
    viewer: User,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    load(org, tmp_path, Q1, Q2)
    sign_in(page, live_server.url, "viewer")
    # A viewer lands on the dashboard.
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(page.locator("#widget-patterns svg a").first).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for write in ("Import an audit", "Members", "Settings", "Rosters", "Assign education"):
        expect(nav.get_by_role("link", name=write, exact=True)).to_have_count(0)
    page.screenshot(path=str(artifacts / "viewer-dashboard.png"), full_page=True)

    nav.get_by_role("link", name="Coder scorecards").click()
    expect(page.get_by_role("heading", name="Coders", exact=True)).to_be_visible()
    nav.get_by_role("link", name="Documentation patterns").click()
    expect(page.get_by_role("heading", name="Documentation patterns")).to_be_visible()

    nav.get_by_role("link", name="All audits").click()
    page.get_by_role("link", name=f"{tmp_path.name} 1").click()
    expect(page.locator(".scores-table")).to_be_visible()
    expect(page.get_by_role("button", name="Release")).to_have_count(0)
    page.screenshot(path=str(artifacts / "viewer-summary.png"), full_page=True)
