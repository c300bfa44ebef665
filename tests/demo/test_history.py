"""The demo's coaching history (`auditcoach.demo.coaching`): made by the real services,
dated plausibly after each release, and left alone by a second `auditcoach demo`.

The demo is loaded once for the module (it takes seconds) inside a transaction that is
rolled back at the end; each test runs in a savepoint inside it.
"""

import io
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from auditcoach.accounts.models import Organization
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.conversions import derived_fields, engine_encounter
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.selectors import finding_kind_counts
from auditcoach.audits.services import encounter_derive
from auditcoach.coaching.models import Comment, FindingEvent
from auditcoach.coaching.selectors import ageing
from auditcoach.demo.coaching import cycle_times
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.notifications.models import Notification

S = Finding.Status
K = FindingEvent.Kind


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[Organization]:
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("demo", "--i-know", stdout=io.StringIO())
        yield Organization.objects.get(slug="demo-health")
        transaction.set_rollback(True)


def _released(org: Organization) -> list[Audit]:
    return list(
        Audit.objects.filter(organization=org, status=Audit.Status.RELEASED).order_by("cycle")
    )


def _decisions(org: Organization) -> Counter[str]:
    return Counter(
        e.data["decision"] for e in FindingEvent.objects.filter(organization=org, kind=K.DECIDE)
    )


@pytest.mark.django_db
def test_the_history_has_the_expected_mix(demo: Organization) -> None:
    released = Finding.objects.filter(encounter__audit__in=_released(demo))
    n = released.count()
    events = Counter(FindingEvent.objects.filter(organization=demo).values_list("kind", flat=True))
    # Most agreed and were closed; about one in ten disputed.
    assert events[K.AGREE] > 0.7 * n
    assert events[K.CLOSE] > 0.7 * n
    assert 0.06 * n <= events[K.DISPUTE] <= 0.15 * n
    decisions = _decisions(demo)
    decided = sum(decisions.values())
    assert decisions[S.UPHELD] > decisions[S.OVERTURNED] > 0
    assert 0.15 <= decisions[S.OVERTURNED] / decided <= 0.4
    assert decisions[S.MODIFIED] >= 1
    # Escalated twice, and each decided by the manager.
    escalated = FindingEvent.objects.filter(organization=demo, kind=K.ESCALATE)
    assert escalated.count() == 2
    for event in escalated:
        last = FindingEvent.objects.filter(finding=event.finding, kind=K.DECIDE).last()
        assert last is not None
        assert last.actor is not None
        assert last.actor.username == "manager"
        assert last.at > event.at
    # Disputes carry a rationale, some cite the library.
    disputes = FindingEvent.objects.filter(organization=demo, kind=K.DISPUTE)
    assert all(d.text for d in disputes)
    assert any(d.data["references"] for d in disputes)
    # Comment threads: questions with replies.
    assert Comment.objects.filter(organization=demo, parent__isnull=False).count() >= 5
    # The most recent released audit keeps about 15% unanswered.
    recent = _released(demo)[-1]
    in_recent = released.filter(encounter__audit=recent)
    waiting = in_recent.filter(status=S.RELEASED, active=True).count()
    assert 0.08 * in_recent.count() <= waiting <= 0.25 * in_recent.count()
    assert not released.filter(status=S.RELEASED, encounter__audit__in=_released(demo)[:-1],
                               active=True).exists()  # fmt: skip
    # Education: most completed on time, some late, quiz scores and references.
    assignments = list(EducationAssignment.objects.filter(organization=demo))
    assert len(assignments) >= 10
    done = [a for a in assignments if a.status == EducationAssignment.Status.COMPLETED]
    on_time = [a for a in done if a.completed_on_time]
    assert len(on_time) > len(assignments) / 2
    assert len(done) > len(on_time)
    assert any(a.quiz_score is not None for a in done)
    assert all(a.attestation for a in done)
    assert EducationAssignment.references.through.objects.filter(
        educationassignment__organization=demo
    ).exists()
    assert all(a.findings.exists() for a in assignments)


