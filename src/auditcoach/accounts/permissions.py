"""Request types for views and the role checks of organization views.

The organization and the member's role are resolved once, by `TenancyMiddleware`; views
decorated with `require_role` can rely on `request.organization` and `request.membership`.
Another organization's data is a 404 (the middleware), a role that may not act is a 403
(this module).
"""

import functools
from collections.abc import Callable, Iterable
from typing import Concatenate, Final

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from auditcoach.accounts.models import Membership, Organization, Role, User


class AuthedRequest(HttpRequest):
    """For typing only: a request as our middleware leaves it (attributes may be None)."""

    user: User  # narrowed: views using it require a login
    organization: Organization | None
    membership: Membership | None


class OrgRequest(AuthedRequest):
    """For typing only: a request to an organization view (`/o/<org_slug>/...`)."""

    organization: Organization
    membership: Membership


READ_ROLES: Final = (Role.MANAGER, Role.AUDITOR, Role.CODER, Role.EDUCATOR, Role.VIEWER)
"""Everyone in the organization (coders still see only their own findings)."""
ANALYTICS_ROLES: Final = (Role.MANAGER, Role.AUDITOR, Role.EDUCATOR, Role.VIEWER)
"""Organization-wide dashboards and reports: everyone but coders."""
AUDIT_WRITE_ROLES: Final = (Role.MANAGER, Role.AUDITOR)
"""Plan audits, review encounters, record and release findings, decide disputes."""
EDUCATION_WRITE_ROLES: Final = (Role.MANAGER, Role.EDUCATOR)
"""Assign and track education, schedule follow-up reviews."""
RESPOND_ROLES: Final = (Role.CODER,)
"""Answer released findings (agree / dispute), complete education."""
MANAGE_ROLES: Final = (Role.MANAGER,)
"""Organization settings, members, roster, scoring settings."""


def has_role(membership: Membership | None, roles: Iterable[str]) -> bool:
    return membership is not None and membership.role in tuple(roles)


def require_role[**P, R: HttpResponseBase](
    *roles: str,
) -> Callable[[Callable[Concatenate[OrgRequest, P], R]], Callable[Concatenate[OrgRequest, P], R]]:
    """Allow an organization view only to members with one of `roles`; others get a 403.

    Use on views routed under `o/<slug:org_slug>/`, after the middleware has turned
    outsiders away with a 404. Put it above `require_POST` and friends.
    """
    unknown = set(roles) - set(Role.values)
    if not roles or unknown:
        raise ValueError(f"require_role needs known roles, got {roles!r}")
    allowed = frozenset(roles)

    def decorator(
        view: Callable[Concatenate[OrgRequest, P], R],
    ) -> Callable[Concatenate[OrgRequest, P], R]:
        @functools.wraps(view)
        def wrapped(request: OrgRequest, /, *args: P.args, **kwargs: P.kwargs) -> R:
            membership = getattr(request, "membership", None)
            if membership is None:
                # The URL has no org_slug, so TenancyMiddleware never ran: a wiring mistake.
                raise ImproperlyConfigured(
                    f"{view.__qualname__} uses require_role but its URL has no org_slug"
                )
            if membership.role not in allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
