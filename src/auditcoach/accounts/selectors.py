"""Reads for accounts. Every read of tenant data starts from the organization."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from auditcoach.accounts.models import Coder, Membership, Organization, Role, RosterEntry, User


def membership_for_request(*, user: User, org_slug: str) -> Membership | None:
    """The user's membership in the organization `org_slug`, with its organization, or None.

    One query. The membership carries `user_org_count` (how many organizations the user
    belongs to), so the page shell can offer a switch link without another query. A missing
    organization and a missing membership look the same, on purpose.
    """
    user_orgs = (
        Membership.objects.filter(user=OuterRef("user"))
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=org_slug)
        .annotate(user_org_count=Subquery(user_orgs, output_field=IntegerField()))
        .first()
    )


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships with their organizations, by organization name."""
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name", "organization__slug")
    )


def organization_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def organization_members(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__username")
    )


def roster_list[R: RosterEntry](*, organization: Organization, model: type[R]) -> QuerySet[R]:
    """One roster (facilities, service lines, providers, coders) of an organization, by name."""
    return model._default_manager.filter(organization=organization).order_by("name")


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
