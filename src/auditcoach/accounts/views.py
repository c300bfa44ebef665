"""The front door and choosing an organization (signing in: `views_signin`)."""

from typing import cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from auditcoach.accounts import selectors
from auditcoach.accounts.landing import landing_url
from auditcoach.accounts.middleware import LAST_ORG_SESSION_KEY
from auditcoach.accounts.models import Membership, User


@require_safe
def home(request: HttpRequest) -> HttpResponseBase:
    """The front door: sign in, go straight to your work in your only organization (the
    landing page of your role there, `landing_url`), or choose an organization."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    memberships = list(selectors.memberships_for_user(user=request.user))
    if len(memberships) == 1:
        return redirect(landing_url(memberships[0]))
    return _chooser(request, memberships)


@require_safe
@login_required
def switch(request: HttpRequest) -> HttpResponseBase:
    """The organization chooser, always shown (even with one organization)."""
    memberships = list(selectors.memberships_for_user(user=cast(User, request.user)))
    return _chooser(request, memberships)


def _chooser(request: HttpRequest, memberships: list[Membership]) -> HttpResponse:
    last_slug = request.session.get(LAST_ORG_SESSION_KEY)
    rows = [
        {
            "membership": membership,
            "organization": membership.organization,
            "url": landing_url(membership),
            "is_last": membership.organization.slug == last_slug,
        }
        for membership in memberships
    ]
    return render(request, "accounts/org_chooser.html", {"rows": rows})
