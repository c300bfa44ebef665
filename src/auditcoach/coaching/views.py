"""The coaching screens (DESIGN §7): a coder's feedback, a finding's page with its thread,
files and history, the disputes queue and the ageing list; the actions post here.

Views parse, authorize (role with `require_role`, then the finding itself with
`selectors.finding_for_member`: another coder's finding or a draft is a 404 for a coder),
call one service and redirect back to the page the action came from.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from auditcoach.accounts.models import Coder, Organization, Role
from auditcoach.accounts.permissions import (
    AUDIT_WRITE_ROLES,
    READ_ROLES,
    RESPOND_ROLES,
    OrgRequest,
    require_role,
)
from auditcoach.accounts.selectors import coder_for_user
from auditcoach.auditlog.services import log_view
from auditcoach.audits import selectors as audit_selectors
from auditcoach.audits.blinding import blind_review_url
from auditcoach.audits.models import CodeLine, Encounter, Finding, education_route
from auditcoach.audits.services import ConflictError
from auditcoach.audits.views import ScoreRow, score_rows_of
from auditcoach.coaching import exports as coaching_exports
from auditcoach.coaching import selectors, services
from auditcoach.coaching.forms import (
    AttachmentForm,
    CommentForm,
    DecideForm,
    DisputeForm,
    RationaleForm,
    ReleaseForm,
)
from auditcoach.coaching.models import FindingEvent
from auditcoach.engine.codes import display_code
from auditcoach.engine.scoring import scores
from auditcoach.exports import export_control, export_format, export_response, in_chunks
from auditcoach.library.models import FindingReference

COMMENT_ROLES: Final = (Role.MANAGER, Role.AUDITOR, Role.EDUCATOR, Role.CODER)
"""Everyone but viewers (read-only) takes part in a finding's thread."""
ESCALATE_ROLES: Final = (Role.MANAGER, Role.AUDITOR, Role.CODER)
DEFAULT_SYSTEM: Final = {"DX": "ICD10CM", "PX": "ICD10PCS", "LINE": "CPT"}


def code_text(group: str, code: str) -> str:
    if not code:
        return ""
    return display_code("ICD10CM", code) if group == "DX" else code


def _citations(findings: list[Finding]) -> dict[int, list[str]]:
    links = FindingReference.objects.filter(finding__in=[f.pk for f in findings]).select_related(
        "reference"
    )
    out: dict[int, list[str]] = {}
    for link in links:
        out.setdefault(link.finding_id, []).append(link.reference.citation)
    return out


def _decorate(findings: list[Finding]) -> list[Finding]:
    """Attach what the templates show: codes as coders write them, citations, age."""
    cited = _citations(findings)
    now = timezone.now()
    for f in findings:
        f.original_text = code_text(f.group, f.original_code)  # type: ignore[attr-defined]
        f.audited_text = code_text(f.group, f.audited_code)  # type: ignore[attr-defined]
        f.citations = cited.get(f.pk, [])  # type: ignore[attr-defined]
        f.age_days = (now - f.released_at).days if f.released_at else None  # type: ignore[attr-defined]
    return findings


def _finding_url(request: OrgRequest, finding: Finding) -> str:
    return reverse(
        "coaching:finding",
        kwargs={"org_slug": request.organization.slug, "finding_id": finding.public_id},
    )


# --------------------------------------------------------------------------- pages


FEEDBACK_PER_PAGE: Final = 50


@require_role(*RESPOND_ROLES)
@require_safe
def feedback(request: OrgRequest, org_slug: str) -> HttpResponse:
    """A coder's own released findings, newest first, by encounter; counts by pattern key.

    `show=open` (the default while any wait for the coder) lists those waiting for an
    answer, `show=all` every one; `pattern=` narrows to one pattern key.
    """
    organization = request.organization
    coder = coder_for_user(organization=organization, user=request.user)
    mine = selectors.coder_feedback(organization=organization, coder=coder)
    open_count = mine.filter(status=Finding.Status.RELEASED, active=True).count()
    show = request.GET.get("show", "")
    if show not in ("open", "all"):
        show = "open" if open_count else "all"
    pattern = request.GET.get("pattern", "")[:40]
    listed = mine.filter(status=Finding.Status.RELEASED, active=True) if show == "open" else mine
    if pattern:
        listed = listed.filter(pattern=pattern)
    listed = listed.order_by("-released_at", "encounter__external_id", "position")
    page = Paginator(listed, FEEDBACK_PER_PAGE).get_page(request.GET.get("page"))
    by_encounter: OrderedDict[int, dict[str, Any]] = OrderedDict()
    for f in _decorate(list(page.object_list)):
        group = by_encounter.setdefault(f.encounter_id, {"encounter": f.encounter, "findings": []})
        group["findings"].append(f)
    context = {
        "nav": "feedback",
        "coder": coder,
        "encounters": list(by_encounter.values()),
        "page": page,
        "show": show,
        "pattern": pattern,
        "query": urlencode({k: v for k, v in {"show": show, "pattern": pattern}.items() if v}),
        "patterns": selectors.coder_patterns(findings=mine),
        "open_count": open_count,
        "score_rows": _coder_scores(organization, coder),
        "sla_days": organization.response_sla_days,
    }
    return render(request, "coaching/feedback.html", context)


