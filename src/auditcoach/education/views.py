"""The education screens: list with engagement metrics, assign, detail/complete, follow-ups.

Coders see only their own assignments (another coder's is a 404) and never follow-up
reviews (a re-audit is blind); viewers read; managers, auditors and educators assign.
"""

from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from auditcoach.accounts.models import Role
from auditcoach.accounts.permissions import (
    ANALYTICS_ROLES,
    READ_ROLES,
    OrgRequest,
    has_role,
    require_role,
)
from auditcoach.auditlog.services import log_view
from auditcoach.audits.models import Finding, education_route
from auditcoach.education import exports as education_exports
from auditcoach.education import selectors, services
from auditcoach.education.forms import DEFAULT_ATTESTATION, AssignForm, CompleteForm, FollowupForm
from auditcoach.education.models import EducationAssignment
from auditcoach.exports import export_control, export_format, export_response, in_chunks
from auditcoach.library.models import TaxonomyTerm

LIST_LIMIT = 500
"""Assignments the list page shows at most (the export has them all)."""
ASSIGN_ROLES = (Role.MANAGER, Role.AUDITOR, Role.EDUCATOR)
"""Who may assign education and schedule follow-up reviews (DESIGN §1, §7)."""


def _topics(request: OrgRequest) -> list[tuple[str, str]]:
    return list(
        TaxonomyTerm.objects.filter(
            organization=request.organization, kind="topic", active=True
        ).values_list("code", "label")
    )


