"""Writes of the coaching loop (DESIGN §7): release, answer, dispute, decide, escalate, close,
comment, attach.

Every function is keyword-only, runs in one transaction, records a `FindingEvent` per
finding it changes and writes its audit-log entry. Who may call what is decided by the
views (`selectors.finding_access`); the services refuse transitions the state machine does
not allow with `TransitionError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Coder, Membership, Organization, Role, User
from auditcoach.auditlog.services import log_write
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.services import AuditedLine, encounter_audited_update
from auditcoach.coaching.models import Attachment, Comment, FindingEvent
from auditcoach.engine.codes import normalize_modifiers
from auditcoach.library.models import Reference
from auditcoach.notifications.services import notify

S = Finding.Status
K = FindingEvent.Kind

ANSWERABLE: Final = frozenset({S.RELEASED})
DECIDABLE: Final = frozenset({S.DISPUTED, S.ESCALATED})
ESCALATABLE: Final = frozenset({S.DISPUTED, S.UPHELD, S.MODIFIED})
CLOSABLE: Final = frozenset({S.AGREED, S.UPHELD, S.OVERTURNED, S.MODIFIED})
OPEN: Final = frozenset({S.RELEASED, S.DISPUTED, S.ESCALATED})
"""Released findings still waiting for someone (the ageing list)."""
DECISIONS: Final = (S.UPHELD, S.OVERTURNED, S.MODIFIED)

ATTACHMENT_MAX_BYTES: Final = 10 * 1024 * 1024
ATTACHMENT_TYPES: Final = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "text/plain": "plain text",
}


class TransitionError(ValueError):
    """The finding is not in a state that allows this step."""


class AttachmentError(ValueError):
    """The upload is too large or not an accepted type."""


def finding_url(finding: Finding) -> str:
    return reverse(
        "coaching:finding",
        kwargs={"org_slug": finding.encounter.organization.slug, "finding_id": finding.public_id},
    )


def _event(
    *,
    finding: Finding,
    actor: User | None,
    kind: str,
    from_status: str = "",
    to_status: str = "",
    text: str = "",
    data: dict[str, Any] | None = None,
    at: Any = None,
) -> FindingEvent:
    return FindingEvent.objects.create(
        organization_id=finding.organization_id,
        finding=finding,
        actor=actor,
        actor_name=actor.display_name if actor else "",
        at=at or timezone.now(),
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        text=text,
        data=data or {},
    )


def _log(finding: Finding, actor: User | None, action: str, changes: dict[str, Any]) -> None:
    log_write(
        organization=finding.encounter.organization,
        actor=actor,
        action=action,
        obj_type="finding",
        obj_id=str(finding.public_id),
        changes=changes,
    )


def _transition(
    finding: Finding,
    *,
    actor: User,
    allowed: Iterable[str],
    to: str,
    kind: str,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> FindingEvent:
    # Re-read under a row lock so two people answering at once cannot both move it.
    current = Finding.objects.select_for_update().get(pk=finding.pk)
    if current.status not in set(allowed):
        raise TransitionError(
            f"This finding is {current.get_status_display().lower()}; it cannot be "
            f"{K(kind).label.lower()} now."
        )
    # A finding the coding no longer gives rise to (withdrawn by a later edit or an
    # overturn) only moves on to closed, and only once decided.
    if not current.active and not (kind == K.CLOSE and current.decision):
        raise TransitionError("This finding no longer arises from the coding.")
    before = current.status
    finding.status = to
    finding.save(update_fields=["status", "updated_at"])
    event = _event(
        finding=finding,
        actor=actor,
        kind=kind,
        from_status=before,
        to_status=to,
        text=text,
        data=data,
    )
    _log(
        finding,
        actor,
        f"finding.{kind}",
        {"status": [before, to], **({"text": text} if text else {})},
    )
    return event


def _coder_user(finding: Finding) -> User | None:
    coder: Coder | None = finding.encounter.coder
    return coder.user if coder is not None and coder.user_id else None


def _audit_side(finding: Finding) -> list[User]:
    """Whoever answers for the finding: the encounter's auditor, else the audit's creator."""
    encounter = finding.encounter
    person = encounter.auditor or encounter.audit.created_by
    return [person] if person is not None else []


def _managers(organization: Organization) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(
            organization=organization, role=Role.MANAGER, is_active=True
        )
        .select_related("user")
        .order_by("user__username")
    ]


def _required(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValueError(f"{what} needs a written rationale.")
    return text


# --------------------------------------------------------------------------- release


@transaction.atomic
def audit_release(*, audit: Audit, actor: User, coder: Coder | None = None) -> int:
    """Release the audit's draft findings (or one coder's) to their coders; return how many.

    Stamps `released_at` (time to resolution starts there). The audit becomes released
    when no draft finding is left in it.
    """
    now = timezone.now()
    drafts = Finding.objects.filter(
        organization_id=audit.organization_id,
        encounter__audit=audit,
        status=S.DRAFT,
        active=True,
    ).select_related("encounter", "encounter__coder", "encounter__coder__user")
    if coder is not None:
        drafts = drafts.filter(encounter__coder=coder)
    findings = list(drafts)
    for f in findings:
        f.status = S.RELEASED
        f.released_at = now
        f.updated_at = now
    Finding.objects.bulk_update(findings, ["status", "released_at", "updated_at"])
    FindingEvent.objects.bulk_create(
        [
            FindingEvent(
                organization_id=audit.organization_id,
                finding=f,
                actor=actor,
                actor_name=actor.display_name,
                at=now,
                kind=K.RELEASE,
                from_status=S.DRAFT,
                to_status=S.RELEASED,
            )
            for f in findings
        ]
    )
    # The encounters are released with their findings, those without findings too: the
    # coder's encounters of this audit (or all of them), and all once the audit is released.
    # Not the ones not yet reviewed (DESIGN §9): they stay unreleased, out of every metric,
    # until they are reviewed and the audit (or their coder) is released again.
    encounters = Encounter.objects.filter(audit=audit, released_at__isnull=True, reviewed=True)
    if coder is not None:
        encounters = encounters.filter(coder=coder)
    encounters.update(released_at=now)
    changes: dict[str, Any] = {"released": len(findings)}
    if coder is not None:
        changes["coder"] = coder.name
    left = Finding.objects.filter(encounter__audit=audit, status=S.DRAFT, active=True).exists()
    if not left and audit.status in {Audit.Status.PLANNED, Audit.Status.IN_REVIEW}:
        changes["status"] = [audit.status, Audit.Status.RELEASED]
        audit.status = Audit.Status.RELEASED
        audit.released_at = audit.released_at or now
        audit.save(update_fields=["status", "released_at"])
        Encounter.objects.filter(audit=audit, released_at__isnull=True, reviewed=True).update(
            released_at=now
        )
    log_write(
        organization=audit.organization,
        actor=actor,
        action="audit.release",
        obj_type="audit",
        obj_id=str(audit.public_id),
        changes=changes,
    )
    by_user: dict[int, tuple[User, int]] = {}
    for f in findings:
        user = _coder_user(f)
        if user is not None:
            by_user[user.pk] = (user, by_user.get(user.pk, (user, 0))[1] + 1)
    for user, n in by_user.values():
        notify(
            organization=audit.organization,
            recipients=[user],
            kind="finding_released",
            title=f"{n} finding{'s' if n != 1 else ''} released to you in “{audit.name}”",
            url=reverse("coaching:feedback", kwargs={"org_slug": audit.organization.slug}),
            actor=actor,
        )
    return len(findings)


# --------------------------------------------------------------------------- coder answers


@transaction.atomic
def finding_agree(*, finding: Finding, actor: User) -> Finding:
    """The coder accepts the finding."""
    _transition(finding, actor=actor, allowed=ANSWERABLE, to=S.AGREED, kind=K.AGREE)
    return finding


def _citations(finding: Finding, references: Sequence[Reference]) -> list[dict[str, str]]:
    out = []
    for ref in references:
        if ref.organization_id != finding.organization_id:
            raise ValueError("A reference of another organization cannot be cited.")
        out.append({"public_id": str(ref.public_id), "citation": ref.citation})
    return out


@transaction.atomic
def finding_dispute(
    *,
    finding: Finding,
    actor: User,
    rationale: str,
    references: Sequence[Reference] = (),
) -> Finding:
    """The coder disagrees, in writing, optionally citing the organization's references.

    The citations are stored as shown at the time, so a later edit of a reference does not
    rewrite what the coder cited.
    """
    text = _required(rationale, "A dispute")
    cited = _citations(finding, references)
    _transition(
        finding,
        actor=actor,
        allowed=ANSWERABLE,
        to=S.DISPUTED,
        kind=K.DISPUTE,
        text=text,
        data={"references": cited},
    )
    notify(
        organization=finding.encounter.organization,
        recipients=_audit_side(finding),
        kind="finding_disputed",
        title=f"Finding disputed on encounter {finding.encounter.external_id}",
        body=text[:500],
        url=finding_url(finding),
        actor=actor,
    )
    return finding


# --------------------------------------------------------------------------- decisions


def _line(row: CodeLine) -> AuditedLine:
    return AuditedLine(
        system=row.system,
        code=row.code,
        poa=row.poa,
        modifiers=normalize_modifiers(row.modifiers),
        units=row.units,
    )


def _versions(encounter: Encounter) -> tuple[list[CodeLine], list[CodeLine]]:
    order = {"DX": 0, "PX": 1, "LINE": 2}
    rows = sorted(
        CodeLine.objects.filter(encounter=encounter), key=lambda r: (order[r.group], r.seq)
    )
    return (
        [r for r in rows if r.version == CodeLine.Version.ORIGINAL],
        [r for r in rows if r.version == CodeLine.Version.AUDITED],
    )


def _index(rows: list[CodeLine], group: str, code: str) -> int:
    for i, row in enumerate(rows):
        if row.group == group and row.code == code:
            return i
    raise TransitionError(f"The code {code} is no longer in the {group} lines.")


def restored_coding(
    finding: Finding,
) -> tuple[list[AuditedLine], str | None]:
    """The audited version with the coder's coding of the finding's item put back.

    Returns the new audited lines and, for disposition/DRG findings, the audited
    disposition to store (None: unchanged).
    """
    encounter = finding.encounter
    original, audited = _versions(encounter)
    kind, group = finding.kind, finding.group
    lines = list(audited)
    disposition: str | None = None
    if kind == "REVISED":
        i = _index(lines, group, finding.audited_code)
        lines[i] = original[_index(original, group, finding.original_code)]
    elif kind == "ADDED":
        del lines[_index(lines, group, finding.audited_code)]
    elif kind == "DELETED":
        back = original[_index(original, group, finding.original_code)]
        last = max((i for i, r in enumerate(lines) if r.group == group), default=None)
        if last is None:
            # The group is empty in the audited version: it goes where its group sorts.
            order = {"DX": 0, "PX": 1, "LINE": 2}
            at = sum(1 for r in lines if order[r.group] < order[group])
        else:
            at = last + 1
        lines.insert(at, back)
    elif kind in {"POA_CHANGED", "MODIFIER_CHANGED", "UNITS_CHANGED"}:
        i = _index(lines, group, finding.audited_code)
        row = _line(lines[i])
        value = finding.original_value
        if kind == "POA_CHANGED":
            row = AuditedLine(row.system, row.code, value, row.modifiers, row.units)
        elif kind == "MODIFIER_CHANGED":
            mods = normalize_modifiers(value.split(";")) if value else frozenset()
            row = AuditedLine(row.system, row.code, row.poa, mods, row.units)
        else:
            row = AuditedLine(row.system, row.code, row.poa, row.modifiers, int(value or 1))
        return [row if j == i else _line(r) for j, r in enumerate(lines)], None
    elif kind == "RESEQUENCED":
        i = _index(lines, "DX", finding.original_code)
        first = next(j for j, r in enumerate(lines) if r.group == "DX")
        lines.insert(first, lines.pop(i))
    elif kind in {"DRG_CHANGED", "DISPOSITION_CHANGED"}:
        disposition = encounter.discharge_disposition
    else:
        raise TransitionError(f"Cannot restore a {kind} finding.")
    return [_line(r) for r in lines], disposition


def _identity_of(finding: Finding) -> tuple[str, str, str, str]:
    return (finding.kind, finding.group, finding.original_code, finding.audited_code)


DERIVED: Final = (
    "kind", "group", "original_code", "audited_code", "principal", "pattern", "em_delta",
    "original_value", "audited_value", "original_rw", "audited_rw", "position",
)  # fmt: skip


def _carry_over(finding: Finding, before_ids: set[int]) -> None:
    """After a modified decision the decided coding may differ from the coder's in another
    way (A→B became A→C): the new derivation then has a new draft finding where this one
    was. This finding takes over its codes, so the record (thread, history) stays one."""
    finding.refresh_from_db()
    if finding.active:
        return
    new = (
        Finding.objects.filter(encounter_id=finding.encounter_id, active=True, status=S.DRAFT)
        .exclude(pk__in=before_ids)
        .filter(group=finding.group)
        .order_by("position")
        .first()
    )
    if new is None:
        return
    for field in DERIVED:
        setattr(finding, field, getattr(new, field))
    new.delete()
    finding.active = True
    finding.save(update_fields=[*DERIVED, "active", "updated_at"])


@transaction.atomic
def finding_decide(
    *,
    finding: Finding,
    actor: User,
    decision: str,
    rationale: str,
    new_line: AuditedLine | None = None,
) -> Finding:
    """Decide a disputed (or escalated) finding: upheld, overturned or modified.

    Overturned restores the coder's coding of the item in the audited version, so the
    scores stop counting it; the finding is kept (inactive, status overturned) as the record
    of the reversal. Modified replaces the audited line of the item with `new_line` (for
    disposition/DRG findings, `new_line.code` is the decided disposition).
    """
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    text = _required(rationale, "A decision")
    if decision == S.MODIFIED and new_line is None:
        raise ValueError("A modified decision needs the coding decided on.")
    finding = Finding.objects.select_related(
        "encounter", "encounter__organization", "encounter__audit", "encounter__coder"
    ).get(pk=finding.pk)
    data: dict[str, Any] = {
        "decision": decision,
        "codes": [finding.original_code, finding.audited_code],
        "kind": finding.kind,
    }
    event = _transition(
        finding, actor=actor, allowed=DECIDABLE, to=decision, kind=K.DECIDE, text=text, data=data
    )
    finding.decision = decision
    Finding.objects.filter(pk=finding.pk).update(decision=decision)
    encounter = finding.encounter
    review_status = encounter.review_status
    before_ids = set(encounter.findings.values_list("pk", flat=True))
    if decision == S.OVERTURNED:
        lines, disposition = restored_coding(finding)
        encounter_audited_update(
            encounter=encounter,
            lock_version=encounter.lock_version,
            lines=lines,
            audited_disposition=disposition,
            actor=actor,
        )
    elif decision == S.MODIFIED:
        assert new_line is not None
        lines, disposition = _modified_coding(finding, new_line)
        encounter_audited_update(
            encounter=encounter,
            lock_version=encounter.lock_version,
            lines=lines,
            audited_disposition=disposition,
            actor=actor,
        )
        _carry_over(finding, before_ids)
        data["new_line"] = [new_line.system, new_line.code, new_line.poa,
                            sorted(new_line.modifiers), new_line.units]  # fmt: skip
        event.data = data
        event.save(update_fields=["data"])
    if decision != S.UPHELD:
        # A decision is not a new review: the encounter keeps its review status.
        Encounter.objects.filter(pk=encounter.pk).update(review_status=review_status)
    finding.refresh_from_db()
    user = _coder_user(finding)
    notify(
        organization=encounter.organization,
        recipients=[user] if user else [],
        kind="finding_decided",
        title=f"Your dispute on encounter {encounter.external_id} was decided: {decision}",
        body=text[:500],
        url=finding_url(finding),
        actor=actor,
    )
    return finding


def _modified_coding(
    finding: Finding, new_line: AuditedLine
) -> tuple[list[AuditedLine], str | None]:
    encounter = finding.encounter
    if finding.kind in {"DRG_CHANGED", "DISPOSITION_CHANGED"}:
        _, audited = _versions(encounter)
        return [_line(r) for r in audited], new_line.code
    _, audited = _versions(encounter)
    lines = [_line(r) for r in audited]
    code = finding.audited_code
    if code:
        i = _index(audited, finding.group, code)
        lines[i] = new_line
    else:  # DELETED: the auditor removed the line; the decision puts a line back
        lines.append(new_line)
    return lines, None


@transaction.atomic
def finding_escalate(*, finding: Finding, actor: User, rationale: str) -> Finding:
    """Either side asks a manager to decide (the manager then uses `finding_decide`)."""
    text = _required(rationale, "An escalation")
    _transition(
        finding, actor=actor, allowed=ESCALATABLE, to=S.ESCALATED, kind=K.ESCALATE, text=text
    )
    notify(
        organization=finding.encounter.organization,
        recipients=_managers(finding.encounter.organization),
        kind="finding_escalated",
        title=f"Dispute escalated on encounter {finding.encounter.external_id}",
        body=text[:500],
        url=finding_url(finding),
        actor=actor,
    )
    return finding


@transaction.atomic
def finding_close(*, finding: Finding, actor: User) -> Finding:
    """The end of the loop (release → closed is the §8 time to resolution)."""
    _transition(finding, actor=actor, allowed=CLOSABLE, to=S.CLOSED, kind=K.CLOSE)
    return finding


def findings_close(*, findings: Sequence[Finding], actor: User) -> int:
    """Close the closable ones of `findings` (agreed or decided), each with its own event;
    return how many closed. One that moved meanwhile is skipped, not an error."""
    closed = 0
    for finding in findings:
        try:
            finding_close(finding=finding, actor=actor)
        except TransitionError:
            continue
        closed += 1
    return closed


# --------------------------------------------------------------------------- thread, files


@transaction.atomic
def comment_add(
    *, finding: Finding, actor: User, text: str, parent: Comment | None = None
) -> Comment:
    text = (text or "").strip()
    if not text:
        raise ValueError("A comment cannot be empty.")
    if parent is not None and parent.finding_id != finding.pk:
        raise ValueError("A reply must be on the same finding.")
    now = timezone.now()
    comment = Comment.objects.create(
        organization_id=finding.organization_id,
        finding=finding,
        parent=parent,
        author=actor,
        author_name=actor.display_name,
        text=text,
        created_at=now,
    )
    _event(finding=finding, actor=actor, kind=K.COMMENT, text=text, at=now,
           data={"comment": str(comment.public_id)})  # fmt: skip
    log_write(
        organization=finding.encounter.organization,
        actor=actor,
        action="finding.comment",
        obj_type="finding",
        obj_id=str(finding.public_id),
        changes={"comment": str(comment.public_id)},
    )
    others = [u for u in [_coder_user(finding), *_audit_side(finding)] if u is not None]
    notify(
        organization=finding.encounter.organization,
        recipients=others,
        kind="finding_commented",
        title=f"New comment on a finding of encounter {finding.encounter.external_id}",
        body=text[:500],
        url=finding_url(finding),
        actor=actor,
    )
    return comment


def sniff_type(head: bytes) -> str | None:
    """The accepted type the content's first bytes show, or None (the name is not trusted)."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if not head:
        return None
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            sample = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if "\x00" in sample or any(ord(c) < 32 and c not in "\t\n\r\f" for c in sample):
        return None
    return "text/plain"