def _coder_scores(organization: Organization, coder: Coder | None) -> list[ScoreRow]:
    """The coder's own §6 scores, pooled over their released encounters. Computed from the
    two versions, so an overturned finding (its coding restored) no longer counts."""
    if coder is None:
        return []
    released = Encounter.objects.filter(
        organization=organization, coder=coder, released_at__isnull=False
    )
    return [
        row
        for row in score_rows_of(scores(audit_selectors.score_totals(released)))
        if row.cell.prop.n
    ]


def _finding_page(
    request: OrgRequest,
    finding: Finding,
    access: selectors.Access,
    *,
    status: int = 200,
    **forms: Any,
) -> HttpResponse:
    organization = request.organization
    _decorate([finding])
    comments = selectors.finding_comments(finding=finding)
    context = {
        "education_route": education_route(finding.root_cause),
        "nav": "feedback" if request.membership.role == Role.CODER else "disputes",
        "finding": finding,
        "encounter": finding.encounter,
        "access": access,
        "events": selectors.finding_events(finding=finding),
        "comments": comments,
        "attachments": selectors.finding_attachments(finding=finding),
        "dispute_form": forms.get("dispute_form") or DisputeForm(organization=organization),
        "decide_form": forms.get("decide_form") or DecideForm(finding=finding),
        "escalate_form": forms.get("escalate_form") or RationaleForm(),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "default_system": DEFAULT_SYSTEM.get(finding.group, ""),
        "systems": CodeLine.System.choices,
    }
    return render(request, "coaching/finding.html", context, status=status)


def _get(request: OrgRequest, finding_id: UUID) -> tuple[Finding, selectors.Access]:
    found = selectors.finding_for_member(
        organization=request.organization, membership=request.membership, public_id=finding_id
    )
    # A finding is the first auditor's work: hidden from whoever reviews its encounter blind.
    if blind_review_url(request.user, found[0].encounter):
        raise PermissionDenied("You are reviewing this encounter blind.")
    return found


