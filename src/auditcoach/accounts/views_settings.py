"""The organization settings and roster screens (managers only).

Thin views: parse, authorize (`require_role(MANAGER)`), call one service or selector,
render. Outsiders never get here (the tenancy middleware answers 404).
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from auditcoach.accounts.forms_settings import (
    OrganizationSettingsForm,
    RosterEditForm,
    RosterMergeForm,
)
from auditcoach.accounts.permissions import MANAGE_ROLES, OrgRequest, require_role
from auditcoach.accounts.selectors_rosters import roster_entries, roster_entry_get, roster_kind
from auditcoach.accounts.services_rosters import (
    KINDS,
    RosterError,
    RosterKind,
    merge_preview,
    roster_entry_merge,
    roster_entry_retire,
    roster_entry_update,
)
from auditcoach.accounts.services_settings import organization_settings_update

DEFAULT_KIND: Final = "facilities"

PLACE_LABELS: Final = {
    "audits.encounter.facility": "encounters",
    "audits.encounter.service_line": "encounters",
    "audits.encounter.provider": "encounters",
    "audits.encounter.coder": "encounters (and their findings, overreads and disputes)",
    "audits.encounter.payer": "encounters",
    "audits.encounter.auditor_name": "encounters",
    "education.educationassignment.coder": "education assignments",
    "education.followupreview.coder": "follow-up reviews",
    "accounts.invitation.coder": "invitations",
    "accounts.invitation.auditor": "invitations",
    "analytics.dashboardview.filters": "saved dashboard views (their filter)",
}


@require_role(*MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def general(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    organization = request.organization
    if request.method == "POST":
        form = OrganizationSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            changes = organization_settings_update(
                organization=organization,
                name=data["name"],
                response_sla_days=data["response_sla_days"],
                scoring=form.score_settings(),
                default_base_rate=data["default_base_rate"],
                require_manager_two_factor=data["require_manager_two_factor"],
                actor=request.user,
                request=request,
            )
            if changes:
                messages.success(
                    request,
                    "Settings saved. New imports use them; existing audits keep the "
                    "score settings they were created with.",
                )
            else:
                messages.info(request, "Nothing changed.")
            return redirect("orgsettings:general", org_slug=organization.slug)
    else:
        form = OrganizationSettingsForm(initial=OrganizationSettingsForm.initial_for(organization))
    return render(request, "accounts/settings.html", {"form": form, "nav": "settings"})


def _roster_url(organization_slug: str, kind: RosterKind) -> str:
    return reverse("orgsettings:roster", kwargs={"org_slug": organization_slug, "kind": kind.slug})


@require_role(*MANAGE_ROLES)
@require_safe
def rosters(request: OrgRequest, org_slug: str, kind: str = DEFAULT_KIND) -> HttpResponse:
    roster = roster_kind(kind)
    entries = list(roster_entries(organization=request.organization, kind=roster))
    context = {
        "nav": "rosters",
        "kind": roster,
        "kinds": list(KINDS.values()),
        "entries": entries,
        "active_count": sum(1 for e in entries if e.retired_at is None),
    }
    return render(request, "accounts/rosters.html", context)


@require_role(*MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def roster_edit(request: OrgRequest, org_slug: str, kind: str, entry_id: UUID) -> HttpResponseBase:
    roster = roster_kind(kind)
    entry = roster_entry_get(organization=request.organization, kind=roster, public_id=entry_id)
    if request.method == "POST":
        form = RosterEditForm(request.POST, person=roster.person)
        if form.is_valid():
            try:
                changes = roster_entry_update(
                    entry=entry,
                    name=form.cleaned_data["name"],
                    display_name=form.cleaned_data.get("display_name") if roster.person else None,
                    actor=request.user,
                    request=request,
                )
            except RosterError as exc:
                form.add_error("name", str(exc))
            else:
                if changes:
                    messages.success(
                        request, f"Saved {roster.singular} “{form.cleaned_data['name']}”."
                    )
                else:
                    messages.info(request, "Nothing changed.")
                return redirect(_roster_url(request.organization.slug, roster))
    else:
        initial = {"name": entry.name, "display_name": getattr(entry, "display_name", "")}
        form = RosterEditForm(initial=initial, person=roster.person)
    context = {"nav": "rosters", "kind": roster, "entry": entry, "form": form}
    return render(request, "accounts/roster_edit.html", context)


@require_role(*MANAGE_ROLES)
@require_POST
def roster_retire(
    request: OrgRequest, org_slug: str, kind: str, entry_id: UUID
) -> HttpResponseBase:
    return _retire(request, kind, entry_id, retired=True)


@require_role(*MANAGE_ROLES)
@require_POST
def roster_restore(
    request: OrgRequest, org_slug: str, kind: str, entry_id: UUID
) -> HttpResponseBase:
    return _retire(request, kind, entry_id, retired=False)


def _retire(request: OrgRequest, kind: str, entry_id: UUID, *, retired: bool) -> HttpResponseBase:
    roster = roster_kind(kind)
    entry = roster_entry_get(organization=request.organization, kind=roster, public_id=entry_id)
    roster_entry_retire(entry=entry, retired=retired, actor=request.user, request=request)
    if retired:
        messages.success(
            request,
            f"Retired “{entry.name}”: hidden from pickers and filters; its history still counts.",
        )
    else:
        messages.success(request, f"Restored “{entry.name}”: offered in pickers and filters again.")
    return redirect(_roster_url(request.organization.slug, roster))


@require_role(*MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def roster_merge(request: OrgRequest, org_slug: str, kind: str, entry_id: UUID) -> HttpResponseBase:
    """Choose the survivor (GET), confirm what will move (GET with `into`), merge (POST)."""
    roster = roster_kind(kind)
    organization = request.organization
    entry = roster_entry_get(organization=organization, kind=roster, public_id=entry_id)
    candidates = [
        e for e in roster_entries(organization=organization, kind=roster) if e.pk != entry.pk
    ]
    source = request.POST if request.method == "POST" else request.GET
    form = RosterMergeForm(source if "into" in source else None, candidates=candidates)
    context = {
        "nav": "rosters",
        "kind": roster,
        "entry": entry,
        "form": form,
        "candidates": candidates,
    }
    if not form.is_bound or not form.is_valid():
        return render(request, "accounts/roster_merge.html", context)
    survivor = form.survivor()
    if request.method == "POST" and request.POST.get("confirm") == "1":
        try:
            moved = roster_entry_merge(
                merged=entry, survivor=survivor, actor=request.user, request=request
            )
        except RosterError as exc:
            messages.error(request, str(exc))
            return redirect(_roster_url(organization.slug, roster))
        total = sum(n for place, n in moved.items() if place.startswith("audits.encounter."))
        messages.success(
            request,
            f"Merged “{entry.name}” into “{survivor.name}”: {total} encounter"
            f"{'' if total == 1 else 's'} and everything else that referred to it moved.",
        )
        return redirect(_roster_url(organization.slug, roster))
    preview = merge_preview(merged=entry, survivor=survivor)
    context.update(
        survivor=survivor,
        moves=[(PLACE_LABELS.get(place, place), n) for place, n in preview.items()],
        confirming=True,
    )
    return render(request, "accounts/roster_merge.html", context)
