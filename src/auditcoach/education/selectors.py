"""Reads of the education area, always starting from the organization.

A coder sees only the assignments and follow-ups of the roster entry linked to them; the
other roles see the whole organization's.
"""

from dataclasses import dataclass
from datetime import date
from statistics import median
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from auditcoach.accounts.models import Coder, Membership, Organization, Role
from auditcoach.education.models import EducationAssignment, FollowUpReview


def coder_for(*, organization: Organization, membership: Membership) -> Coder | None:
    """The roster entry linked to a coder member (None when not linked)."""
    return Coder.objects.filter(organization=organization, user_id=membership.user_id).first()


def assignments_visible(
    *, organization: Organization, membership: Membership
) -> QuerySet[EducationAssignment]:
    qs = EducationAssignment.objects.filter(organization=organization)
    if membership.role == Role.CODER:
        qs = qs.filter(coder__user_id=membership.user_id)
    return qs.select_related("coder__user", "assigned_by")


def assignment_get(
    *, organization: Organization, membership: Membership, public_id: UUID | str
) -> EducationAssignment:
    """One visible assignment, else 404 (another coder's assignment included)."""
    try:
        return assignments_visible(organization=organization, membership=membership).get(
            public_id=public_id
        )
    except EducationAssignment.DoesNotExist as exc:
        raise Http404("No such education assignment") from exc


def followups_visible(
    *, organization: Organization, membership: Membership
) -> QuerySet[FollowUpReview]:
    qs = FollowUpReview.objects.filter(organization=organization)
    if membership.role == Role.CODER:
        qs = qs.filter(coder__user_id=membership.user_id)
    return qs.select_related("coder__user", "assignment", "audit")


def followup_get(
    *, organization: Organization, membership: Membership, public_id: UUID | str
) -> FollowUpReview:
    try:
        return followups_visible(organization=organization, membership=membership).get(
            public_id=public_id
        )
    except FollowUpReview.DoesNotExist as exc:
        raise Http404("No such follow-up review") from exc


@dataclass(frozen=True, slots=True)
class EducationMetrics:
    """DESIGN §8 education engagement, as plain numbers."""

    assignments: int
    due: int  # assignments whose due date has passed, or that are completed
    completed_on_time: int
    on_time_rate: float | None  # completed by the due date / due
    median_days_to_complete: float | None
    overdue: int
    open: int


def education_metrics(
    *, assignments: QuerySet[EducationAssignment], today: date | None = None
) -> EducationMetrics:
    """Completed by the due date / assignments due; median days to complete; overdue count.

    "Due" counts assignments whose due date has passed plus those completed early (they
    were answerable). Days to complete run from assignment to completion, in days (float).
    """
    day = today or timezone.localdate()
    rows = list(
        assignments.filter(Q(due_date__lt=day) | Q(status=EducationAssignment.Status.COMPLETED))
        .order_by()
        .values_list("status", "due_date", "assigned_at", "completed_at")
    )
    due = len(rows)
    on_time = 0
    durations: list[float] = []
    for _status, due_date, assigned_at, completed_at in rows:
        if completed_at is None:
            continue
        if timezone.localdate(completed_at) <= due_date:
            on_time += 1
        durations.append((completed_at - assigned_at).total_seconds() / 86400)
    total = assignments.count()
    overdue = assignments.filter(
        status=EducationAssignment.Status.ASSIGNED, due_date__lt=day
    ).count()
    open_count = assignments.filter(status=EducationAssignment.Status.ASSIGNED).count()
    return EducationMetrics(
        assignments=total,
        due=due,
        completed_on_time=on_time,
        on_time_rate=(on_time / due) if due else None,
        median_days_to_complete=round(median(durations), 1) if durations else None,
        overdue=overdue,
        open=open_count,
    )
