"""Education services: assign to many, complete, follow-up reviews, overdue reminders."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter
from auditcoach.education import selectors, services
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.notifications.models import Notification
from tests.education.builders import make_audit, make_encounter, make_finding
from tests.factories import CoderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_coder(org: Organization) -> Coder:
    user = UserFactory(username="coder2", email="coder2@example.org")
    from tests.factories import MembershipFactory

    MembershipFactory(user=user, organization=org, role="coder")
    return CoderFactory(organization=org, user=user, name="Second Coder")


def _assign(
    org: Organization, coders: list[Coder], actor: User, **extra: Any
) -> list[EducationAssignment]:
    values: dict[str, Any] = {
        "pattern_key": "ADDED:DX:J96",
        "resource_title": "Acute respiratory failure",
        "resource_url": "https://example.org/arf",
        "due_date": timezone.localdate() + timedelta(days=7),
    }
    values.update(extra)
    return services.assignments_create(organization=org, coders=coders, actor=actor, **values)


def test_assign_to_many_coders_from_a_pattern(
    org: Organization,
    coder: Coder,
    second_coder: Coder,
    educator: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    audit = make_audit(org, "2026-Q1")
    finding = make_finding(make_encounter(audit, coder, "E1", codes=("J9601",)))
    with django_capture_on_commit_callbacks(execute=True):
        created = _assign(org, [coder, second_coder], educator, findings=[finding])
    assert {a.coder for a in created} == {coder, second_coder}
    assert all(a.pattern_key == "ADDED:DX:J96" and a.assigned_by == educator for a in created)
    assert all(list(a.findings.all()) == [finding] for a in created)
    notes = Notification.objects.filter(kind="education_assigned")
    assert {n.recipient.username for n in notes} == {"coder", "coder2"}
    assert sorted(m.to[0] for m in mail.outbox) == ["coder2@example.org", "coder@example.org"]
    assert AuditLogEntry.objects.filter(action="education.assign").count() == 2


def test_assign_refuses_other_organizations_coders(
    org: Organization, other_org: Organization, educator: User
) -> None:
    stranger = CoderFactory(organization=other_org, name="Stranger")
    with pytest.raises(ValueError, match="another organization"):
        _assign(org, [stranger], educator)
    assert not EducationAssignment.objects.exists()


def test_coder_completes_with_attestation(org: Organization, coder: Coder, educator: User) -> None:
    (assignment,) = _assign(org, [coder], educator)
    with pytest.raises(ValueError, match="attestation"):
        services.assignment_complete(assignment=assignment, attestation_text="  ")
    followup = services.assignment_complete(
        assignment=assignment, attestation_text="I reviewed OCG I.C.10", quiz_score=90
    )
    assert followup is None
    assignment.refresh_from_db()
    assert assignment.status == "completed"
    assert assignment.attestation is True
    assert assignment.attestation_text == "I reviewed OCG I.C.10"
    assert assignment.quiz_score == 90
    assert assignment.completed_at is not None
    with pytest.raises(ValueError, match="already"):
        services.assignment_complete(assignment=assignment, attestation_text="again")


def test_completion_schedules_a_follow_up_with_n_encounters_of_the_family_first(
    org: Organization, coder: Coder, second_coder: Coder, educator: User, auditor: User
) -> None:
    in_review = make_audit(org, "2026-Q2")
    planned = make_audit(org, "2026-Q3", status=Audit.Status.PLANNED)
    released = make_audit(org, "2026-Q1", status=Audit.Status.RELEASED)
    make_encounter(in_review, coder, "OTHER1", codes=("I10",), days=0)
    fam1 = make_encounter(in_review, coder, "FAM1", codes=("I10", "J9601"), days=5)
    fam2 = make_encounter(planned, coder, "FAM2", codes=("J9600",), days=6)
    make_encounter(in_review, coder, "DONE", codes=("J9601",), review_status="done")
    make_encounter(released, coder, "REL", codes=("J9601",))
    make_encounter(in_review, second_coder, "THEIRS", codes=("J9601",))
    (assignment,) = _assign(org, [coder], educator, followup_encounters=3)

    followup = services.assignment_complete(assignment=assignment, attestation_text="I reviewed")
    assert followup is not None
    assert followup.status == FollowUpReview.Status.CREATED
    chosen = set(followup.encounters.values_list("external_id", flat=True))
    assert chosen == {"FAM1", "FAM2", "OTHER1"}
    assert followup.pattern_key == "ADDED:DX:J96"
    assert followup.audit is None  # two audits
    assert Notification.objects.filter(kind="followup_created", recipient=auditor).count() == 1

    # Two of the family, asked for two: the family ones win.
    (second,) = _assign(org, [coder], educator)
    Encounter.objects.filter(external_id__in=["FAM1", "FAM2", "OTHER1"]).update(
        review_status="to_do"
    )
    followup.encounters.clear()
    narrower = services.followup_schedule(assignment=second, n_encounters=2)
    assert set(narrower.encounters.values_list("external_id", flat=True)) == {"FAM1", "FAM2"}
    assert fam1.pk != fam2.pk


def test_follow_up_is_flagged_when_too_few_encounters(
    org: Organization, coder: Coder, educator: User
) -> None:
    audit = make_audit(org, "2026-Q2")
    make_encounter(audit, coder, "ONLY", codes=("J9601",))
    (assignment,) = _assign(org, [coder], educator)
    services.assignment_complete(assignment=assignment, attestation_text="done")
    followup = services.followup_schedule(assignment=assignment, n_encounters=3, actor=educator)
    assert followup.status == FollowUpReview.Status.FLAGGED
    assert list(followup.encounters.values_list("external_id", flat=True)) == ["ONLY"]
    assert followup.audit == audit

    # The next import brings more; choosing again completes it.
    make_encounter(audit, coder, "NEW1")
    make_encounter(audit, coder, "NEW2")
    services.followup_select(followup=followup)
    followup.refresh_from_db()
    assert followup.status == FollowUpReview.Status.CREATED
    assert followup.encounters.count() == 3


def test_an_import_tops_up_flagged_follow_ups(
    org: Organization,
    coder: Coder,
    educator: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A follow-up flagged for the next import gets its encounters when the import of the
    coder's encounters commits (the audits app's `audit_imported` signal)."""
    from pathlib import Path

    from auditcoach.audits.services import audit_import
    from auditcoach.engine.workbook import read_workbook

    (assignment,) = _assign(org, [coder], educator)
    services.assignment_complete(assignment=assignment, attestation_text="done")
    followup = services.followup_schedule(assignment=assignment, n_encounters=1, actor=educator)
    assert followup.status == FollowUpReview.Status.FLAGGED
    assert followup.encounters.count() == 0
    # The worked example's HF-1 is coded by "coder.ana": make that this roster entry.
    Coder.objects.filter(pk=coder.pk).update(name="coder.ana")
    worked = Path(__file__).parent.parent / "fixtures" / "worked"
    with django_capture_on_commit_callbacks(execute=True):
        audit_import(organization=org, workbook=read_workbook(worked), name="Next")
    followup.refresh_from_db()
    assert followup.status == FollowUpReview.Status.CREATED
    assert followup.encounters.get().coder_id == coder.pk


