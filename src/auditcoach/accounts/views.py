"""Sign-in, sign-out and choosing an organization."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from auditcoach.accounts import selectors, services
from auditcoach.accounts.forms import RateLimitedAuthenticationForm
from auditcoach.accounts.landing import landing_url
from auditcoach.accounts.middleware import LAST_ORG_SESSION_KEY
from auditcoach.accounts.models import Membership, User


class RateLimitedLoginView(LoginView):
    """Django's login view with our form; a locked username gets HTTP 429."""

    template_name = "accounts/login.html"
    authentication_form = RateLimitedAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.login_record(user=cast(User, form.get_user()), request=self.request)
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if isinstance(form, RateLimitedAuthenticationForm) and form.is_rate_limited:
            response.status_code = 429
        return response


login_view = RateLimitedLoginView.as_view()


@require_POST
def logout_view(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    if isinstance(user, User):
        services.logout_record(user=user, request=request)
    auth_logout(request)
    messages.info(request, "You have signed out.")
    return redirect("accounts:login")


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