@pytest.mark.django_db
def test_every_time_lies_between_the_release_and_now_in_order(demo: Organization) -> None:
    now = timezone.now()
    for audit in Audit.objects.filter(organization=demo):
        times = cycle_times(audit.cycle, now=now)
        assert audit.created_at == times.created
        if audit.status == Audit.Status.RELEASED:
            assert audit.released_at == times.released
            assert audit.period_end is not None
            assert audit.released_at.date() - audit.period_end == timedelta(days=10)
            encounters = Encounter.objects.filter(audit=audit)
            assert set(encounters.values_list("released_at", flat=True)) == {times.released}
            findings = Finding.objects.filter(encounter__audit=audit)
            assert set(findings.values_list("released_at", flat=True)) == {times.released}
    by_finding: dict[int, list[FindingEvent]] = {}
    for event in (
        FindingEvent.objects.filter(organization=demo)
        .select_related("finding__encounter__audit")
        .order_by("pk")
    ):
        by_finding.setdefault(event.finding_id, []).append(event)
    assert by_finding
    for events in by_finding.values():
        finding = events[0].finding
        released_at = finding.encounter.audit.released_at
        assert released_at is not None
        times = [e.at for e in events]
        assert times == sorted(times), "events keep the order they happened in"
        assert released_at < times[0]
        assert times[-1] <= now
        assert finding.updated_at == times[-1]
    # Some answers came after the organization's 7-day SLA, most within it.
    first = [events[0].at - events[0].finding.encounter.audit.released_at
             for events in by_finding.values()]  # fmt: skip
    sla = timedelta(days=demo.response_sla_days)
    assert 0 < sum(d > sla for d in first) < sum(d <= sla for d in first)
    first_release = min(a.released_at for a in _released(demo) if a.released_at)
    for model, name in (
        (Comment, "created_at"),
        (Notification, "created_at"),
        (AuditLogEntry, "at"),
    ):
        span = model.objects.filter(organization=demo).aggregate(lo=Min(name), hi=Max(name))
        assert span["hi"] <= now, model
        if model is not AuditLogEntry:  # the log starts with the set-up, before any audit
            assert span["lo"] > first_release, model
    for a in EducationAssignment.objects.filter(organization=demo):
        assert first_release < a.assigned_at <= now
        assert a.completed_at is None or a.assigned_at < a.completed_at <= now


@pytest.mark.django_db
def test_overturned_findings_are_inactive_and_no_longer_scored(demo: Organization) -> None:
    overturned = Finding.objects.filter(organization=demo, decision=S.OVERTURNED)
    assert overturned.count() == _decisions(demo)[S.OVERTURNED]
    for finding in overturned.select_related("encounter__facility"):
        assert not finding.active
        encounter = finding.encounter
        fresh = encounter_derive(
            engine_encounter(encounter, CodeLine.objects.filter(encounter=encounter)),
            base_rate=encounter.facility.base_rate if encounter.facility else None,
        )
        # The restored coding no longer yields the finding, and the stored counts the audit
        # scores sum are those of the restored coding.
        assert finding.identity not in {f.identity for f in fresh.findings}
        stored = {k: getattr(encounter, k) for k in derived_fields(fresh)}
        assert stored == derived_fields(fresh)
    for audit in _released(demo):
        counted = sum(row["n"] for row in finding_kind_counts(organization=demo, audit=audit))
        active = Finding.objects.filter(encounter__audit=audit, active=True).count()
        assert (
            counted
            == active
            == sum(Encounter.objects.filter(audit=audit).values_list("finding_count", flat=True))
        )


@pytest.mark.django_db
def test_open_overdue_work_and_a_follow_up_review_exist(demo: Organization) -> None:
    now = timezone.now()
    assert ageing(organization=demo, now=now).overdue >= 1
    overdue = [a for a in EducationAssignment.objects.filter(organization=demo) if a.is_overdue()]
    assert 1 <= len(overdue) <= 2
    in_review = Audit.objects.get(organization=demo, status=Audit.Status.IN_REVIEW)
    followups = FollowUpReview.objects.filter(organization=demo)
    assert followups.exists()
    for followup in followups:
        assert followup.assignment is not None
        assert followup.assignment.completed_at == followup.created_at
        assert in_review.created_at < followup.created_at <= now
        assert followup.status == FollowUpReview.Status.CREATED
        assert {e.audit_id for e in followup.encounters.all()} == {in_review.pk}
        assert {e.coder_id for e in followup.encounters.all()} == {followup.coder_id}


def _snapshot(org: Organization) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in (Audit, Encounter, Finding, CodeLine, FindingEvent, Comment, Notification,
                  AuditLogEntry, EducationAssignment, FollowUpReview):  # fmt: skip
        out[model.__name__] = list(
            model.objects.filter(organization=org).order_by("pk").values()  # type: ignore[attr-defined]
        )
    return out


@pytest.mark.django_db
def test_a_second_run_changes_nothing(demo: Organization) -> None:
    before = _snapshot(demo)
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "exists already; nothing changed" in out.getvalue()
    assert _snapshot(demo) == before


@pytest.mark.django_db
def test_blind_overreads_give_the_consistency_page_something_to_show(
    demo: Organization,
) -> None:
    from auditcoach.overreads.models import Overread
    from auditcoach.overreads.selectors import consistency_report

    done = Overread.objects.filter(organization=demo, status=Overread.Status.DONE)
    assert done.count() > 20
    assert not Overread.objects.filter(organization=demo, status=Overread.Status.ASSIGNED).exists()
    report = consistency_report(demo)
    assert report.overall.overreads == done.count()
    assert set(report.by_auditor) == {"Raj Mehta", "Kim Larsen"}
    # Mostly, not always, the second auditor codes as the first did.
    assert 0.7 < (report.overall.code_agreement.value or 0) < 1.0
