"""List pages and the consistency page: query counts do not grow with rows; the sidebar."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit
from auditcoach.overreads.models import OverreadPlan
from auditcoach.overreads.services import overread_plan_create
from tests.conftest import ClientFor
from tests.overreads.builders import make_done_overread, make_reviewed

pytestmark = pytest.mark.django_db

PAGES = ("/o/north-health/overreads/", "/o/north-health/overreads/plans/",
         "/o/north-health/overreads/consistency/", "/o/north-health/overreads/calibration/")  # fmt: skip


def add_overreads(plan: OverreadPlan, audit: Audit, reviewer: User, start: int, n: int) -> None:
    for i in range(start, start + n):
        e = make_reviewed(audit, plan.auditor, f"E{i}", audited=("I10", "E119"),
                          audited_drg="292", topics=("t1", "t2"))  # fmt: skip
        make_done_overread(plan, e, reviewer, ("I10",), drg="293", has_findings=True)


def queries(client_for: ClientFor, user: User, url: str) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_overreads(
    client_for: ClientFor, org: Organization, manager: User, auditor: User, second: User
) -> None:
    audit = Audit.objects.create(organization=org, name="Q2")
    plan = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=100, actor=manager
    )
    add_overreads(plan, audit, manager, 0, 2)
    before = {url: queries(client_for, manager, url) for url in PAGES}
    add_overreads(plan, audit, manager, 2, 6)
    after = {url: queries(client_for, manager, url) for url in PAGES}
    assert after == before
    assert before["/o/north-health/overreads/consistency/"] <= 12


def test_sidebar_shows_overreads_to_auditors_and_consistency_to_managers(
    client_for: ClientFor, manager: User, auditor: User, coder_user: User
) -> None:
    page = client_for(manager).get("/o/north-health/overreads/").content.decode()
    assert "My overreads" in page
    assert "Consistency" in page
    assert "Overread plans" in page
    page = client_for(auditor).get("/o/north-health/overreads/").content.decode()
    assert "My overreads" in page
    assert "Consistency" not in page
    page = client_for(coder_user).get("/o/north-health/").content.decode()
    assert "My overreads" not in page