@require_role(*READ_ROLES)
@require_safe
def assignment_list(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    assignments = selectors.assignments_visible(
        organization=request.organization, membership=request.membership
    )
    status = request.GET.get("status", "")
    shown = assignments
    if status == "open":
        shown = shown.filter(status=EducationAssignment.Status.ASSIGNED)
    elif status == "completed":
        shown = shown.filter(status=EducationAssignment.Status.COMPLETED)
    shown = shown.order_by("status", "due_date", "id")
    if export_format(request):
        # Every assignment of the filter: the page stops at LIST_LIMIT, the file does not.
        return export_response(
            request,
            list_name="education",
            title="Education",
            columns=education_exports.ASSIGNMENT_COLUMNS,
            rows=in_chunks(shown),
            count=shown.count(),
        )
    return render(
        request,
        "education/list.html",
        {
            "assignments": shown[:LIST_LIMIT],
            "metrics": selectors.education_metrics(assignments=assignments),  # the page's only
            "status": status,
            "can_assign": has_role(request.membership, ASSIGN_ROLES),
            "is_coder": request.membership.role == Role.CODER,
            "nav": "education",
            "export": export_control(request),
        },
    )


@require_role(*ASSIGN_ROLES)
@require_http_methods(["GET", "POST"])
def assign(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    organization = request.organization
    if request.method == "POST":
        form = AssignForm(request.POST, request.FILES, organization=organization)
        if form.is_valid():
            data = form.cleaned_data
            created = services.assignments_create(
                organization=organization,
                coders=list(data["coders"]),
                topic=data["topic"].strip(),
                pattern_key=data["pattern_key"],
                resource_title=data["resource_title"],
                resource_url=data["resource_url"],
                resource_file=data["resource_file"],
                findings=list(data["findings"]),
                references=list(data["references"]),
                due_date=data["due_date"],
                followup_encounters=data["followup_encounters"],
                actor=request.user,
            )
            messages.success(
                request,
                f"Education assigned to {len(created)} coder{'s' if len(created) != 1 else ''}.",
            )
            return redirect("education:index", org_slug=organization.slug)
    else:
        initial: dict[str, object] = {}
        finding_id = request.GET.get("finding", "")
        if finding_id:
            try:
                finding = Finding.objects.select_related("encounter").get(
                    organization=organization, public_id=UUID(finding_id)
                )
            except (ValueError, Finding.DoesNotExist) as exc:
                raise Http404("No such finding") from exc
            initial["pattern_key"] = finding.pattern
            initial["findings"] = [finding.public_id]
            if getattr(finding, "topic", ""):
                initial["topic"] = finding.topic
            if finding.encounter.coder_id is not None:
                initial["coders"] = [finding.encounter.coder_id]
            if education_route(finding.root_cause) == "provider":
                messages.warning(
                    request,
                    "This finding's root cause is documentation: it calls for provider or "
                    "CDI education (a query or a documentation fix) rather than the coder's.",
                )
        if request.GET.get("pattern"):
            initial["pattern_key"] = request.GET["pattern"][:40]
        if request.GET.get("topic"):
            initial["topic"] = request.GET["topic"][:200]
        form = AssignForm(initial=initial, organization=organization)
    return render(
        request,
        "education/assign.html",
        {"form": form, "topics": _topics(request), "nav": "education_assign"},
    )


@require_role(*READ_ROLES)
@require_safe
def assignment_detail(request: OrgRequest, org_slug: str, assignment_id: UUID) -> HttpResponse:
    assignment = selectors.assignment_get(
        organization=request.organization, membership=request.membership, public_id=assignment_id
    )
    return _detail(
        request, assignment, CompleteForm(initial={"attestation_text": DEFAULT_ATTESTATION})
    )


def _detail(
    request: OrgRequest, assignment: EducationAssignment, form: CompleteForm, status: int = 200
) -> HttpResponse:
    is_own = assignment.coder.user_id == request.user.pk
    return render(
        request,
        "education/detail.html",
        {
            "assignment": assignment,
            "findings": assignment.findings.select_related("encounter"),
            "references": assignment.references.all(),
            "followups": (
                assignment.followups.all() if has_role(request.membership, ANALYTICS_ROLES) else []
            ),
            "form": form,
            "followup_form": FollowupForm(
                initial={"n_encounters": assignment.followup_encounters or 5}
            ),
            "can_complete": is_own
            and request.membership.role == Role.CODER
            and assignment.status == EducationAssignment.Status.ASSIGNED,
            "can_assign": has_role(request.membership, ASSIGN_ROLES),
            "nav": "education",
        },
        status=status,
    )


@require_role(Role.CODER)
@require_POST
def assignment_complete(
    request: OrgRequest, org_slug: str, assignment_id: UUID
) -> HttpResponseBase:
    assignment = selectors.assignment_get(
        organization=request.organization, membership=request.membership, public_id=assignment_id
    )
    form = CompleteForm(request.POST)
    if assignment.status == EducationAssignment.Status.COMPLETED:
        messages.info(request, "This education is already completed.")
        return redirect("education:detail", org_slug=org_slug, assignment_id=assignment.public_id)
    if not form.is_valid():
        return _detail(request, assignment, form, status=422)
    followup = services.assignment_complete(
        assignment=assignment,
        attestation_text=form.cleaned_data["attestation_text"],
        quiz_score=form.cleaned_data["quiz_score"],
        actor=request.user,
    )
    messages.success(request, "Education completed. Thank you.")
    del followup  # the coder is not told which encounters will be re-audited
    return redirect("education:detail", org_slug=org_slug, assignment_id=assignment.public_id)


@require_role(*READ_ROLES)
@require_safe
def assignment_file(request: OrgRequest, org_slug: str, assignment_id: UUID) -> FileResponse:
    assignment = selectors.assignment_get(
        organization=request.organization, membership=request.membership, public_id=assignment_id
    )
    if not assignment.resource_file:
        raise Http404("No file")
    log_view(
        organization=request.organization,
        actor=request.user,
        action="education_file.download",
        obj_type="education_assignment",
        obj_id=assignment.public_id,
        request=request,
    )
    handle = assignment.resource_file.open("rb")
    return FileResponse(
        handle,
        as_attachment=False,
        filename=(assignment.resource_file.name or "resource.pdf").rsplit("/", 1)[-1],
        content_type="application/pdf",
    )


@require_role(*ASSIGN_ROLES)
@require_POST
def followup_schedule(request: OrgRequest, org_slug: str, assignment_id: UUID) -> HttpResponseBase:
    assignment = selectors.assignment_get(
        organization=request.organization, membership=request.membership, public_id=assignment_id
    )
    form = FollowupForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose between 1 and 50 encounters.")
        return redirect("education:detail", org_slug=org_slug, assignment_id=assignment.public_id)
    followup = services.followup_schedule(
        assignment=assignment, n_encounters=form.cleaned_data["n_encounters"], actor=request.user
    )
    return redirect("education:followup", org_slug=org_slug, followup_id=followup.public_id)


@require_role(*ANALYTICS_ROLES)
@require_safe
def followup_list(request: OrgRequest, org_slug: str) -> HttpResponse:
    followups = selectors.followups_visible(
        organization=request.organization, membership=request.membership
    )
    return render(
        request,
        "education/followups.html",
        {"followups": followups[:500], "nav": "education_followups"},
    )


@require_role(*ANALYTICS_ROLES)
@require_safe
def followup_detail(request: OrgRequest, org_slug: str, followup_id: UUID) -> HttpResponse:
    followup = selectors.followup_get(
        organization=request.organization, membership=request.membership, public_id=followup_id
    )
    log_view(
        organization=request.organization,
        actor=request.user,
        action="followup.view",
        obj_type="followup_review",
        obj_id=followup.public_id,
        request=request,
    )
    return render(
        request,
        "education/followup.html",
        {
            "followup": followup,
            "encounters": followup.encounters.select_related("audit").order_by("discharge_date"),
            "can_assign": has_role(request.membership, ASSIGN_ROLES),
            "nav": "education_followups",
        },
    )


@require_role(*ASSIGN_ROLES)
@require_POST
def followup_reselect(request: OrgRequest, org_slug: str, followup_id: UUID) -> HttpResponseBase:
    followup = selectors.followup_get(
        organization=request.organization, membership=request.membership, public_id=followup_id
    )
    services.followup_select(followup=followup, actor=request.user)
    messages.success(request, f"{followup.get_status_display()}.")
    return redirect("education:followup", org_slug=org_slug, followup_id=followup.public_id)
