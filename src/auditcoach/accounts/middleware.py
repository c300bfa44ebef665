"""Tenancy: the organization and the member's role, resolved once per request."""

from collections.abc import Callable
from typing import Any, cast

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from auditcoach.accounts import selectors
from auditcoach.accounts.permissions import AuthedRequest

LAST_ORG_SESSION_KEY = "last_org_slug"


class TenancyMiddleware:
    """Sets `request.organization` and `request.membership` for every request.

    Both are None unless the resolved URL carries `org_slug`. When it does, the user must be
    signed in (else a redirect to the login page) and a member of that organization (else a
    404, whether or not the organization exists: an outsider learns nothing). Views keep
    receiving `org_slug` and ignore it. The slug is remembered in the session as the
    last-used organization.
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
        tenant_request = cast(AuthedRequest, request)
        tenant_request.organization = membership.organization
        tenant_request.membership = membership
        if request.session.get(LAST_ORG_SESSION_KEY) != org_slug:
            request.session[LAST_ORG_SESSION_KEY] = org_slug
        return None
