"""The coding-knowledge screens: code search (for the workspace's code fields), the
organization's licensed CPT file, and facility base rates.

Views parse, authorize, call one service or selector and render. The search answers htmx
with a listbox fragment and API callers (`Accept: application/json`) with JSON.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from auditcoach.accounts.permissions import ANALYTICS_ROLES, MANAGE_ROLES, OrgRequest, require_role
from auditcoach.codesets import selectors
from auditcoach.codesets.forms import BaseRateForm, CodeSearchForm, CptUploadForm
from auditcoach.codesets.knowledge import pricing
from auditcoach.codesets.pricing import fiscal_year
from auditcoach.codesets.services import cpt_codes_replace, facility_base_rate_set

SEARCH_ROLES: Final = ANALYTICS_ROLES
"""Everyone who opens the review workspace: every role but coders (who have no workspace)."""
SEARCH_LIMIT: Final = 20


def _is_htmx(request: OrgRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _money(amount: Decimal | None) -> str:
    return "—" if amount is None else f"${amount:,.2f}"


# --------------------------------------------------------------------------- search


@require_role(*SEARCH_ROLES)
@require_safe
def search(request: OrgRequest, org_slug: str) -> HttpResponse:
    """`?q=` (or `code=`) and `system=` (repeatable; none = all): matching codes."""
    form = CodeSearchForm(request.GET)
    query = form.query()
    hits = selectors.code_search(
        organization=request.organization,
        query=query,
        systems=form.systems(),
        limit=SEARCH_LIMIT,
    )
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"query": query, "results": [hit.as_json() for hit in hits]})
    return render(
        request,
        "codesets/_search_results.html",
        {"hits": hits, "query": query, "short": len(query) < selectors.MIN_QUERY},
    )


# --------------------------------------------------------------------------- CPT file


@require_role(*MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def cpt(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    organization = request.organization
    if request.method == "POST":
        form = CptUploadForm(request.POST, request.FILES)
        if form.is_valid():
            count = cpt_codes_replace(
                organization=organization,
                rows=form.cleaned_data["file"],
                source=form.source,
                actor=request.user,
            )
            messages.success(request, f"Loaded {count:,} CPT codes from {form.source}.")
            return redirect(reverse("codesets:cpt", kwargs={"org_slug": organization.slug}))
    else:
        form = CptUploadForm()
    context = {
        "form": form,
        "summary": selectors.cpt_summary(organization=organization),
        "nav": "cpt",
    }
    return render(request, "codesets/cpt.html", context)


# --------------------------------------------------------------------------- base rates


def _facilities_context(request: OrgRequest) -> dict[str, object]:
    """The facilities with their rates, and the national default of each fiscal year."""
    table = pricing()
    today = timezone.localdate()
    current = fiscal_year(today)
    years = sorted({*table.fiscal_years(), current})
    defaults = []
    for fy in years:
        rate = table.default_base_rate(date(fy - 1, 10, 1))  # any day of the fiscal year
        defaults.append({"fy": fy, "rate": _money(rate) if rate else "", "current": fy == current})
    current_default = next((d["rate"] for d in defaults if d["current"]), "")
    rows = list(selectors.facility_list(organization=request.organization))
    for row in rows:
        row.rate_display = _money(row.base_rate)  # type: ignore[attr-defined]
    return {
        "facilities": rows,
        "defaults": defaults,
        "current_fy": current,
        "current_default": current_default,
        "nav": "facilities",
    }


@require_role(*MANAGE_ROLES)
@require_safe
def facilities(request: OrgRequest, org_slug: str) -> HttpResponse:
    return render(request, "codesets/facilities.html", _facilities_context(request))


@require_role(*MANAGE_ROLES)
@require_POST
def facility_rate(request: OrgRequest, org_slug: str, facility_id: UUID) -> HttpResponseBase:
    """Set or clear a facility's base rate; its inpatient encounters' dollars follow."""
    facility = selectors.facility_get(organization=request.organization, public_id=facility_id)
    form = BaseRateForm(request.POST)
    url = reverse("codesets:facilities", kwargs={"org_slug": request.organization.slug})
    if form.is_valid():
        rate = form.cleaned_data["base_rate"]
        updated = facility_base_rate_set(facility=facility, base_rate=rate, actor=request.user)
        what = (
            f"set to {_money(rate)}"
            if rate is not None
            else "cleared (the national default applies)"
        )
        notice = (
            f"Base rate of {facility.name} {what}; the dollars of {updated:,} inpatient "
            f"encounter{'s' if updated != 1 else ''} were derived again."
        )
        if not _is_htmx(request):
            messages.success(request, notice)
            return redirect(url)
        context = _facilities_context(request)
        context.update({"notice": notice, "notice_level": "success"})
    else:
        # What was typed stays in its field, with the error beside it (with or without JS).
        problems = [str(e) for e in form.errors.get("base_rate", [])]
        context = _facilities_context(request)
        context.update(
            {
                "notice": f"Not saved: {' '.join(problems)}",
                "notice_level": "error",
                "error": {
                    "facility": facility.pk,
                    "value": form.data.get("base_rate", ""),
                    "messages": problems,
                },
            }
        )
    template = "codesets/facilities.html"
    return render(request, f"{template}#facility-table" if _is_htmx(request) else template, context)
