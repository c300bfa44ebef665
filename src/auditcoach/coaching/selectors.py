"""Reads of the coaching loop, always starting from the organization.

A coder sees only the released findings of the roster entry linked to them (`Coder.user`);
drafts are never visible to a coder. `finding_access` is the one place that says what a
member may see and do on a finding.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from auditcoach.accounts.models import Coder, Membership, Organization, Role
from auditcoach.accounts.selectors import coder_for_user
from auditcoach.audits.models import Audit, Finding
from auditcoach.coaching.models import Attachment, Comment, FindingEvent
from auditcoach.coaching.services import (
    ANSWERABLE,
    CLOSABLE,
    DECIDABLE,
    ESCALATABLE,
    OPEN,
)
from auditcoach.library.models import Reference

S = Finding.Status
AUDIT_SIDE = (Role.MANAGER, Role.AUDITOR)
COMMENT_ROLES = (Role.MANAGER, Role.AUDITOR, Role.EDUCATOR, Role.CODER)

RECORD = Q(active=True) | Q(decision__in=[S.OVERTURNED, S.MODIFIED])
"""Current findings plus decided ones kept as a record after the coding was restored
(closed or not)."""


@dataclass(frozen=True, slots=True)
class Access:
    """What one member may do on one finding (the view shows exactly these actions)."""

    see: bool = False
    answer: bool = False  # agree / dispute (the finding's coder)
    decide: bool = False
    escalate: bool = False
    close: bool = False
    comment: bool = False

    @property
    def any_action(self) -> bool:
        return self.answer or self.decide or self.escalate or self.close


def _base(organization: Organization) -> QuerySet[Finding]:
    return Finding.objects.filter(organization=organization).select_related(
        "encounter", "encounter__audit", "encounter__coder__user", "encounter__organization"
    )


def finding_access(*, membership: Membership, finding: Finding, coder: Coder | None) -> Access:
    role = membership.role
    status = finding.status
    if role == Role.CODER:
        own = coder is not None and finding.encounter.coder_id == coder.pk
        if not own or status == S.DRAFT:
            return Access()
        return Access(
            see=True,
            answer=status in ANSWERABLE and finding.active,
            # The coder escalates the auditor's decision, not a dispute still waiting for it.
            escalate=status in ESCALATABLE and status != S.DISPUTED,
            comment=True,
        )
    audit_side = role in AUDIT_SIDE
    decidable = status == S.DISPUTED or (status == S.ESCALATED and role == Role.MANAGER)
    return Access(
        see=True,
        decide=audit_side and status in DECIDABLE and decidable,
        escalate=audit_side and status in ESCALATABLE and status != S.ESCALATED,
        close=audit_side and status in CLOSABLE,
        comment=audit_side or (role in COMMENT_ROLES and status != S.DRAFT),
    )


def finding_for_member(
    *, organization: Organization, membership: Membership, public_id: uuid.UUID | str
) -> tuple[Finding, Access]:
    """The finding and what the member may do; 404 when they may not see it (another
    coder's finding, a draft for a coder, another organization's)."""
    try:
        finding = _base(organization).get(public_id=public_id)
    except (Finding.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such finding") from exc
    coder = (
        coder_for_user(organization=organization, user=membership.user)
        if membership.role == Role.CODER
        else None
    )
    access = finding_access(membership=membership, finding=finding, coder=coder)
    if not access.see:
        raise Http404("No such finding")
    return finding, access


def coder_feedback(*, organization: Organization, coder: Coder | None) -> QuerySet[Finding]:
    """A coder's own released findings (none without a linked roster entry)."""
    if coder is None:
        return Finding.objects.none()
    return (
        _base(organization)
        .filter(encounter__coder=coder)
        .exclude(status=S.DRAFT)
        .filter(RECORD)
        .order_by("encounter__external_id", "position")
    )


def coder_patterns(*, findings: QuerySet[Finding], limit: int = 12) -> list[tuple[str, int]]:
    """The most frequent pattern keys among a coder's current findings (one SQL count)."""
    rows = (
        findings.filter(active=True)
        .order_by()
        .values("pattern")
        .annotate(n=Count("pk"))
        .order_by("-n", "pattern")[:limit]
    )
    return [(row["pattern"], row["n"]) for row in rows]


def dispute_queue(*, organization: Organization) -> QuerySet[Finding]:
    """Disputed and escalated findings, the longest waiting first."""
    return (
        _base(organization)
        .filter(status__in=[S.DISPUTED, S.ESCALATED], active=True)
        .order_by("updated_at", "pk")
    )


WAITING: Final = {
    "coder": (S.RELEASED,),
    "auditor": (S.DISPUTED,),
    "manager": (S.ESCALATED,),
    "close": tuple(CLOSABLE),
}
"""Whom an unclosed released finding waits for, by status (the ageing list's filter)."""
WAITING_LABELS: Final = {
    "coder": "the coder's answer",
    "auditor": "the auditor's decision",
    "manager": "the manager's decision",
    "close": "closing",
}


