"""The Members screen (managers) and the invitation page (anyone holding a link).

Every action is one POST to its own URL, calls one service of `services_people` and comes
back to the Members screen with a message; a refused action shows the page again with the
reason next to the member (HTTP 400). The invitation page is outside the organization: the
token is the credential, and an unknown token looks like any missing page.
"""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from auditcoach.accounts import selectors, services, services_people
from auditcoach.accounts.forms_people import (
    InviteForm,
    LinkForm,
    NewLoginForm,
    RoleForm,
    UnlinkForm,
    roster_choices,
    suggested_username,
)
from auditcoach.accounts.landing import landing_url
from auditcoach.accounts.models import Invitation, Membership, Role, User
from auditcoach.accounts.permissions import MANAGE_ROLES, OrgRequest, require_role

_LINK_PREFIX: dict[str, str] = {
    Role.CODER: "coder:",
    Role.AUDITOR: "auditor:",
    Role.MANAGER: "auditor:",
}


def _members_url(request: OrgRequest) -> str:
    return reverse("people:members", kwargs={"org_slug": request.organization.slug})


def _member_or_404(request: OrgRequest, username: str) -> Membership:
    membership = selectors.membership_get(organization=request.organization, username=username)
    if membership is None:
        raise Http404("No such member.")
    return membership