@transaction.atomic
def attachment_add(*, finding: Finding, actor: User, upload: UploadedFile[bytes]) -> Attachment:
    """Store a file on a finding: at most 10 MB, PDF, PNG, JPEG or plain text by content."""
    size = upload.size or 0
    if size > ATTACHMENT_MAX_BYTES:
        raise AttachmentError("The file is larger than 10 MB.")
    if size == 0:
        raise AttachmentError("The file is empty.")
    upload.seek(0)
    head = upload.read(2048)
    upload.seek(0)
    content_type = sniff_type(head)
    if content_type is None:
        raise AttachmentError("Only PDF, PNG, JPEG and plain-text files can be attached.")
    name = (upload.name or "file").rsplit("/", 1)[-1][:255]
    now = timezone.now()
    attachment = Attachment(
        organization_id=finding.organization_id,
        finding=finding,
        name=name,
        content_type=content_type,
        size=size,
        uploaded_by=actor,
        uploaded_by_name=actor.display_name,
        created_at=now,
    )
    attachment.file.save(str(attachment.public_id), upload, save=False)
    attachment.save()
    _event(finding=finding, actor=actor, kind=K.ATTACH, text=name, at=now,
           data={"attachment": str(attachment.public_id), "size": size})  # fmt: skip
    log_write(
        organization=finding.encounter.organization,
        actor=actor,
        action="finding.attach",
        obj_type="finding",
        obj_id=str(finding.public_id),
        changes={"attachment": str(attachment.public_id), "name": name, "size": size},
    )
    return attachment


__all__ = [
    "AttachmentError",
    "TransitionError",
    "attachment_add",
    "audit_release",
    "comment_add",
    "finding_agree",
    "finding_close",
    "finding_decide",
    "finding_dispute",
    "finding_escalate",
    "restored_coding",
]