def waiting_for(status: str) -> str:
    return next((k for k, statuses in WAITING.items() if status in statuses), "")


@dataclass(frozen=True, slots=True)
class AgeingBucket:
    label: str
    n: int
    overdue: bool


@dataclass(frozen=True, slots=True)
class Ageing:
    """Released findings not yet closed, oldest first, with their age counts.

    Age runs from the release; a finding still waiting for an answer or a decision
    (`OPEN`) is overdue past the organization's response SLA. Findings answered and waiting
    only to be closed are listed but never overdue.
    """

    findings: QuerySet[Finding]
    sla_days: int
    buckets: list[AgeingBucket]
    overdue: int
    total: int


def ageing(
    *,
    organization: Organization,
    coder: Coder | None = None,
    waiting: str = "",
    now: datetime | None = None,
) -> Ageing:
    now = now or timezone.now()
    statuses = WAITING.get(waiting) or tuple(OPEN | CLOSABLE)
    qs = (
        _base(organization)
        .filter(status__in=list(statuses), active=True, released_at__isnull=False)
        .order_by("released_at", "pk")
    )
    if coder is not None:
        qs = qs.filter(encounter__coder=coder)
    sla = organization.response_sla_days
    limits = sorted({sla, 14, 30} - {0}) if sla < 30 else [sla]
    edges = [now - timedelta(days=d) for d in limits]
    # One query: how many were released within each band of days.
    counts: dict[str, Any] = {"total": Count("pk")}
    counts["overdue"] = Count("pk", filter=Q(status__in=list(OPEN), released_at__lt=edges[0]))
    for i, edge in enumerate(edges):
        counts[f"b{i}"] = Count("pk", filter=Q(released_at__gte=edge))
    counts[f"b{len(edges)}"] = Count("pk")
    row = qs.order_by().aggregate(**counts)
    buckets = []
    lower = 0
    below = 0
    for i, days in enumerate(limits):
        n = row[f"b{i}"] - below
        label = f"{lower}–{days} days" if lower else f"≤ {days} days"
        buckets.append(AgeingBucket(label=label, n=n, overdue=days > sla))
        below, lower = row[f"b{i}"], days + 1
    buckets.append(AgeingBucket(label=f"> {limits[-1]} days", n=row["total"] - below, overdue=True))
    return Ageing(
        findings=qs, sla_days=sla, buckets=buckets, overdue=row["overdue"], total=row["total"]
    )


def finding_events(*, finding: Finding) -> QuerySet[FindingEvent]:
    return FindingEvent.objects.filter(
        organization_id=finding.organization_id, finding=finding
    ).order_by("at", "pk")


def finding_comments(*, finding: Finding) -> list[tuple[Comment, int]]:
    """The thread in reading order: each comment with its depth (replies under parents)."""
    comments = list(
        Comment.objects.filter(organization_id=finding.organization_id, finding=finding)
    )
    children: dict[int | None, list[Comment]] = {}
    for c in comments:
        children.setdefault(c.parent_id, []).append(c)
    out: list[tuple[Comment, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            out.append((c, depth))
            walk(c.pk, depth + 1)

    walk(None, 0)
    return out


def comment_get(*, finding: Finding, public_id: uuid.UUID | str) -> Comment:
    try:
        return Comment.objects.get(
            organization_id=finding.organization_id, finding=finding, public_id=public_id
        )
    except (Comment.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such comment") from exc


def finding_attachments(*, finding: Finding) -> QuerySet[Attachment]:
    return Attachment.objects.filter(organization_id=finding.organization_id, finding=finding)


def attachment_get(*, organization: Organization, public_id: uuid.UUID | str) -> Attachment:
    try:
        return Attachment.objects.get(organization=organization, public_id=public_id)
    except (Attachment.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such attachment") from exc


def references_for(*, organization: Organization) -> QuerySet[Reference]:
    """The organization's library, to cite in a dispute."""
    return Reference.objects.filter(organization=organization).order_by("source", "-year", "pk")


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    coder: Coder | None
    drafts: int


def release_summary(*, organization: Organization, audit: Audit) -> list[ReleaseRow]:
    """Draft findings of an audit per coder, for the summary's release control."""
    rows = (
        Finding.objects.filter(
            organization=organization, encounter__audit=audit, status=S.DRAFT, active=True
        )
        .values("encounter__coder")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {row["encounter__coder"]: row["n"] for row in rows}
    coders = {
        c.pk: c
        for c in Coder.objects.filter(organization=organization, pk__in=counts).select_related(
            "user"
        )
    }
    out = [ReleaseRow(coder=coders.get(pk) if pk else None, drafts=n) for pk, n in counts.items()]
    return sorted(out, key=lambda r: r.coder.name if r.coder else "")
