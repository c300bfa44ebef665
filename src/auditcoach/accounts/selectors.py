"""Reads for accounts. Every read of tenant data starts from the organization."""

import hashlib
import uuid
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
)


def membership_for_request(*, user: User, org_slug: str) -> Membership | None:
    """The user's membership in the organization `org_slug`, with its organization, or None.

    One query. The membership carries `user_org_count` (how many organizations the user
    actively belongs to), so the page shell can offer a switch link without another query. A
    missing organization, a missing membership and a deactivated one look the same, on
    purpose: a deactivated member gets the 404 an outsider gets.
    """
    user_orgs = (
        Membership.objects.filter(user=OuterRef("user"), is_active=True)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=org_slug, is_active=True)
        .annotate(user_org_count=Subquery(user_orgs, output_field=IntegerField()))
        .first()
    )


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's active memberships with their organizations, by organization name."""
    return (
        Membership.objects.filter(user=user, is_active=True)
        .select_related("organization")
        .order_by("organization__name", "organization__slug")
    )


def organization_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def coder_for_user(*, organization: Organization, user: User) -> Coder | None:
    """The roster entry linked to a signed-in coder, whose findings are the ones they may see."""
    return Coder.objects.filter(organization=organization, user=user).first()


def two_factor_required_by(*, user: User) -> list[Organization]:
    """The organizations where `user` is an active manager and two-factor is required."""
    return list(
        Organization.objects.filter(
            require_manager_two_factor=True,
            memberships__user=user,
            memberships__role=Role.MANAGER,
            memberships__is_active=True,
        ).order_by("name")
    )


def two_factor_device(*, user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, or None when two-factor sign-in is off."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_codes_left(*, user: User) -> int:
    count: int = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return count


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One line of the Members screen: a membership and the roster entries linked to its login."""

    membership: Membership
    coder: Coder | None
    auditor: Auditor | None

    @property
    def user(self) -> User:
        return self.membership.user


def members_overview(*, organization: Organization) -> list[MemberRow]:
    """Every membership of the organization (active first, then by username), with the roster
    coder and auditor linked to each login. Three queries, however many members."""
    memberships = list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("-is_active", "user__username")
    )
    # `label` reads the linked login's name: loaded with the entries, not one query each.
    coders = {
        c.user_id: c
        for c in Coder.objects.filter(organization=organization, user__isnull=False).select_related(
            "user"
        )
    }
    auditors = {
        a.user_id: a
        for a in Auditor.objects.filter(
            organization=organization, user__isnull=False
        ).select_related("user")
    }
    return [
        MemberRow(membership=m, coder=coders.get(m.user_id), auditor=auditors.get(m.user_id))
        for m in memberships
    ]


def membership_get(*, organization: Organization, username: str) -> Membership | None:
    """The organization's membership (active or not) of the login `username`, or None."""
    return (
        Membership.objects.select_related("user")
        .filter(organization=organization, user__username=username)
        .first()
    )


def invitations_pending(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations that can still be accepted: not accepted, not revoked, not expired."""
    return (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by", "coder", "auditor")
        .order_by("email", "-created_at")
    )


def invitation_get(*, organization: Organization, public_id: uuid.UUID) -> Invitation | None:
    return Invitation.objects.filter(organization=organization, public_id=public_id).first()


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_for_token(*, token: str) -> Invitation | None:
    """The invitation whose link carries `token` (in any state), or None.

    Only the SHA-256 of a token is stored, so a lookup compares hashes; an overlong or
    malformed token is simply unknown.
    """
    if not token or len(token) > 128:
        return None
    return (
        Invitation.objects.select_related("organization", "invited_by", "coder", "auditor")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )


def roster_people_unlinked(
    *, organization: Organization
) -> tuple[QuerySet[Coder], QuerySet[Auditor]]:
    """Roster coders and auditors not retired and not linked to a login, by name: what a login
    can be linked to."""
    coders = Coder.objects.filter(
        organization=organization, user__isnull=True, retired_at__isnull=True
    ).order_by("name")
    auditors = Auditor.objects.filter(
        organization=organization, user__isnull=True, retired_at__isnull=True
    ).order_by("name")
    return coders, auditors
