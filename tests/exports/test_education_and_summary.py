"""Exports of the education list and an audit's summary (its Scores table), as on screen."""

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.audits.models import Audit
from auditcoach.education import services
from auditcoach.education.models import EducationAssignment
from auditcoach.education.views import LIST_LIMIT
from tests.conftest import AssertTenancy, ClientFor
from tests.exports.conftest import as_cells, number_formats, read_csv, read_xlsx, read_xlsx_bytes
from tests.factories import CoderFactory

pytestmark = pytest.mark.django_db

EDUCATION = "/o/north-health/education/"


@pytest.fixture
def assignments(org: Organization, coder: Coder, educator: User) -> list[EducationAssignment]:
    other = CoderFactory(organization=org, name="Other Coder")
    made = services.assignments_create(
        organization=org,
        coders=[coder, other],
        pattern_key="ADDED:DX:J96",
        topic="respiratory failure",
        resource_title="=ARF refresher",  # formula-looking on purpose
        resource_url="https://example.org/arf",
        due_date=timezone.localdate() + timedelta(days=7),
        actor=educator,
    )
    made += services.assignments_create(
        organization=org,
        coders=[coder],
        pattern_key="",
        topic="sepsis",
        resource_title="Sepsis-3 criteria",
        resource_url="https://example.org/sepsis",
        due_date=timezone.localdate() + timedelta(days=3),
        actor=educator,
    )
    # One overdue, one completed with a quiz score (states the list shows differently).
    EducationAssignment.objects.filter(pk=made[1].pk).update(
        due_date=timezone.localdate() - timedelta(days=2)
    )
    EducationAssignment.objects.filter(pk=made[2].pk).update(
        status=EducationAssignment.Status.COMPLETED,
        completed_at=timezone.now(),
        attestation=True,
        quiz_score=90,
    )
    return made


def assignment_row(a: Any) -> list[Any]:
    """A row as education/list.html shows it (dates in the current time zone)."""
    status = "Completed" if a.status == "completed" else ("Overdue" if a.overdue else "Assigned")
    return [
        a.resource_title,
        timezone.localtime(a.assigned_at).date(),
        a.assigned_by.display_name if a.assigned_by else "",
        a.coder.label,
        a.pattern_key,
        a.topic,
        a.due_date,
        status,
        timezone.localtime(a.completed_at).date() if a.completed_at else None,
        a.quiz_score,
    ]


@pytest.mark.parametrize("status", ["", "open", "completed"])
def test_education_xlsx_equals_the_list(
    client_for: ClientFor,
    educator: User,
    assignments: list[EducationAssignment],
    status: str,
) -> None:
    client = client_for(educator)
    params = {"status": status} if status else {}
    shown = list(client.get(EDUCATION, params).context["assignments"])
    assert shown
    assert len(shown) < LIST_LIMIT  # the page shows them all: it must equal the file
    response = client.get(EDUCATION, {**params, "export": "xlsx"})
    data = b"".join(response.streaming_content)
    sheet = read_xlsx_bytes(data)
    assert sheet[0] == [
        "Education",
        "Assigned",
        "Assigned by",
        "Coder",
        "Pattern",
        "Topic",
        "Due",
        "Status",
        "Completed",
        "Quiz",
    ]
    assert sheet[1:] == [[as_cells(v) for v in assignment_row(a)] for a in shown]
    assert number_formats(data)["Due"] == "yyyy-mm-dd"


def test_education_csv_neutralises_and_a_coder_gets_only_their_own(
    client_for: ClientFor, coder_user: User, coder: Coder, assignments: list[EducationAssignment]
) -> None:
    client = client_for(coder_user)
    shown = list(client.get(EDUCATION).context["assignments"])
    rows = read_csv(client.get(EDUCATION, {"export": "csv"}))
    assert len(rows) - 1 == len(shown)
    assert {r[3] for r in rows[1:]} == {coder.label}
    titles = sorted(r[0] for r in rows[1:])
    assert "'=ARF refresher" in titles  # the formula-looking title, neutralised
    assert (
        sorted(
            a.resource_title if not a.resource_title.startswith("=") else "'" + a.resource_title
            for a in shown
        )
        == titles
    )


def test_education_export_checklist(
    assert_tenancy: AssertTenancy,
    assignments: list[EducationAssignment],
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    for fmt in ("csv", "xlsx"):
        assert_tenancy(
            f"{EDUCATION}?export={fmt}",
            allowed=[manager, auditor, educator, viewer, coder_user],
        )
        assert_tenancy(
            f"{EDUCATION}?export={fmt}&accounts=1",
            allowed=[manager, auditor],
            forbidden=[educator, viewer, coder_user],
        )


# --------------------------------------------------------------------------- summary


def summary_url(audit: Audit) -> str:
    return reverse(
        "audits:detail", kwargs={"org_slug": "north-health", "audit_id": audit.public_id}
    )


def test_summary_scores_xlsx_equal_the_screen(
    client_for: ClientFor, viewer: User, worked: Audit
) -> None:
    client = client_for(viewer)
    shown = client.get(summary_url(worked)).context["score_rows"]
    sheet = read_xlsx(client.get(summary_url(worked), {"export": "xlsx"}))
    assert sheet[0] == ["Score", "Definition", "Value", "Of", "n", "95% CI low", "95% CI high"]
    want = []
    for row in shown:
        p = row.cell.prop
        ci = p.interval
        want.append(
            [
                row.label,
                row.detail,
                p.value,
                p.successes,
                p.n,
                ci[0] if ci else None,
                ci[1] if ci else None,
            ]
        )
    assert sheet[1:] == [[as_cells(v) for v in r] for r in want]
    # And in words as the screen writes them: "87.5%".
    rows = read_csv(client.get(summary_url(worked), {"export": "csv"}))
    assert [r[2] for r in rows[1:]] == [row.cell.value if row.cell.defined else "" for row in shown]


def test_summary_export_checklist(
    assert_tenancy: AssertTenancy,
    worked: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    assert_tenancy(
        f"{summary_url(worked)}?export=xlsx",
        allowed=[manager, auditor, educator, viewer],
        forbidden=[coder_user],
    )