def _members_page(
    request: OrgRequest,
    *,
    invite_form: InviteForm | None = None,
    row_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    organization = request.organization
    errors = row_errors or {}
    link_choices = roster_choices(organization)
    overview = selectors.members_overview(organization=organization)
    rows = [
        {
            "row": row,
            "links": [(k, e) for k, e in (("coder", row.coder), ("auditor", row.auditor)) if e],
            "error": errors.get(row.user.username),
            # Only the roster a login of this role may be linked to (services_people.LINKABLE_ROLES).
            "choices": [
                (group, options)
                for group, options in link_choices
                if options and options[0][0].startswith(_LINK_PREFIX.get(row.membership.role, "-"))
            ],
        }
        for row in overview
    ]
    context: dict[str, Any] = {
        "nav": "members",
        "rows": rows,
        "active_count": sum(1 for row in overview if row.membership.is_active),
        "invitations": list(selectors.invitations_pending(organization=organization)),
        "invite_form": invite_form or InviteForm(organization=organization),
        "role_choices": Role.choices,
        "me": request.user.pk,
    }
    return render(request, "accounts/members.html", context, status=status)


@require_role(*MANAGE_ROLES)
@require_safe
def members(request: OrgRequest, org_slug: str) -> HttpResponse:
    return _members_page(request)


@require_role(*MANAGE_ROLES)
@require_POST
def invite(request: OrgRequest, org_slug: str) -> HttpResponseBase:
    form = InviteForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _members_page(request, invite_form=form, status=400)
    try:
        invitation, _token = services_people.invitation_create(
            organization=request.organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            roster=form.cleaned_data["roster_entry"],
            actor=request.user,
            request=request,
        )
    except services_people.PeopleError as exc:
        form.add_error(None, str(exc))
        return _members_page(request, invite_form=form, status=400)
    messages.success(
        request,
        f"Invitation sent to {invitation.email} as {invitation.get_role_display().lower()}. "
        f"The link expires on {date_format(invitation.expires_at, 'DATE_FORMAT')}.",
    )
    return redirect(_members_url(request))


@require_role(*MANAGE_ROLES)
@require_POST
def invitation_revoke(request: OrgRequest, org_slug: str, invitation_id: UUID) -> HttpResponseBase:
    invitation = selectors.invitation_get(
        organization=request.organization, public_id=invitation_id
    )
    if invitation is None:
        raise Http404("No such invitation.")
    if services_people.invitation_revoke(
        invitation=invitation, actor=request.user, request=request
    ):
        messages.success(request, f"The invitation to {invitation.email} was revoked.")
    else:
        messages.info(request, f"The invitation to {invitation.email} was no longer pending.")
    return redirect(_members_url(request))


@require_role(*MANAGE_ROLES)
@require_POST
def member_role(request: OrgRequest, org_slug: str, username: str) -> HttpResponseBase:
    membership = _member_or_404(request, username)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _members_page(request, row_errors={username: "Choose one of the roles."}, status=400)
    try:
        changed = services_people.membership_role_change(
            membership=membership,
            role=form.cleaned_data["role"],
            actor=request.user,
            request=request,
        )
    except services_people.PeopleError as exc:
        return _members_page(request, row_errors={username: str(exc)}, status=400)
    messages.success(
        request, f"{changed.user.display_name} is now {changed.get_role_display().lower()}."
    )
    return redirect(_members_url(request))


@require_role(*MANAGE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def member_deactivate(request: OrgRequest, org_slug: str, username: str) -> HttpResponseBase:
    """GET asks for confirmation (it works without JavaScript); POST deactivates."""
    membership = _member_or_404(request, username)
    if request.method == "POST":
        try:
            services_people.membership_deactivate(
                membership=membership, actor=request.user, request=request
            )
        except services_people.PeopleError as exc:
            return _members_page(request, row_errors={username: str(exc)}, status=400)
        messages.success(
            request,
            f"{membership.user.display_name} was deactivated and can no longer open "
            f"{request.organization.name}.",
        )
        return redirect(_members_url(request))
    context = {
        "nav": "members",
        "membership": membership,
        "is_self": membership.user_id == request.user.pk,
    }
    return render(request, "accounts/member_deactivate.html", context)


@require_role(*MANAGE_ROLES)
@require_POST
def member_reactivate(request: OrgRequest, org_slug: str, username: str) -> HttpResponseBase:
    membership = _member_or_404(request, username)
    services_people.membership_reactivate(
        membership=membership, actor=request.user, request=request
    )
    messages.success(
        request,
        f"{membership.user.display_name} is active again as "
        f"{membership.get_role_display().lower()}.",
    )
    return redirect(_members_url(request))


@require_role(*MANAGE_ROLES)
@require_POST
def member_link(request: OrgRequest, org_slug: str, username: str) -> HttpResponseBase:
    membership = _member_or_404(request, username)
    form = LinkForm(request.POST, organization=request.organization, role=membership.role)
    if not form.is_valid():
        error = " ".join(str(e) for e in form.errors.get("roster", ["Choose a roster entry."]))
        return _members_page(request, row_errors={username: error}, status=400)
    entry = form.cleaned_data["roster"]
    try:
        services_people.roster_link(
            membership=membership, entry=entry, actor=request.user, request=request
        )
    except services_people.PeopleError as exc:
        return _members_page(request, row_errors={username: str(exc)}, status=400)
    messages.success(request, f"{membership.user.display_name} is linked to {entry.label}.")
    return redirect(_members_url(request))


@require_role(*MANAGE_ROLES)
@require_POST
def member_unlink(request: OrgRequest, org_slug: str, username: str) -> HttpResponseBase:
    membership = _member_or_404(request, username)
    form = UnlinkForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _members_page(
            request, row_errors={username: "That roster entry does not exist."}, status=400
        )
    entry = form.cleaned_data["roster"]
    if entry.user_id != membership.user_id:
        return _members_page(
            request,
            row_errors={username: f"{entry.label} is not linked to this login."},
            status=400,
        )
    services_people.roster_unlink(entry=entry, actor=request.user, request=request)
    messages.success(
        request, f"{entry.label} is no longer linked to {membership.user.display_name}."
    )
    return redirect(_members_url(request))


# --------------------------------------------------------------------------- accepting


_INVALID_STATUS = {"unknown": 404, "used": 410, "expired": 410, "revoked": 410}


def _invalid(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request,
        "accounts/invitation_invalid.html",
        {"reason": reason},
        status=_INVALID_STATUS[reason],
    )


def _invitation_page(
    request: HttpRequest, invitation: Invitation, token: str, form: NewLoginForm | None = None
) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "invitation": invitation,
        "organization": invitation.organization,
        "role_label": invitation.get_role_display(),
        "inviter": invitation.invited_by.display_name if invitation.invited_by else "A manager",
        "roster_entry": invitation.coder or invitation.auditor,
        "login_url": reverse("accounts:login") + "?next=" + services_people.invitation_url(token),
        "form": form,
    }
    if isinstance(user, User):
        context["already_member"] = (
            Membership.objects.filter(
                organization=invitation.organization, user=user, is_active=True
            )
            .values_list("role", flat=True)
            .first()
        )
    elif form is None:
        context["form"] = NewLoginForm(
            email=invitation.email, initial={"username": suggested_username(invitation.email)}
        )
    return render(
        request, "accounts/invitation.html", context, status=400 if form is not None else 200
    )


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponseBase:
    """Accept an invitation: sign in or create a login, then join with one POST."""
    invitation = selectors.invitation_for_token(token=token)
    if invitation is None:
        return _invalid(request, "unknown")
    state = services_people.invitation_state(invitation)
    if state != "pending":
        return _invalid(request, state)
    if request.method != "POST":
        return _invitation_page(request, invitation, token)

    user = request.user if isinstance(request.user, User) else None
    form: NewLoginForm | None = None
    if user is None:
        form = NewLoginForm(request.POST, email=invitation.email)
        if not form.is_valid():
            return _invitation_page(request, invitation, token, form)
    try:
        membership = services_people.invitation_accept(
            invitation=invitation,
            user=user,
            new_user=form.as_new_user() if form is not None else None,
            request=request,
        )
    except services_people.InvitationInvalid as exc:
        return _invalid(request, exc.reason)
    except ValidationError as exc:  # the password validators changed since the form ran
        assert form is not None
        form.add_error("password1", exc)
        return _invitation_page(request, invitation, token, form)
    except services_people.PeopleError as exc:
        if form is None:
            messages.error(request, str(exc))
            return redirect(services_people.invitation_url(token))
        form.add_error(None, str(exc))
        return _invitation_page(request, invitation, token, form)
    if user is None:
        new_user = membership.user
        auth_login(request, new_user, backend=settings.AUTHENTICATION_BACKENDS[0])
        services.login_record(user=new_user, request=request)
    messages.success(
        request,
        f"Welcome to {membership.organization.name}. You joined as "
        f"{membership.get_role_display().lower()}.",
    )
    return redirect(landing_url(membership))
