"""Writes of the education area: assign, complete, follow-up reviews, overdue reminders.

Each function runs in one transaction and writes its audit-log entries; notifications go
through `notifications.services.notify` (its e-mails leave after the commit).
"""

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Coder, Membership, Organization, Role, User
from auditcoach.auditlog.services import bulk_log, entry_build, log_write
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.education.models import EducationAssignment, FollowUpReview, pattern_family
from auditcoach.notifications.models import Kind
from auditcoach.notifications.services import notify


def _assignment_url(assignment: EducationAssignment) -> str:
    return reverse(
        "education:detail",
        kwargs={"org_slug": assignment.organization.slug, "assignment_id": assignment.public_id},
    )


def _followup_url(followup: FollowUpReview) -> str:
    return reverse(
        "education:followup",
        kwargs={"org_slug": followup.organization.slug, "followup_id": followup.public_id},
    )


def assignments_create(
    *,
    organization: Organization,
    coders: Sequence[Coder],
    resource_title: str,
    due_date: date,
    topic: str = "",
    pattern_key: str = "",
    resource_url: str = "",
    resource_file: UploadedFile[bytes] | None = None,
    findings: Iterable[Finding] = (),
    references: Iterable[Any] = (),
    followup_encounters: int = 0,
    actor: User | None = None,
) -> list[EducationAssignment]:
    """Assign the same education to each of `coders` (one assignment each) and notify them.

    Coders, findings and references must belong to `organization` (checked here as well as
    in the form). The uploaded file, if any, is stored once per assignment.
    """
    if not coders:
        raise ValueError("assign education to at least one coder")
    if not (topic or pattern_key):
        raise ValueError("education needs a topic or a pattern key")
    if any(coder.organization_id != organization.pk for coder in coders):
        raise ValueError("a coder of another organization")
    finding_list = list(findings)
    if any(f.organization_id != organization.pk for f in finding_list):
        raise ValueError("a finding of another organization")
    reference_list = list(references)
    if any(
        getattr(r, "organization_id", organization.pk) != organization.pk for r in reference_list
    ):
        raise ValueError("a reference of another organization")
    created: list[EducationAssignment] = []
    with transaction.atomic():
        for coder in coders:
            assignment = EducationAssignment(
                organization=organization,
                coder=coder,
                topic=topic,
                pattern_key=pattern_key,
                resource_title=resource_title,
                resource_url=resource_url,
                assigned_by=actor,
                due_date=due_date,
                followup_encounters=followup_encounters,
            )
            if resource_file is not None:
                resource_file.seek(0)
                assignment.resource_file.save(
                    resource_file.name or "resource.pdf", resource_file, save=False
                )
            assignment.full_clean(exclude=["resource_file"])
            assignment.save(force_insert=True)
            if finding_list:
                assignment.findings.set(finding_list)
            if reference_list:
                assignment.references.set(reference_list)
            created.append(assignment)
        bulk_log(
            entry_build(
                organization=organization,
                actor=actor,
                action="education.assign",
                obj_type="education_assignment",
                obj_id=a.public_id,
                changes={
                    "coder": a.coder.name,
                    "topic": topic,
                    "pattern_key": pattern_key,
                    "due_date": due_date.isoformat(),
                    "findings": len(finding_list),
                },
            )
            for a in created
        )
        for assignment in created:
            user = assignment.coder.user
            if user is None:
                continue  # a coder without a login learns of it from their educator
            notify(
                organization=organization,
                recipients=[user],
                kind=Kind.EDUCATION_ASSIGNED,
                title=f"Education assigned: {assignment.subject}",
                body=f"{assignment.resource_title}, due {assignment.due_date:%Y-%m-%d}.",
                url=_assignment_url(assignment),
                actor=actor,
            )
    return created


