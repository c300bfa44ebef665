"""Tenancy: the organization and the member's role, resolved once per request."""

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse

from auditcoach.accounts import selectors
from auditcoach.accounts.models import Role, User
from auditcoach.accounts.permissions import AuthedRequest

LAST_ORG_SESSION_KEY = "last_org_slug"


def two_factor_redirect(request: HttpRequest, *, organization_name: str) -> HttpResponseBase | None:
    """For an organization that requires two-factor of its managers: where a manager goes
    first (enrolment without an authenticator, the code page with an unverified session),
    or None to carry on. Called by `TenancyMiddleware`."""
    user = request.user
    if getattr(user, "is_verified", lambda: False)():
        return None
    has_device = selectors.two_factor_device(user=cast(User, user)) is not None
    target = reverse("accounts:login_code" if has_device else "accounts:two_factor_setup")
    url = f"{target}?{urlencode({'next': request.get_full_path()})}"
    if has_device:
        messages.info(request, f"{organization_name} requires a two-factor code for managers.")
    else:
        messages.warning(
            request,
            f"{organization_name} requires two-factor sign-in for managers. Set it up to continue.",
        )
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class TenancyMiddleware:
    """Sets `request.organization` and `request.membership` for every request.

    Both are None unless the resolved URL carries `org_slug`. When it does, the user must be
    signed in (else a redirect to the login page) and a member of that organization (else a
    404, whether or not the organization exists: an outsider learns nothing). Views keep
    receiving `org_slug` and ignore it. The slug is remembered in the session as the
    last-used organization. Where the organization requires two-factor sign-in for
    managers, a manager without an authenticator is sent to enrolment and one whose session
    has not passed a code is sent to the code page, before any page of that organization.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        tenant_request = cast(AuthedRequest, request)
        tenant_request.organization = None
        tenant_request.membership = None
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        org_slug = view_kwargs.get("org_slug")
        if org_slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = selectors.membership_for_request(user=request.user, org_slug=str(org_slug))
        if membership is None:
            raise Http404("No such organization.")
        organization = membership.organization
        if organization.require_manager_two_factor and membership.role == Role.MANAGER:
            # Before anything else of this organization: enrolment, or the code page.
            gate = two_factor_redirect(request, organization_name=organization.name)
            if gate is not None:
                return gate
        tenant_request = cast(AuthedRequest, request)
        tenant_request.organization = organization
        tenant_request.membership = membership
        if request.session.get(LAST_ORG_SESSION_KEY) != org_slug:
            request.session[LAST_ORG_SESSION_KEY] = org_slug
        return None
