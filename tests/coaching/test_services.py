"""The coaching services: every transition with who and when, decisions that change the
audited version (and so the scores), comments and attachments."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits import selectors as audit_selectors
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.services import AuditedLine
from auditcoach.coaching.models import Attachment, Comment, FindingEvent
from auditcoach.coaching.services import (
    AttachmentError,
    TransitionError,
    attachment_add,
    audit_release,
    comment_add,
    finding_agree,
    finding_close,
    finding_decide,
    finding_dispute,
    finding_escalate,
)
from auditcoach.library.models import Reference
from auditcoach.notifications.models import Notification
from tests.coaching.conftest import finding

pytestmark = pytest.mark.django_db

S = Finding.Status


def audited(encounter: Encounter, group: str) -> list[tuple[str, str, str, int]]:
    return [
        (r.code, r.poa, r.modifiers, r.units)
        for r in CodeLine.objects.filter(
            encounter=encounter, version=CodeLine.Version.AUDITED, group=group
        ).order_by("seq")
    ]


def dispute(f: Finding, coder_user: User) -> Finding:
    return finding_dispute(finding=f, actor=coder_user, rationale="The record supports mine.")


def test_release_all_stamps_time_and_releases_the_audit(
    audit: Audit, auditor: User, coder_user: User
) -> None:
    n = audit_release(audit=audit, actor=auditor)
    assert n == 13
    assert not Finding.objects.filter(encounter__audit=audit, status=S.DRAFT).exists()
    assert not Finding.objects.filter(encounter__audit=audit, released_at__isnull=True).exists()
    audit.refresh_from_db()
    assert audit.status == Audit.Status.RELEASED
    assert audit.released_at is not None
    events = FindingEvent.objects.filter(kind="release")
    assert events.count() == 13
    assert {(e.actor_id, e.from_status, e.to_status) for e in events} == {
        (auditor.pk, "draft", "released")
    }
    assert AuditLogEntry.objects.filter(action="audit.release").count() == 1
    # Only coder.ana has a login: one notification for her.
    assert Notification.objects.filter(recipient=coder_user).count() == 1


def test_release_one_coder_leaves_the_others_drafts(
    audit: Audit, auditor: User, ana: Coder, ben: Coder
) -> None:
    audit_release(audit=audit, actor=auditor, coder=ana)
    assert not Finding.objects.filter(encounter__coder=ana, status=S.DRAFT).exists()
    assert not Finding.objects.filter(encounter__coder=ben).exclude(status=S.DRAFT).exists()
    # The encounters are released with their coder (for the §8 metrics), the others not.
    encounters = Encounter.objects.filter(audit=audit)
    assert not encounters.filter(coder=ana, released_at__isnull=True).exists()
    assert not encounters.filter(coder=ben, released_at__isnull=False).exists()
    audit.refresh_from_db()
    assert audit.status == Audit.Status.IN_REVIEW
    audit_release(audit=audit, actor=auditor, coder=ben)
    audit.refresh_from_db()
    assert audit.status == Audit.Status.RELEASED
    assert not encounters.filter(released_at__isnull=True).exists()


def test_agree_records_who_and_when(audit: Audit, auditor: User, coder_user: User) -> None:
    f = finding(audit, "EM-3", "REVISED", "DX")
    with pytest.raises(TransitionError):
        finding_agree(finding=f, actor=coder_user)  # a draft cannot be answered
    audit_release(audit=audit, actor=auditor)
    f.refresh_from_db()
    finding_agree(finding=f, actor=coder_user)
    f.refresh_from_db()
    assert f.status == S.AGREED
    event = FindingEvent.objects.get(finding=f, kind="agree")
    assert event.actor == coder_user
    assert event.at >= f.released_at
    with pytest.raises(TransitionError):
        finding_agree(finding=f, actor=coder_user)
    finding_close(finding=f, actor=auditor)
    f.refresh_from_db()
    assert f.status == S.CLOSED
    assert list(FindingEvent.objects.filter(finding=f).values_list("kind", flat=True)) == [
        "release",
        "agree",
        "close",
    ]


def test_dispute_needs_rationale_and_cites_own_org_references(
    audit: Audit, auditor: User, coder_user: User, org: Organization, other_org: Organization
) -> None:
    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "HF-1", "REVISED")
    with pytest.raises(ValueError, match="rationale"):
        finding_dispute(finding=f, actor=coder_user, rationale="   ")
    ref = Reference.objects.create(
        organization=org, source="CODING_CLINIC", year=2016, quarter=3, page=8, summary="HF"
    )
    foreign = Reference.objects.create(
        organization=other_org, source="CODING_CLINIC", year=2017, quarter=1, page=2, summary="x"
    )
    with pytest.raises(ValueError, match="another organization"):
        finding_dispute(finding=f, actor=coder_user, rationale="Mine.", references=[foreign])
    finding_dispute(finding=f, actor=coder_user, rationale="Mine.", references=[ref])
    f.refresh_from_db()
    assert f.status == S.DISPUTED
    event = FindingEvent.objects.get(finding=f, kind="dispute")
    assert event.text == "Mine."
    assert event.data["references"] == [
        {"public_id": str(ref.public_id), "citation": "Coding Clinic 3Q 2016 p. 8"}
    ]
    assert Notification.objects.filter(recipient=auditor, kind="finding_disputed").exists()


def test_overturn_restores_the_coding_and_scores_stop_counting_it(
    audit: Audit, org: Organization, auditor: User, coder_user: User
) -> None:
    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "HF-1", "REVISED")  # I50.9 → I50.23, the principal
    before = audit_selectors.audit_scores(organization=org, audit=audit)
    dispute(f, coder_user)
    with pytest.raises(ValueError, match="rationale"):
        finding_decide(finding=f, actor=auditor, decision="overturned", rationale="")
    decided = finding_decide(
        finding=f, actor=auditor, decision="overturned", rationale="Agreed, 9 is right."
    )
    assert decided.status == S.OVERTURNED
    assert not decided.active  # kept as the record of the reversal, out of the counts
    assert Finding.objects.filter(pk=f.pk).exists()
    encounter = decided.encounter
    assert audited(encounter, "DX")[0][0] == "I509"
    after = audit_selectors.audit_scores(organization=org, audit=audit)
    dx_before, dx_after = before.code_accuracy["DX"], after.code_accuracy["DX"]
    assert (dx_before.successes, dx_before.n) == (5, 8)
    assert (dx_after.successes, dx_after.n) == (6, 8)
    counted = audit_selectors.finding_counts(organization=org, audit=audit)
    assert sum(r["n"] for r in counted) == 12
    event = FindingEvent.objects.get(finding=f, kind="decide")
    assert (event.actor, event.from_status, event.to_status) == (auditor, "disputed", "overturned")
    assert Notification.objects.filter(recipient=coder_user, kind="finding_decided").exists()


@pytest.mark.parametrize(
    ("external_id", "kind"),
    [
        ("HF-1", "DELETED"),
        ("HF-1", "ADDED"),
        ("PNA-2", "POA_CHANGED"),
        ("PNA-2", "RESEQUENCED"),
        ("PNA-2", "DISPOSITION_CHANGED"),
        ("OP-4", "MODIFIER_CHANGED"),
        ("OP-4", "UNITS_CHANGED"),
        ("EM-3", "REVISED"),
    ],
)
def test_overturn_of_each_kind_removes_the_difference(
    audit: Audit, auditor: User, external_id: str, kind: str
) -> None:
    audit_release(audit=audit, actor=auditor)
    found = Finding.objects.filter(
        encounter__audit=audit, encounter__external_id=external_id, kind=kind
    ).order_by("position")
    f = found.first()
    assert f is not None
    identity = f.identity
    f.status = S.DISPUTED  # as if its coder had disputed it
    f.save(update_fields=["status"])
    decided = finding_decide(finding=f, actor=auditor, decision="overturned", rationale="Yes.")
    assert decided.status == S.OVERTURNED
    assert not decided.active
    still = [x.identity for x in Finding.objects.filter(encounter=decided.encounter, active=True)]
    assert identity not in still


def test_modified_changes_the_audited_line_and_keeps_one_finding(
    audit: Audit, org: Organization, auditor: User, coder_user: User
) -> None:
    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "EM-3", "REVISED", "LINE")
    dispute(f, coder_user)
    with pytest.raises(ValueError, match="coding decided on"):
        finding_decide(finding=f, actor=auditor, decision="modified", rationale="Level 4.")
    decided = finding_decide(
        finding=f,
        actor=auditor,
        decision="modified",
        rationale="MDM supports level 4.",
        new_line=AuditedLine(system="CPT", code="99214", modifiers=frozenset({"25"})),
    )
    assert decided.status == S.MODIFIED
    assert decided.active
    assert (decided.original_code, decided.audited_code, decided.em_delta) == ("99215", "99214", -1)
    assert ("99214", "", "25", 1) in audited(decided.encounter, "LINE")
    # One finding for the item, no stray draft beside it.
    assert not Finding.objects.filter(encounter=decided.encounter, status=S.DRAFT).exists()
    event = FindingEvent.objects.get(finding=f, kind="decide")
    assert event.data["new_line"][1] == "99214"
    assert event.data["codes"] == ["99215", "99213"]


def test_escalation_is_decided_by_a_manager(
    audit: Audit, auditor: User, manager: User, coder_user: User
) -> None:
    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "HF-1", "ADDED")
    dispute(f, coder_user)
    finding_decide(finding=f, actor=auditor, decision="upheld", rationale="The op note says so.")
    f.refresh_from_db()
    with pytest.raises(ValueError, match="rationale"):
        finding_escalate(finding=f, actor=coder_user, rationale="")
    finding_escalate(finding=f, actor=coder_user, rationale="Please review the op note again.")
    f.refresh_from_db()
    assert f.status == S.ESCALATED
    assert Notification.objects.filter(recipient=manager, kind="finding_escalated").exists()
    decided = finding_decide(
        finding=f, actor=manager, decision="overturned", rationale="Not documented."
    )
    assert decided.status == S.OVERTURNED
    assert not decided.active
    finding_close(finding=decided, actor=manager)
    decided.refresh_from_db()
    assert decided.status == S.CLOSED
    kinds = list(FindingEvent.objects.filter(finding=f).values_list("kind", "actor__username"))
    assert kinds == [
        ("release", "auditor"),
        ("dispute", "coder"),
        ("decide", "auditor"),
        ("escalate", "coder"),
        ("decide", "manager"),
        ("close", "manager"),
    ]


def test_comments_are_threaded(audit: Audit, auditor: User, coder_user: User) -> None:
    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "HF-1", "REVISED")
    first = comment_add(finding=f, actor=coder_user, text="Why 23?")
    reply = comment_add(finding=f, actor=auditor, text="Acute on chronic.", parent=first)
    assert reply.parent == first
    with pytest.raises(ValueError, match="empty"):
        comment_add(finding=f, actor=auditor, text="  ")
    other = finding(audit, "HF-1", "ADDED")
    with pytest.raises(ValueError, match="same finding"):
        comment_add(finding=other, actor=auditor, text="x", parent=first)
    assert Comment.objects.filter(finding=f).count() == 2
    assert FindingEvent.objects.filter(finding=f, kind="comment").count() == 2


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_attachments_type_and_size_are_checked(audit: Audit, auditor: User) -> None:
    f = finding(audit, "HF-1", "REVISED")
    ok = attachment_add(
        finding=f, actor=auditor, upload=SimpleUploadedFile("note.png", PNG, "image/png")
    )
    assert ok.content_type == "image/png"
    assert ok.size == len(PNG)
    assert ok.file.read() == PNG
    text = attachment_add(
        finding=f, actor=auditor, upload=SimpleUploadedFile("note.txt", b"Op note: placed.")
    )
    assert text.content_type == "text/plain"
    with pytest.raises(AttachmentError):  # a program named like a PDF
        attachment_add(
            finding=f,
            actor=auditor,
            upload=SimpleUploadedFile("excerpt.pdf", b"MZ\x90\x00\x03\x00", "application/pdf"),
        )
    big = SimpleUploadedFile("big.pdf", b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(AttachmentError, match="10 MB"):
        attachment_add(finding=f, actor=auditor, upload=big)
    assert Attachment.objects.filter(finding=f).count() == 2


def test_decide_refuses_an_undisputed_finding(audit: Audit, auditor: User) -> None:
    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "HF-1", "REVISED")
    with pytest.raises(TransitionError):
        finding_decide(finding=f, actor=auditor, decision="upheld", rationale="x")
    with pytest.raises(TransitionError):
        finding_close(finding=f, actor=auditor)
    assert timedelta(0) <= (f.updated_at - f.created_at)


def test_a_closed_overturn_stays_on_record_and_withdrawn_findings_do_not_move(
    audit: Audit, auditor: User, coder_user: User, ana: Coder
) -> None:
    """The decision outlives the close: the coder still sees the reversal, and the §8
    overturn counts can read it. A finding the coding no longer gives rise to cannot be
    answered (only a decided one can still be closed)."""
    from auditcoach.coaching.selectors import coder_feedback

    audit_release(audit=audit, actor=auditor)
    f = finding(audit, "HF-1", "REVISED", "DX")
    dispute(f, coder_user)
    finding_decide(finding=f, actor=auditor, decision="overturned", rationale="Not documented.")
    f.refresh_from_db()
    assert (f.status, f.decision, f.active) == (S.OVERTURNED, "overturned", False)
    finding_close(finding=f, actor=auditor)
    f.refresh_from_db()
    assert (f.status, f.decision) == (S.CLOSED, "overturned")
    assert coder_feedback(organization=audit.organization, coder=ana).filter(pk=f.pk).exists()
    # A released finding withdrawn by a later re-derivation cannot be agreed any more.
    other = finding(audit, "HF-1", "DELETED", "DX")
    Finding.objects.filter(pk=other.pk).update(active=False)
    other.refresh_from_db()
    with pytest.raises(TransitionError, match="no longer arises"):
        finding_agree(finding=other, actor=coder_user)