def assignment_complete(
    *,
    assignment: EducationAssignment,
    attestation_text: str,
    quiz_score: int | None = None,
    actor: User | None = None,
) -> FollowUpReview | None:
    """Record the coder's completion; schedule the follow-up review it asks for, if any."""
    if assignment.status == EducationAssignment.Status.COMPLETED:
        raise ValueError("this education is already completed")
    if not attestation_text.strip():
        raise ValueError("completing education needs the attestation")
    if quiz_score is not None and not 0 <= quiz_score <= 100:
        raise ValueError("the quiz score is between 0 and 100")
    with transaction.atomic():
        locked = EducationAssignment.objects.select_for_update().get(pk=assignment.pk)
        if locked.status == EducationAssignment.Status.COMPLETED:
            raise ValueError("this education is already completed")
        assignment.status = EducationAssignment.Status.COMPLETED
        assignment.completed_at = timezone.now()
        assignment.attestation = True
        assignment.attestation_text = attestation_text.strip()
        assignment.quiz_score = quiz_score
        assignment.save(
            update_fields=[
                "status",
                "completed_at",
                "attestation",
                "attestation_text",
                "quiz_score",
            ]
        )
        log_write(
            organization=assignment.organization,
            actor=actor,
            action="education.complete",
            obj_type="education_assignment",
            obj_id=assignment.public_id,
            changes={"quiz_score": quiz_score},
        )
        if assignment.followup_encounters > 0:
            return followup_schedule(
                assignment=assignment, n_encounters=assignment.followup_encounters, actor=actor
            )
    return None


def followup_candidates(
    *, organization: Organization, coder: Coder, pattern_key: str, exclude_followup: int | None
) -> list[Encounter]:
    """The coder's not-yet-reviewed encounters, those with a code of the family first.

    "Not yet reviewed" = in an audit that is planned or in review, review status "to do",
    and not already chosen by another open follow-up review of this coder.
    """
    taken = FollowUpReview.encounters.through.objects.filter(
        followupreview__organization=organization, followupreview__coder=coder
    )
    if exclude_followup is not None:
        taken = taken.exclude(followupreview_id=exclude_followup)
    qs = Encounter.objects.filter(
        organization=organization,
        coder=coder,
        audit__status__in=[Audit.Status.PLANNED, Audit.Status.IN_REVIEW],
        review_status=Encounter.ReviewStatus.TO_DO,
    ).exclude(pk__in=taken.values("encounter_id"))
    family = pattern_family(pattern_key)
    if family:
        in_family = CodeLine.objects.filter(encounter=OuterRef("pk"), code__istartswith=family)
        qs = qs.annotate(in_family=Exists(in_family)).order_by("-in_family", "discharge_date", "pk")
    else:
        qs = qs.order_by("discharge_date", "pk")
    return list(qs)


def _auditors_to_notify(organization: Organization, encounters: Sequence[Encounter]) -> list[User]:
    assigned = {e.auditor_id for e in encounters if e.auditor_id is not None}
    members = Membership.objects.filter(
        organization=organization, role=Role.AUDITOR, is_active=True
    )
    if assigned:
        members = members.filter(user_id__in=assigned)
        if not members.exists():
            members = Membership.objects.filter(
                organization=organization, role=Role.AUDITOR, is_active=True
            )
    return [m.user for m in members.select_related("user")]