def test_overdue_reminder_is_sent_once_per_day(
    org: Organization, coder: Coder, educator: User, django_capture_on_commit_callbacks: Any
) -> None:
    (late,) = _assign(org, [coder], educator)
    (on_time,) = _assign(org, [coder], educator, topic="Sepsis", pattern_key="")
    (done,) = _assign(org, [coder], educator)
    services.assignment_complete(assignment=done, attestation_text="ok")
    yesterday = timezone.localdate() - timedelta(days=3)
    EducationAssignment.objects.filter(pk__in=[late.pk, done.pk]).update(due_date=yesterday)
    mail.outbox.clear()
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.education_overdue_remind(today=today) == 1
        assert services.education_overdue_remind(today=today) == 0
    assert Notification.objects.filter(kind="education_overdue").count() == 1
    assert len(mail.outbox) == 1
    late.refresh_from_db()
    assert late.last_reminded_on == today
    assert services.education_overdue_remind(today=today + timedelta(days=1)) == 1
    assert on_time.last_reminded_on is None


def test_overdue_task_and_command(org: Organization, coder: Coder, educator: User) -> None:
    from django.core.management import call_command

    from auditcoach.education.tasks import education_overdue_remind

    (late,) = _assign(org, [coder], educator)
    EducationAssignment.objects.filter(pk=late.pk).update(due_date=date(2020, 1, 1))
    result = education_overdue_remind.enqueue()  # the Immediate backend runs it inline
    assert result.return_value == 1
    from io import StringIO

    out = StringIO()
    call_command("education_remind", stdout=out)
    assert "Reminded 0" in out.getvalue()


def test_the_reminder_loop_enqueues_every_period(
    org: Organization, coder: Coder, educator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`education-remind --enqueue --every N` hands the task to the worker each period."""
    from io import StringIO

    from django.core.management import call_command

    from auditcoach.education.management.commands import education_remind

    sleeps: list[float] = []

    class Stop(Exception):
        pass

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise Stop

    monkeypatch.setattr(education_remind.time, "sleep", sleep)
    (late,) = _assign(org, [coder], educator)
    EducationAssignment.objects.filter(pk=late.pk).update(due_date=date(2020, 1, 1))
    out = StringIO()
    with pytest.raises(Stop):
        call_command("education_remind", "--enqueue", "--every", "5", stdout=out)
    assert out.getvalue().count("Enqueued education reminders") == 2
    assert sleeps == [60, 60]  # at least a minute between runs
    # The Immediate test backend ran both: one reminder, the second run the same day none.
    assert Notification.objects.filter(kind="education_overdue").count() == 1


def test_metrics(org: Organization, coder: Coder, educator: User) -> None:
    a1, a2, a3, a4 = (_assign(org, [coder], educator)[0] for _ in range(4))
    today = timezone.localdate()
    now = timezone.now()
    EducationAssignment.objects.filter(pk=a1.pk).update(
        assigned_at=now - timedelta(days=10),
        due_date=today - timedelta(days=2),
        status="completed",
        completed_at=now - timedelta(days=6),
        attestation=True,
    )
    EducationAssignment.objects.filter(pk=a2.pk).update(
        assigned_at=now - timedelta(days=10),
        due_date=today - timedelta(days=5),
        status="completed",
        completed_at=now - timedelta(days=2),
        attestation=True,
    )
    EducationAssignment.objects.filter(pk=a3.pk).update(due_date=today - timedelta(days=1))
    metrics = selectors.education_metrics(
        assignments=EducationAssignment.objects.filter(organization=org), today=today
    )
    assert metrics.assignments == 4
    assert metrics.due == 3
    assert metrics.completed_on_time == 1
    assert metrics.overdue == 1
    assert metrics.open == 2
    assert metrics.median_days_to_complete == 6.0
    assert a4.status == "assigned"