@require_role(*READ_ROLES)
@require_safe
def finding_detail(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponse:
    finding, access = _get(request, finding_id)
    log_view(
        organization=request.organization,
        actor=request.user,
        action="finding.view",
        obj_type="finding",
        obj_id=finding.public_id,
        request=request,
    )
    return _finding_page(request, finding, access)


def _dispute_rows(request: OrgRequest) -> list[dict[str, Any]]:
    """The disputes queue as the page shows it (and the export writes it)."""
    findings = _decorate(list(selectors.dispute_queue(organization=request.organization)))
    last = {
        e.finding_id: e
        for e in FindingEvent.objects.filter(
            organization=request.organization,
            finding__in=[f.pk for f in findings],
            kind__in=["dispute", "escalate"],
        ).order_by("at", "pk")
    }
    return [
        {
            "finding": f,
            "event": last.get(f.pk),
            "may_decide": f.status == Finding.Status.DISPUTED
            or request.membership.role == Role.MANAGER,
            "form": DecideForm(finding=f),
            "default_system": DEFAULT_SYSTEM.get(f.group, ""),
        }
        for f in findings
    ]


@require_role(*AUDIT_WRITE_ROLES)
@require_safe
def disputes(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """Disputed and escalated findings, the longest waiting first, each with its decision
    form (the finding's page has the thread)."""
    rows = _dispute_rows(request)
    if export_format(request):
        return export_response(
            request,
            list_name="disputes",
            title="Disputes",
            columns=coaching_exports.DISPUTE_COLUMNS,
            rows=rows,
            count=len(rows),
        )
    context = {
        "nav": "disputes",
        "rows": rows,
        "systems": CodeLine.System.choices,
        "export": export_control(request),
    }
    return render(request, "coaching/disputes.html", context)


AGEING_PER_PAGE: Final = 100


def _ageing_filters(request: OrgRequest) -> tuple[list[Coder], Coder | None, str]:
    coders = list(
        Coder.objects.filter(organization=request.organization)
        .select_related("user")
        .order_by("name")
    )
    source = request.POST if request.method == "POST" else request.GET
    wanted = source.get("coder", "")
    chosen = next((c for c in coders if str(c.public_id) == wanted), None) if wanted else None
    # Retired coders are not offered unless chosen already (their findings still age).
    coders = [c for c in coders if c.retired_at is None or c == chosen]
    waiting = source.get("waiting", "")
    return coders, chosen, waiting if waiting in selectors.WAITING else ""


def _ageing_rows(findings: list[Finding], sla_days: int) -> list[dict[str, Any]]:
    """Rows of the ageing list (the page's, and the export's chunk by chunk)."""
    now = timezone.now()
    rows = []
    for f in _decorate(findings):
        assert f.released_at is not None
        days = (now - f.released_at).days
        status_waits = selectors.waiting_for(f.status)
        rows.append(
            {
                "finding": f,
                "age_days": days,
                "waiting": selectors.WAITING_LABELS.get(status_waits, ""),
                "overdue": f.status in services.OPEN and days > sla_days,
            }
        )
    return rows


@require_role(*AUDIT_WRITE_ROLES)
@require_safe
def ageing(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """Released findings not closed yet, oldest first: age bands, whom each waits for."""
    organization = request.organization
    coders, chosen, waiting = _ageing_filters(request)
    result = selectors.ageing(organization=organization, coder=chosen, waiting=waiting)
    if export_format(request):
        return export_response(
            request,
            list_name="ageing",
            title="Ageing",
            columns=coaching_exports.AGEING_COLUMNS,
            rows=in_chunks(result.findings, lambda chunk: _ageing_rows(chunk, result.sla_days)),
            count=result.total,
        )
    page = Paginator(result.findings, AGEING_PER_PAGE).get_page(request.GET.get("page"))
    rows = _ageing_rows(list(page.object_list), result.sla_days)
    query = urlencode(
        {
            k: v
            for k, v in {"coder": chosen.public_id if chosen else "", "waiting": waiting}.items()
            if v
        }
    )
    context = {
        "nav": "ageing",
        "rows": rows,
        "page": page,
        "query": query,
        "ageing": result,
        "coders": coders,
        "chosen": chosen,
        "waiting": waiting,
        "waiting_choices": list(selectors.WAITING_LABELS.items()),
        "closable": result.findings.filter(status__in=list(services.CLOSABLE)).count()
        if waiting in ("", "close")
        else 0,
        "export": export_control(request),
    }
    return render(request, "coaching/ageing.html", context)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def ageing_close(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    """Close every answered or decided finding of the ageing list's current filter."""
    _, chosen, _ = _ageing_filters(request)
    result = selectors.ageing(organization=request.organization, coder=chosen, waiting="close")
    n = services.findings_close(findings=list(result.findings), actor=request.user)
    messages.success(request, f"Closed {n} finding{'s' if n != 1 else ''}.")
    target = reverse("coaching:ageing", kwargs={"org_slug": org_slug})
    return redirect(f"{target}?coder={chosen.public_id}" if chosen else target)


@require_role(*READ_ROLES)
@require_safe
def attachment_download(
    request: OrgRequest, org_slug: str, attachment_id: UUID
) -> HttpResponseBase:
    """A finding's file, only to whoever may see the finding."""
    attachment = selectors.attachment_get(
        organization=request.organization, public_id=attachment_id
    )
    _get(request, attachment.finding.public_id)
    log_view(
        organization=request.organization,
        actor=request.user,
        action="attachment.download",
        obj_type="attachment",
        obj_id=str(attachment.public_id),
        request=request,
    )
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=attachment.content_type not in {"image/png", "image/jpeg"},
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------- actions


def _refused(request: OrgRequest, finding: Finding, exc: Exception) -> HttpResponseBase:
    messages.error(request, str(exc))
    return redirect(_finding_url(request, finding))


def _done(request: OrgRequest, finding: Finding, text: str) -> HttpResponseBase:
    messages.success(request, text)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = _finding_url(request, finding)
    return redirect(target)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def audit_release(request: OrgRequest, org_slug: str, audit_id: UUID) -> HttpResponseBase:
    """Release an audit's draft findings, all of them or one coder's."""
    organization = request.organization
    audit = audit_selectors.audit_get(organization=organization, public_id=audit_id)
    form = ReleaseForm(request.POST)
    coder = None
    if form.is_valid() and form.cleaned_data["coder"]:
        coder = Coder.objects.filter(
            organization=organization, public_id=form.cleaned_data["coder"]
        ).first()
        if coder is None:
            messages.error(request, "No such coder.")
            return redirect("audits:detail", org_slug=organization.slug, audit_id=audit.public_id)
    n = services.audit_release(audit=audit, actor=request.user, coder=coder)
    who = f" to {coder.label}" if coder else ""
    messages.success(request, f"Released {n} finding{'s' if n != 1 else ''}{who}.")
    return redirect("audits:detail", org_slug=organization.slug, audit_id=audit.public_id)


@require_role(*RESPOND_ROLES)
@require_POST
def finding_agree(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    if not access.answer:
        return _refused(request, finding, services.TransitionError("This finding is answered."))
    services.finding_agree(finding=finding, actor=request.user)
    return _done(request, finding, "You agreed with the finding.")


@require_role(*RESPOND_ROLES)
@require_POST
def finding_dispute(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    if not access.answer:
        return _refused(request, finding, services.TransitionError("This finding is answered."))
    form = DisputeForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _finding_page(request, finding, access, status=400, dispute_form=form)
    services.finding_dispute(
        finding=finding,
        actor=request.user,
        rationale=form.cleaned_data["rationale"],
        references=list(form.cleaned_data["references"]),
    )
    return _done(request, finding, "Your dispute was sent to the auditor.")


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_decide(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    if not access.decide:
        return _refused(
            request,
            finding,
            services.TransitionError(
                "Only a manager decides an escalated finding."
                if finding.status == Finding.Status.ESCALATED
                else "This finding has no dispute to decide."
            ),
        )
    form = DecideForm(request.POST, finding=finding)
    if not form.is_valid():
        return _finding_page(request, finding, access, status=400, decide_form=form)
    try:
        services.finding_decide(
            finding=finding,
            actor=request.user,
            decision=form.cleaned_data["decision"],
            rationale=form.cleaned_data["rationale"],
            new_line=form.new_line,
        )
    except (services.TransitionError, ConflictError) as exc:
        return _refused(request, finding, exc)
    return _done(request, finding, f"Decided: {form.cleaned_data['decision']}.")


@require_role(*ESCALATE_ROLES)
@require_POST
def finding_escalate(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    if not access.escalate:
        return _refused(
            request, finding, services.TransitionError("This finding cannot be escalated now.")
        )
    form = RationaleForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, access, status=400, escalate_form=form)
    services.finding_escalate(
        finding=finding, actor=request.user, rationale=form.cleaned_data["rationale"]
    )
    return _done(request, finding, "Escalated to the organization's managers.")


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_close(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    if not access.close:
        return _refused(
            request, finding, services.TransitionError("This finding cannot be closed now.")
        )
    services.finding_close(finding=finding, actor=request.user)
    return _done(request, finding, "Finding closed.")


@require_role(*COMMENT_ROLES)
@require_POST
def comment_add(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    form = CommentForm(request.POST)
    if not access.comment or not form.is_valid():
        return _finding_page(request, finding, access, status=400, comment_form=form)
    parent = None
    if form.cleaned_data["parent"]:
        parent = selectors.comment_get(finding=finding, public_id=form.cleaned_data["parent"])
    services.comment_add(
        finding=finding, actor=request.user, text=form.cleaned_data["text"], parent=parent
    )
    return _done(request, finding, "Comment added.")


@require_role(*COMMENT_ROLES)
@require_POST
def attachment_add(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding, access = _get(request, finding_id)
    form = AttachmentForm(request.POST, request.FILES)
    if not access.comment or not form.is_valid():
        return _finding_page(request, finding, access, status=400, attachment_form=form)
    try:
        services.attachment_add(
            finding=finding, actor=request.user, upload=form.cleaned_data["file"]
        )
    except services.AttachmentError as exc:
        form.add_error("file", str(exc))
        return _finding_page(request, finding, access, status=400, attachment_form=form)
    return _done(request, finding, "File attached.")
