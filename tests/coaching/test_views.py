"""The coaching screens: the tenancy checklist on each, and what each role may see and do."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Finding
from auditcoach.coaching.models import Attachment
from auditcoach.coaching.services import (
    attachment_add,
    audit_release,
    finding_decide,
    finding_dispute,
    finding_escalate,
)
from tests.coaching.conftest import finding
from tests.conftest import AssertTenancy, ClientFor

pytestmark = pytest.mark.django_db

S = Finding.Status


def url(name: str, **kwargs: object) -> str:
    return reverse(f"coaching:{name}", kwargs={"org_slug": "north-health", **kwargs})


@pytest.fixture
def released(audit: Audit, auditor: User) -> Audit:
    audit_release(audit=audit, actor=auditor)
    return audit


def test_feedback_shows_only_own_released_findings(
    audit: Audit,
    auditor: User,
    ana: Coder,
    coder_user: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
    manager: User,
    viewer: User,
    educator: User,
) -> None:
    page = client_for(coder_user).get(url("feedback"))
    assert page.status_code == 200
    assert b"HF-1" not in page.content  # drafts are never visible
    audit_release(audit=audit, actor=auditor)
    page = client_for(coder_user).get(url("feedback"))
    body = page.content.decode()
    assert "Encounter HF-1" in body
    assert "Encounter EM-3" in body
    assert "PNA-2" not in body
    assert "OP-4" not in body
    assert "I50.23" in body
    assert "REVISED:DX:I50" in body
    assert_tenancy(
        url("feedback"), allowed=[coder_user], forbidden=[auditor, manager, viewer, educator]
    )


def test_finding_page_checklist_and_coder_isolation(
    released: Audit,
    auditor: User,
    manager: User,
    educator: User,
    viewer: User,
    coder_user: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
) -> None:
    own = finding(released, "HF-1", "REVISED")
    assert_tenancy(
        url("finding", finding_id=own.public_id),
        allowed=[coder_user, auditor, manager, educator, viewer],
    )
    bens = finding(released, "PNA-2", "ADDED")
    assert client_for(coder_user).get(url("finding", finding_id=bens.public_id)).status_code == 404
    own.status = S.DRAFT
    own.save(update_fields=["status"])
    assert client_for(coder_user).get(url("finding", finding_id=own.public_id)).status_code == 404
    assert client_for(auditor).get(url("finding", finding_id=own.public_id)).status_code == 200
    # Every look at a finding's page is in the log; a refused one (404) is not a view.
    views = AuditLogEntry.objects.filter(action="finding.view")
    assert views.filter(actor=auditor, object_id=own.public_id).exists()
    assert not views.filter(object_id=bens.public_id, actor=coder_user).exists()


def test_coder_agrees_and_disputes_through_the_page(
    released: Audit, coder_user: User, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(coder_user)
    f = finding(released, "HF-1", "REVISED")
    page = client.get(url("finding", finding_id=f.public_id))
    assert b"Dispute" in page.content
    assert b"Agree" in page.content
    refused = client.post(url("dispute", finding_id=f.public_id), {"rationale": "  "})
    assert refused.status_code == 400
    f.refresh_from_db()
    assert f.status == S.RELEASED
    done = client.post(url("dispute", finding_id=f.public_id), {"rationale": "I50.9 only."})
    assert done.status_code == 302
    f.refresh_from_db()
    assert f.status == S.DISPUTED
    other = finding(released, "HF-1", "ADDED")
    assert client.post(url("agree", finding_id=other.public_id)).status_code == 302
    other.refresh_from_db()
    assert other.status == S.AGREED
    bens = finding(released, "PNA-2", "ADDED")
    assert client.post(url("agree", finding_id=bens.public_id)).status_code == 404
    page = client.get(url("finding", finding_id=f.public_id)).content.decode()
    assert "I50.9 only." in page
    assert "Casey Coder" in page


def test_agree_and_dispute_checklist(
    released: Audit,
    coder_user: User,
    auditor: User,
    viewer: User,
    assert_tenancy: AssertTenancy,
) -> None:
    f = finding(released, "HF-1", "REVISED")
    assert_tenancy(
        url("dispute", finding_id=f.public_id),
        allowed=[coder_user],
        forbidden=[auditor, viewer],
        method="post",
        wrong_method="get",
        data={"rationale": "Mine."},
    )
    g = finding(released, "HF-1", "ADDED")
    assert_tenancy(
        url("agree", finding_id=g.public_id),
        allowed=[coder_user],
        forbidden=[auditor, viewer],
        method="post",
        wrong_method="get",
    )


def test_queues_checklist(
    released: Audit,
    auditor: User,
    manager: User,
    coder_user: User,
    viewer: User,
    educator: User,
    assert_tenancy: AssertTenancy,
) -> None:
    for name in ("disputes", "ageing"):
        assert_tenancy(
            url(name), allowed=[auditor, manager], forbidden=[coder_user, viewer, educator]
        )


def test_disputes_queue_and_decide(
    released: Audit,
    auditor: User,
    manager: User,
    coder_user: User,
    viewer: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
) -> None:
    f = finding(released, "HF-1", "REVISED")
    finding_dispute(finding=f, actor=coder_user, rationale="The record says unspecified.")
    queue = client_for(auditor).get(url("disputes")).content.decode()
    assert "The record says unspecified." in queue
    assert "Encounter HF-1" in queue
    assert_tenancy(
        url("decide", finding_id=f.public_id),
        allowed=[auditor],
        forbidden=[coder_user, viewer],
        method="post",
        wrong_method="get",
        data={"decision": "overturned", "rationale": "Right, unspecified."},
    )
    f.refresh_from_db()
    assert f.status == S.OVERTURNED
    assert not f.active
    assert "Encounter HF-1" not in client_for(auditor).get(url("disputes")).content.decode()
    # The coder still sees the overturned finding as the record.
    mine = client_for(coder_user).get(url("feedback"), {"show": "all"}).content.decode()
    assert "Overturned" in mine
    # The default view lists what waits for her answer: not the decided one.
    waiting = client_for(coder_user).get(url("feedback")).content.decode()
    assert "Overturned" not in waiting
    assert "Waiting for your answer" in waiting
    # One pattern key: its findings only.
    only = client_for(coder_user).get(url("feedback"), {"show": "all", "pattern": f.pattern})
    assert only.content.decode().count("coaching-finding") == 1


def test_modified_through_the_form(
    released: Audit, auditor: User, coder_user: User, client_for: ClientFor
) -> None:
    f = finding(released, "EM-3", "REVISED", "LINE")
    finding_dispute(finding=f, actor=coder_user, rationale="Level 5 is supported.")
    client = client_for(auditor)
    bad = client.post(
        url("decide", finding_id=f.public_id),
        {"decision": "modified", "rationale": "Level 4.", "system": "CPT", "code": ""},
    )
    assert bad.status_code == 400
    done = client.post(
        url("decide", finding_id=f.public_id),
        {"decision": "modified", "rationale": "Level 4.", "system": "CPT", "code": "99214",
         "modifiers": "25", "units": "1"},
    )  # fmt: skip
    assert done.status_code == 302
    f.refresh_from_db()
    assert (f.status, f.audited_code) == (S.MODIFIED, "99214")


def test_escalated_is_decided_only_by_a_manager(
    released: Audit, auditor: User, manager: User, coder_user: User, client_for: ClientFor
) -> None:
    f = finding(released, "HF-1", "ADDED")
    finding_dispute(finding=f, actor=coder_user, rationale="Not documented.")
    response = client_for(auditor).post(
        url("escalate", finding_id=f.public_id), {"rationale": "Need a second opinion."}
    )
    assert response.status_code == 302
    f.refresh_from_db()
    assert f.status == S.ESCALATED
    data = {"decision": "upheld", "rationale": "Documented in the op note."}
    client_for(auditor).post(url("decide", finding_id=f.public_id), data)
    f.refresh_from_db()
    assert f.status == S.ESCALATED  # refused with a message
    client_for(manager).post(url("decide", finding_id=f.public_id), data)
    f.refresh_from_db()
    assert f.status == S.UPHELD
    client_for(manager).post(url("close", finding_id=f.public_id))
    f.refresh_from_db()
    assert f.status == S.CLOSED


def test_escalate_and_close_checklist(
    client_for: ClientFor,
    released: Audit,
    auditor: User,
    coder_user: User,
    viewer: User,
    educator: User,
    assert_tenancy: AssertTenancy,
) -> None:
    f = finding(released, "HF-1", "ADDED")
    finding_dispute(finding=f, actor=coder_user, rationale="No.")
    # A dispute still waiting for the auditor is not the coder's to escalate.
    response = client_for(coder_user).post(
        url("escalate", finding_id=f.public_id), {"rationale": "Faster, please."}
    )
    assert response.status_code == 302  # back to the finding, with the reason
    f.refresh_from_db()
    assert f.status == S.DISPUTED
    finding_decide(finding=f, actor=auditor, decision="upheld", rationale="In the op note.")
    assert_tenancy(
        url("escalate", finding_id=f.public_id),
        allowed=[coder_user],
        forbidden=[viewer, educator],
        method="post",
        wrong_method="get",
        data={"rationale": "Please look again."},
    )
    assert_tenancy(
        url("close", finding_id=f.public_id),
        allowed=[auditor],
        forbidden=[coder_user, viewer, educator],
        method="post",
        wrong_method="get",
    )


def test_comments_and_attachments(
    released: Audit,
    auditor: User,
    coder_user: User,
    viewer: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
) -> None:
    f = finding(released, "HF-1", "REVISED")
    assert_tenancy(
        url("comment", finding_id=f.public_id),
        allowed=[coder_user, auditor],
        forbidden=[viewer],
        method="post",
        wrong_method="get",
        data={"text": "A question."},
    )
    page = client_for(auditor).get(url("finding", finding_id=f.public_id)).content.decode()
    assert "A question." in page
    upload = SimpleUploadedFile("excerpt.txt", b"Acute on chronic systolic HF.")
    response = client_for(coder_user).post(url("attach", finding_id=f.public_id), {"file": upload})
    assert response.status_code == 302
    bad = SimpleUploadedFile("excerpt.pdf", b"\x7fELF\x02\x01\x01\x00")
    response = client_for(coder_user).post(url("attach", finding_id=f.public_id), {"file": bad})
    assert response.status_code == 400
    assert b"Only PDF, PNG, JPEG" in response.content
    refused = client_for(viewer).post(
        url("attach", finding_id=f.public_id), {"file": SimpleUploadedFile("a.txt", b"x")}
    )
    assert refused.status_code == 403
    assert Attachment.objects.filter(finding=f).count() == 1


def test_attachment_download_follows_the_finding(
    released: Audit,
    auditor: User,
    coder_user: User,
    viewer: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
) -> None:
    own = finding(released, "HF-1", "REVISED")
    a = attachment_add(finding=own, actor=auditor, upload=SimpleUploadedFile("n.txt", b"Op note."))
    assert_tenancy(url("attachment", attachment_id=a.public_id), allowed=[coder_user, viewer])
    response = client_for(coder_user).get(url("attachment", attachment_id=a.public_id))
    assert b"".join(response.streaming_content) == b"Op note."  # type: ignore[attr-defined]
    from auditcoach.auditlog.models import AuditLogEntry

    logged = AuditLogEntry.objects.filter(action="attachment.download", actor=coder_user)
    assert logged.filter(object_id=str(a.public_id)).exists()
    bens = finding(released, "PNA-2", "ADDED")
    b = attachment_add(finding=bens, actor=auditor, upload=SimpleUploadedFile("m.txt", b"Other."))
    assert (
        client_for(coder_user).get(url("attachment", attachment_id=b.public_id)).status_code == 404
    )


def test_ageing_flags_overdue_and_filters_by_coder(
    released: Audit, org: Organization, auditor: User, ben: Coder, client_for: ClientFor
) -> None:
    old = finding(released, "PNA-2", "ADDED")
    Finding.objects.filter(pk=old.pk).update(released_at=timezone.now() - timedelta(days=10))
    body = client_for(auditor).get(url("ageing")).content.decode()
    assert "Overdue" in body
    assert "HF-1" in body
    body = client_for(auditor).get(url("ageing"), {"coder": str(ben.public_id)}).content.decode()
    assert "HF-1" not in body
    assert "PNA-2" in body


def test_ageing_bands_and_whom_each_finding_waits_for(
    released: Audit,
    org: Organization,
    auditor: User,
    coder_user: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
    manager: User,
    educator: User,
    viewer: User,
) -> None:
    from auditcoach.coaching.selectors import ageing
    from auditcoach.coaching.services import finding_agree

    now = timezone.now()
    open_ = Finding.objects.filter(encounter__audit=released, active=True)
    total = open_.count()
    # Ages 3, 10, 20 and 40 days on four findings; the rest were released just now.
    aged = list(open_.order_by("pk")[:4])
    for f, days in zip(aged, (3, 10, 20, 40), strict=True):
        Finding.objects.filter(pk=f.pk).update(released_at=now - timedelta(days=days))
    agreed = finding(released, "HF-1", "REVISED", "DX")
    finding_agree(finding=agreed, actor=coder_user)
    result = ageing(organization=org, now=now)
    assert [(b.label, b.n) for b in result.buckets] == [
        ("≤ 7 days", total - 3),
        ("8–14 days", 1),
        ("15–30 days", 1),
        ("> 30 days", 1),
    ]
    assert result.total == total
    # Overdue: past the 7-day SLA and still waiting for an answer (the agreed one is not).
    expected_overdue = sum(1 for f in aged[1:] if f.pk != agreed.pk)
    assert result.overdue == expected_overdue
    assert ageing(organization=org, waiting="close", now=now).total == 1
    assert ageing(organization=org, waiting="coder", now=now).total == total - 1

    body = client_for(auditor).get(url("ageing"), {"waiting": "close"}).content.decode()
    assert "closing" in body
    assert "Close the 1 answered or decided finding" in body
    assert_tenancy(
        url("ageing_close"),
        allowed=[auditor],
        forbidden=[coder_user, educator, viewer],
        method="post",
        wrong_method="get",
    )
    agreed.refresh_from_db()
    assert agreed.status == S.CLOSED
    assert ageing(organization=org, now=now).total == total - 1


def test_release_control_on_the_summary(
    audit: Audit,
    auditor: User,
    ana: Coder,
    coder_user: User,
    viewer: User,
    client_for: ClientFor,
    assert_tenancy: AssertTenancy,
) -> None:
    summary = reverse(
        "audits:detail", kwargs={"org_slug": "north-health", "audit_id": audit.public_id}
    )
    page = client_for(auditor).get(summary).content.decode()
    assert "Release findings" in page
    assert f"{ana.label} (" in page  # the release picker names coders by their label
    assert "Release findings" not in client_for(viewer).get(summary).content.decode()
    assert_tenancy(
        url("release", audit_id=audit.public_id),
        allowed=[auditor],
        forbidden=[coder_user, viewer],
        method="post",
        wrong_method="get",
        data={"coder": str(ana.public_id)},
    )
    assert not Finding.objects.filter(encounter__coder=ana, status=S.DRAFT).exists()
    assert Finding.objects.filter(encounter__audit=audit, status=S.DRAFT).exists()


def test_workspace_links_each_finding_to_its_coaching_page(
    released: Audit, auditor: User, client_for: ClientFor
) -> None:
    f = finding(released, "HF-1", "REVISED")
    workspace = reverse(
        "audits:encounter",
        kwargs={"org_slug": "north-health", "encounter_id": f.encounter.public_id},
    )
    assert (
        url("finding", finding_id=f.public_id)
        in client_for(auditor).get(workspace).content.decode()
    )


def test_escalation_by_coder_after_upheld_reaches_managers(
    released: Audit, coder_user: User, manager: User
) -> None:
    f = finding(released, "HF-1", "DELETED")
    finding_dispute(finding=f, actor=coder_user, rationale="Z79.4 is documented.")
    finding_escalate(finding=f, actor=coder_user, rationale="Please decide.")
    f.refresh_from_db()
    assert f.status == S.ESCALATED


def test_documentation_root_cause_routes_to_provider_education(
    released: Audit, auditor: User, educator: User, client_for: ClientFor
) -> None:
    """DESIGN §7: documentation root causes go to provider/CDI education, the rest to the
    coder's; the finding page says so and the assign form warns when it starts from one."""
    f = finding(released, "HF-1", "ADDED")
    page = client_for(auditor).get(url("finding", finding_id=f.public_id)).content.decode()
    assert "routes to" not in page  # no root cause yet
    Finding.objects.filter(pk=f.pk).update(root_cause="KNOWLEDGE_GAP")
    page = client_for(auditor).get(url("finding", finding_id=f.public_id)).content.decode()
    assert "routes to coder education" in page
    assert "Assign education" in page
    Finding.objects.filter(pk=f.pk).update(root_cause="DOCUMENTATION")
    page = client_for(auditor).get(url("finding", finding_id=f.public_id)).content.decode()
    assert "routes to provider / CDI education" in page
    assign = reverse("education:assign", kwargs={"org_slug": "north-health"})
    form = client_for(educator).get(assign, {"finding": str(f.public_id)}).content.decode()
    assert "calls for provider or CDI education" in form
    assert f.pattern in form
