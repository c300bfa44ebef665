"""The library screens: references, rationale templates, taxonomies; and the two finding
actions of the review workspace (apply a template, set a topic)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from auditcoach.accounts.models import Role
from auditcoach.accounts.permissions import (
    AUDIT_WRITE_ROLES,
    MANAGE_ROLES,
    READ_ROLES,
    OrgRequest,
    has_role,
    require_role,
)
from auditcoach.audits import selectors as audit_selectors
from auditcoach.audits.services import NotesConflictError
from auditcoach.audits.views import workspace_after_change
from auditcoach.library import selectors, services
from auditcoach.library.forms import (
    ApplyTemplateForm,
    ReferenceForm,
    ReferenceSearchForm,
    SupersedeForm,
    TemplateForm,
    TermCreateForm,
    TermUpdateForm,
    TopicForm,
)
from auditcoach.library.models import RationaleTemplate, Reference, TaxonomyKind

LIBRARY_WRITE_ROLES: Final = (Role.MANAGER, Role.AUDITOR, Role.EDUCATOR)
"""Add and edit references (coders and viewers read the library: coders cite it in disputes)."""
TEMPLATE_ROLES: Final = AUDIT_WRITE_ROLES
REFERENCES_PER_PAGE: Final = 50


def _url(name: str, request: OrgRequest, **kwargs: Any) -> str:
    return reverse(f"library:{name}", kwargs={"org_slug": request.organization.slug, **kwargs})


def _is_htmx(request: OrgRequest) -> bool:
    return bool(getattr(request, "htmx", False))


# --------------------------------------------------------------------------- references


@require_role(*READ_ROLES)
@require_safe
def reference_list(request: OrgRequest, org_slug: str) -> HttpResponse:
    """Search the library: words over summary and citation fields, a source, superseded too."""
    form = ReferenceSearchForm(request.GET or None)
    q, source, superseded = "", "", False
    if form.is_valid():
        q = form.cleaned_data["q"]
        source = form.cleaned_data["source"]
        superseded = form.cleaned_data["superseded"]
    refs = selectors.reference_list(
        organization=request.organization, q=q, source=source, include_superseded=superseded
    )
    page = Paginator(refs, REFERENCES_PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode(
        {k: v for k, v in (("q", q), ("source", source), ("superseded", "on" if superseded else ""))
         if v}
    )  # fmt: skip
    context = {
        "nav": "library",
        "form": form if form.is_bound else ReferenceSearchForm(),
        "page": page,
        "rows": list(page.object_list),
        "query": query,
        "filtered": bool(q or source or superseded),
        "list_url": _url("references", request),
        "can_write": has_role(request.membership, LIBRARY_WRITE_ROLES),
        "can_templates": has_role(request.membership, TEMPLATE_ROLES),
        "can_manage": has_role(request.membership, MANAGE_ROLES),
    }
    if _is_htmx(request):
        return render(request, "library/references.html#results", context)
    return render(request, "library/references.html", context)


@require_role(*READ_ROLES)
@require_safe
def reference_detail(request: OrgRequest, org_slug: str, reference_id: UUID) -> HttpResponse:
    reference = selectors.reference_get(organization=request.organization, public_id=reference_id)
    can_write = has_role(request.membership, LIBRARY_WRITE_ROLES)
    context = {
        "nav": "library",
        "reference": reference,
        "replaces": list(reference.supersedes.all()),
        "can_write": can_write,
        "supersede_form": SupersedeForm(reference=reference) if can_write else None,
    }
    return render(request, "library/reference_detail.html", context)


def _reference_form_page(
    request: OrgRequest, form: ReferenceForm, reference: Reference | None
) -> HttpResponse:
    context = {"nav": "library", "form": form, "reference": reference}
    return render(request, "library/reference_form.html", context, status=200)


@require_role(*LIBRARY_WRITE_ROLES)
@require_http_methods(["GET", "POST"])
def reference_create(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    form = ReferenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reference = services.reference_create(
                organization=request.organization, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added {reference.citation}.")
            return redirect(_url("reference", request, reference_id=reference.public_id))
    return _reference_form_page(request, form, None)


@require_role(*LIBRARY_WRITE_ROLES)
@require_http_methods(["GET", "POST"])
def reference_edit(request: OrgRequest, org_slug: str, reference_id: UUID) -> HttpResponseBase:
    reference = selectors.reference_get(organization=request.organization, public_id=reference_id)
    # The form validates a copy so a failed edit never shows half-changed values elsewhere.
    form = ReferenceForm(
        request.POST or None,
        instance=selectors.reference_get(organization=request.organization, public_id=reference_id),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.reference_update(reference=reference, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved {reference.citation}.")
            return redirect(_url("reference", request, reference_id=reference.public_id))
    return _reference_form_page(request, form, reference)


@require_role(*LIBRARY_WRITE_ROLES)
@require_POST
def reference_supersede(request: OrgRequest, org_slug: str, reference_id: UUID) -> HttpResponseBase:
    """Mark a reference replaced by newer advice (chosen among the library's current ones)."""
    reference = selectors.reference_get(organization=request.organization, public_id=reference_id)
    form = SupersedeForm(request.POST, reference=reference)
    if form.is_valid():
        try:
            services.reference_supersede(
                reference=reference,
                replacement=form.cleaned_data["replacement"],
                actor=request.user,
            )
        except ValueError as exc:
            messages.error(request, str(exc).capitalize() + ".")
        else:
            messages.success(
                request, f"{reference.citation} is now superseded by "
                f"{form.cleaned_data['replacement'].citation}.",
            )  # fmt: skip
    else:
        messages.error(request, "Choose the newer reference that replaces this one.")
    return redirect(_url("reference", request, reference_id=reference.public_id))


# --------------------------------------------------------------------------- templates


@require_role(*TEMPLATE_ROLES)
@require_safe
def template_list(request: OrgRequest, org_slug: str) -> HttpResponse:
    templates = list(selectors.template_list(organization=request.organization))
    context = {
        "nav": "templates",
        "templates": templates,
        "topics": selectors.topic_labels(organization=request.organization),
    }
    return render(request, "library/templates.html", context)


def _template_values(form: TemplateForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "body": data["body"],
        "topic": data["topic"],
        "error_category": data["error_category"],
        "root_cause": data["root_cause"],
        "references": list(data["references"]),
        "active": data["active"],
    }


def _template_form_page(
    request: OrgRequest, form: TemplateForm, template: RationaleTemplate | None
) -> HttpResponse:
    return render(
        request,
        "library/template_form.html",
        {"nav": "templates", "form": form, "template": template},
    )


@require_role(*TEMPLATE_ROLES)
@require_http_methods(["GET", "POST"])
def template_create(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    form = TemplateForm(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_create(
                organization=request.organization, actor=request.user, **_template_values(form)
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Added the template “{template.title}”.")
            return redirect(_url("templates", request))
    return _template_form_page(request, form, None)


@require_role(*TEMPLATE_ROLES)
@require_http_methods(["GET", "POST"])
def template_edit(request: OrgRequest, org_slug: str, template_id: UUID) -> HttpResponseBase:
    template = selectors.template_get(organization=request.organization, public_id=template_id)
    refs = list(template.references.all())
    form = TemplateForm(
        request.POST or None,
        organization=request.organization,
        keep=tuple(r.pk for r in refs),
        initial={
            "title": template.title,
            "topic": template.topic,
            "error_category": template.error_category,
            "root_cause": template.root_cause,
            "body": template.body,
            "references": [r.public_id for r in refs],
            "active": template.active,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.template_update(
                template=template, actor=request.user, **_template_values(form)
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved the template “{template.title}”.")
            return redirect(_url("templates", request))
    return _template_form_page(request, form, template)


# --------------------------------------------------------------------------- taxonomies


@require_role(*MANAGE_ROLES)
@require_safe
def taxonomy(request: OrgRequest, org_slug: str) -> HttpResponse:
    terms = selectors.taxonomy_terms(organization=request.organization, active_only=False)
    groups = [
        (kind, label, [t for t in terms if t.kind == kind]) for kind, label in TaxonomyKind.choices
    ]
    context = {"nav": "taxonomy", "groups": groups, "create_form": TermCreateForm()}
    return render(request, "library/taxonomy.html", context)


@require_role(*MANAGE_ROLES)
@require_POST
def taxonomy_term_create(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    form = TermCreateForm(request.POST)
    if form.is_valid():
        try:
            term = services.taxonomy_term_create(
                organization=request.organization,
                kind=form.cleaned_data["kind"],
                label=form.cleaned_data["label"],
                actor=request.user,
            )
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Added “{term.label}”.")
    else:
        messages.error(request, "Give the new term a label.")
    return redirect(_url("taxonomy", request))


@require_role(*MANAGE_ROLES)
@require_POST
def taxonomy_term_update(request: OrgRequest, org_slug: str, term_id: UUID) -> HttpResponseBase:
    term = selectors.taxonomy_term_get(organization=request.organization, public_id=term_id)
    if "delete" in request.POST:
        try:
            services.taxonomy_term_delete(term=term, actor=request.user)
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Deleted “{term.label}”.")
        return redirect(_url("taxonomy", request))
    form = TermUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.taxonomy_term_update(
                term=term,
                label=form.cleaned_data["label"],
                active=form.cleaned_data["active"],
                position=form.cleaned_data["position"],
                actor=request.user,
            )
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Saved “{term.label}”.")
    else:
        messages.error(request, "A label and a position (0 or more) are required.")
    return redirect(_url("taxonomy", request))


# --------------------------------------------------------------------------- findings


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_template_apply(
    request: OrgRequest, org_slug: str, finding_id: UUID
) -> HttpResponseBase:
    """Apply a rationale template to a finding in one step (see the service)."""
    finding = audit_selectors.finding_get(organization=request.organization, public_id=finding_id)
    anchor = f"#finding-{finding.public_id}"
    form = ApplyTemplateForm(request.POST)
    if not form.is_valid():
        return workspace_after_change(
            request, finding.encounter, notice="Choose a template to apply.", level="error",
            anchor=anchor,
        )  # fmt: skip
    template = selectors.template_get(
        organization=request.organization, public_id=form.cleaned_data["template"]
    )
    try:
        services.finding_template_apply(
            finding=finding,
            template=template,
            actor=request.user,
            expected_version=form.cleaned_data["notes_version"],
        )
    except NotesConflictError as exc:
        return workspace_after_change(
            request, finding.encounter, notice=str(exc), level="error", anchor=anchor
        )
    return workspace_after_change(
        request, finding.encounter, notice=f"Applied “{template.title}”.", anchor=anchor
    )


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_topic_set(request: OrgRequest, org_slug: str, finding_id: UUID) -> HttpResponseBase:
    finding = audit_selectors.finding_get(organization=request.organization, public_id=finding_id)
    anchor = f"#finding-{finding.public_id}"
    form = TopicForm(request.POST)
    try:
        if not form.is_valid():
            raise ValueError("unknown topic")
        services.finding_topic_set(
            finding=finding,
            topic=form.cleaned_data["topic"],
            actor=request.user,
            expected_version=form.cleaned_data["notes_version"],
        )
    except NotesConflictError as exc:
        return workspace_after_change(
            request, finding.encounter, notice=str(exc), level="error", anchor=anchor
        )
    except ValueError:
        return workspace_after_change(
            request, finding.encounter, notice="Choose one of the organization's topics.",
            level="error", anchor=anchor,
        )  # fmt: skip
    return workspace_after_change(request, finding.encounter, notice="Topic saved.", anchor=anchor)


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def finding_reference_remove(
    request: OrgRequest, org_slug: str, finding_id: UUID, reference_id: UUID
) -> HttpResponseBase:
    finding = audit_selectors.finding_get(organization=request.organization, public_id=finding_id)
    reference = selectors.reference_get(organization=request.organization, public_id=reference_id)
    services.finding_reference_remove(finding=finding, reference=reference, actor=request.user)
    return workspace_after_change(
        request, finding.encounter, notice=f"Removed {reference.citation}.",
        anchor=f"#finding-{finding.public_id}",
    )  # fmt: skip