def followup_select(*, followup: FollowUpReview, actor: User | None = None) -> FollowUpReview:
    """(Re)choose the follow-up's encounters; flag it when fewer than N are available."""
    with transaction.atomic():
        candidates = followup_candidates(
            organization=followup.organization,
            coder=followup.coder,
            pattern_key=followup.pattern_key,
            exclude_followup=followup.pk,
        )
        chosen = candidates[: followup.n_encounters]
        followup.encounters.set(chosen)
        if len(chosen) >= followup.n_encounters:
            followup.status = FollowUpReview.Status.CREATED
        else:
            followup.status = FollowUpReview.Status.FLAGGED
        audits = {e.audit_id for e in chosen}
        followup.audit_id = audits.pop() if len(audits) == 1 else None
        followup.save(update_fields=["status", "audit", "updated_at"])
        log_write(
            organization=followup.organization,
            actor=actor,
            action="followup.select",
            obj_type="followup_review",
            obj_id=followup.public_id,
            changes={"status": followup.status, "encounters": [e.external_id for e in chosen]},
        )
        if chosen:
            n = len(chosen)
            notify(
                organization=followup.organization,
                recipients=_auditors_to_notify(followup.organization, chosen),
                kind=Kind.FOLLOWUP_CREATED,
                title=f"Follow-up review: {followup.coder.label} {followup.pattern_key}".strip(),
                body=(
                    f"{n} of {followup.n_encounters} encounters chosen"
                    + (
                        "; the rest waits for the next import."
                        if followup.status == FollowUpReview.Status.FLAGGED
                        else "."
                    )
                ),
                url=_followup_url(followup),
                actor=actor,
            )
    return followup


def followup_schedule(
    *,
    assignment: EducationAssignment,
    n_encounters: int,
    actor: User | None = None,
) -> FollowUpReview:
    """Schedule a follow-up review of the assignment's coder on its pattern, and choose."""
    if not 1 <= n_encounters <= 50:
        raise ValueError("a follow-up review has 1 to 50 encounters")
    with transaction.atomic():
        followup = FollowUpReview.objects.create(
            organization=assignment.organization,
            coder=assignment.coder,
            pattern_key=assignment.pattern_key,
            assignment=assignment,
            n_encounters=n_encounters,
            created_by=actor,
        )
        log_write(
            organization=assignment.organization,
            actor=actor,
            action="followup.schedule",
            obj_type="followup_review",
            obj_id=followup.public_id,
            changes={"assignment": str(assignment.public_id), "n": n_encounters},
        )
        return followup_select(followup=followup, actor=actor)


def education_overdue_remind(*, today: date | None = None) -> int:
    """Notify each coder of each overdue assignment at most once a day; return how many.

    Across all organizations (it runs from a scheduler). Rows are claimed with
    `last_reminded_on`, so two runs on the same day remind once.
    """
    day = today or timezone.localdate()
    reminded = 0
    due = (
        EducationAssignment.objects.filter(
            status=EducationAssignment.Status.ASSIGNED,
            due_date__lt=day,
            coder__user__isnull=False,
        )
        .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=day))
        .select_related("organization", "coder__user")
    )
    for assignment in due.iterator(chunk_size=500):
        with transaction.atomic():
            claimed = (
                EducationAssignment.objects.filter(pk=assignment.pk)
                .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=day))
                .update(last_reminded_on=day)
            )
            if not claimed:
                continue
            user = assignment.coder.user
            assert user is not None
            days = (day - assignment.due_date).days
            notify(
                organization=assignment.organization,
                recipients=[user],
                kind=Kind.EDUCATION_OVERDUE,
                title=f"Education overdue: {assignment.subject}",
                body=(
                    f"{assignment.resource_title} was due {assignment.due_date:%Y-%m-%d} "
                    f"({days} day{'s' if days != 1 else ''} ago)."
                ),
                url=_assignment_url(assignment),
            )
            reminded += 1
    return reminded


def followups_top_up(*, audit: Audit, actor: User | None = None) -> int:
    """After an import: re-choose the flagged follow-ups of the audit's coders; return how
    many were re-chosen (each may still be flagged if too few encounters arrived)."""
    coders = Encounter.objects.filter(audit=audit).values("coder_id")
    flagged = FollowUpReview.objects.filter(
        organization_id=audit.organization_id,
        status=FollowUpReview.Status.FLAGGED,
        coder_id__in=coders,
    ).select_related("organization", "coder")
    n = 0
    for followup in flagged:
        followup_select(followup=followup, actor=actor)
        n += 1
    return n
