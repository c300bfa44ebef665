"""Template context for the page shell: the current organization, role and permissions."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from auditcoach.accounts.models import Membership, Organization
from auditcoach.accounts.permissions import (
    ANALYTICS_ROLES,
    AUDIT_WRITE_ROLES,
    EDUCATION_WRITE_ROLES,
    MANAGE_ROLES,
    RESPOND_ROLES,
    has_role,
)


@dataclass(frozen=True, slots=True)
class OrgPerms:
    """What the current member may do, for showing or hiding links and buttons."""

    audit_write: bool = False
    education_write: bool = False
    respond: bool = False
    analytics: bool = False
    manage: bool = False


def tenancy(request: HttpRequest) -> dict[str, Any]:
    organization: Organization | None = getattr(request, "organization", None)
    membership: Membership | None = getattr(request, "membership", None)
    return {
        "current_org": organization,
        "current_membership": membership,
        "current_role": membership.role if membership else None,
        "can_switch_org": getattr(membership, "user_org_count", 0) > 1,
        "org_perms": OrgPerms(
            audit_write=has_role(membership, AUDIT_WRITE_ROLES),
            education_write=has_role(membership, EDUCATION_WRITE_ROLES),
            respond=has_role(membership, RESPOND_ROLES),
            analytics=has_role(membership, ANALYTICS_ROLES),
            manage=has_role(membership, MANAGE_ROLES),
        ),
    }
