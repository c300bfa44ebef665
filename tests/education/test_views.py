"""Education pages: the tenancy checklist, assign from a finding, coder completion."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.education import services
from auditcoach.education.models import EducationAssignment
from tests.conftest import AssertTenancy, ClientFor
from tests.education.builders import make_audit, make_encounter, make_finding
from tests.factories import CoderFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
BASE = "/o/north-health/education/"


def _assignment(org: Organization, coder: Coder, actor: User) -> EducationAssignment:
    return services.assignments_create(
        organization=org,
        coders=[coder],
        pattern_key="ADDED:DX:J96",
        resource_title="ARF refresher",
        resource_url="https://example.org/arf",
        due_date=timezone.localdate() + timedelta(days=7),
        actor=actor,
    )[0]


@pytest.fixture
def other_coder(org: Organization) -> Coder:
    user = UserFactory(username="coder2")
    MembershipFactory(user=user, organization=org, role="coder")
    return CoderFactory(organization=org, user=user, name="Other Coder")


def test_list_tenancy_and_coder_sees_only_own(
    org: Organization,
    coder: Coder,
    other_coder: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
    assert_tenancy: AssertTenancy,
    client_for: ClientFor,
) -> None:
    _assignment(org, coder, educator)
    theirs = _assignment(org, other_coder, educator)
    theirs.resource_title = "Someone else's"
    theirs.save(update_fields=["resource_title"])
    assert_tenancy(BASE, allowed=[manager, auditor, educator, viewer, coder_user])
    html = client_for(coder_user).get(BASE).content.decode()
    assert "ARF refresher" in html
    assert "Someone else" not in html
    assert "My education" in html
    html = client_for(educator).get(BASE).content.decode()
    assert "Someone else" in html
    assert 'id="metric-overdue"' in html


def test_detail_of_another_coder_is_404(
    org: Organization,
    coder: Coder,
    other_coder: Coder,
    educator: User,
    viewer: User,
    coder_user: User,
    assert_tenancy: AssertTenancy,
    client_for: ClientFor,
) -> None:
    mine = _assignment(org, coder, educator)
    theirs = _assignment(org, other_coder, educator)
    assert_tenancy(f"{BASE}{mine.public_id}/", allowed=[educator, viewer, coder_user])
    assert client_for(coder_user).get(f"{BASE}{theirs.public_id}/").status_code == 404
    response = client_for(coder_user).post(
        f"{BASE}{theirs.public_id}/complete/", {"attest": "on", "attestation_text": "x"}
    )
    assert response.status_code == 404


def test_assign_form_tenancy_and_prefill_from_a_finding(
    org: Organization,
    coder: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
    assert_tenancy: AssertTenancy,
    client_for: ClientFor,
) -> None:
    assert_tenancy(
        f"{BASE}assign/",
        allowed=[manager, auditor, educator],
        forbidden=[viewer, coder_user],
        wrong_method="put",
    )
    finding = make_finding(make_encounter(make_audit(org, "Q1"), coder, "E1", codes=("J9601",)))
    response = client_for(educator).get(f"{BASE}assign/?finding={finding.public_id}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="ADDED:DX:J96"' in html
    assert str(finding.public_id) in html
    assert client_for(educator).get(f"{BASE}assign/?finding=nope").status_code == 404


def test_viewer_cannot_post_assign(
    org: Organization, coder: Coder, viewer: User, client_for: ClientFor
) -> None:
    response = client_for(viewer).post(f"{BASE}assign/", {"coders": [coder.pk]})
    assert response.status_code == 403
    assert not EducationAssignment.objects.exists()


def test_assign_to_many_through_the_form(
    org: Organization, coder: Coder, other_coder: Coder, educator: User, client_for: ClientFor
) -> None:
    finding = make_finding(make_encounter(make_audit(org, "Q1"), coder, "E1"))
    pdf = SimpleUploadedFile("arf.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client_for(educator).post(
        f"{BASE}assign/",
        {
            "coders": [coder.pk, other_coder.pk],
            "pattern_key": "added:dx:j96",
            "topic": "",
            "resource_title": "ARF",
            "resource_file": pdf,
            "due_date": due,
            "followup_encounters": "2",
            "findings": [str(finding.public_id)],
        },
    )
    assert response.status_code == 302, response.content.decode()
    rows = EducationAssignment.objects.filter(organization=org)
    assert rows.count() == 2
    assert set(rows.values_list("pattern_key", flat=True)) == {"ADDED:DX:J96"}
    assert all(a.resource_file for a in rows)
    assert all(a.findings.count() == 1 for a in rows)
    # The file is served only through the permission-checked view.
    mine = rows.get(coder=coder)
    response = client_for(coder.user).get(f"{BASE}{mine.public_id}/file/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
    entry = AuditLogEntry.objects.get(action="education_file.download")
    assert (entry.actor, entry.object_id, entry.ip) == (
        coder.user,
        str(mine.public_id),
        "127.0.0.1",
    )


def test_assign_form_rejects_bad_input(
    org: Organization, coder: Coder, educator: User, client_for: ClientFor
) -> None:
    fake = SimpleUploadedFile("x.pdf", b"not a pdf", content_type="application/pdf")
    response = client_for(educator).post(
        f"{BASE}assign/",
        {
            "coders": [coder.pk],
            "pattern_key": "nonsense",
            "resource_title": "x",
            "resource_url": "http://insecure.example/",
            "resource_file": fake,
            "due_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "followup_encounters": "0",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"pattern_key", "resource_url", "resource_file", "due_date"}
    assert not EducationAssignment.objects.exists()


def test_coder_completes_through_the_page(
    org: Organization,
    coder: Coder,
    educator: User,
    coder_user: User,
    client_for: ClientFor,
) -> None:
    assignment = _assignment(org, coder, educator)
    url = f"{BASE}{assignment.public_id}/complete/"
    assert client_for(educator).post(url, {"attest": "on"}).status_code == 403
    client = client_for(coder_user)
    assert client.get(url).status_code == 405
    response = client.post(url, {"attestation_text": "I reviewed it"})
    assert response.status_code == 422
    response = client.post(
        url, {"attest": "on", "attestation_text": "I reviewed it", "quiz_score": "85"}
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.status == "completed"
    assert assignment.quiz_score == 85


def test_followup_pages(
    org: Organization,
    coder: Coder,
    manager: User,
    auditor: User,
    educator: User,
    viewer: User,
    coder_user: User,
    assert_tenancy: AssertTenancy,
    client_for: ClientFor,
) -> None:
    make_encounter(make_audit(org, "Q2"), coder, "E9", codes=("J9601",))
    assignment = _assignment(org, coder, educator)
    schedule = f"{BASE}{assignment.public_id}/followup/"
    assert client_for(viewer).post(schedule, {"n_encounters": "1"}).status_code == 403
    response = client_for(educator).post(schedule, {"n_encounters": "1"})
    assert response.status_code == 302
    followup = assignment.followups.get()
    assert followup.status == "created"
    assert_tenancy(
        f"{BASE}followups/", allowed=[manager, auditor, educator, viewer], forbidden=[coder_user]
    )
    detail = f"{BASE}followups/{followup.public_id}/"
    assert_tenancy(detail, allowed=[manager, auditor, educator, viewer], forbidden=[coder_user])
    assert "E9" in client_for(auditor).get(detail).content.decode()
    assert AuditLogEntry.objects.filter(
        action="followup.view", object_id=followup.public_id, actor=auditor
    ).exists()
    reselect = f"{detail}select/"
    assert_tenancy(
        reselect,
        allowed=[auditor],
        forbidden=[viewer, coder_user],
        method="post",
        wrong_method="get",
    )
