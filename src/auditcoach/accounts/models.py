"""Users, organizations, memberships and each organization's roster (reference data)."""

import uuid
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """A person who can sign in.

    Deliberately plain: Django's username, names, email and password. What a person may do
    is never stored on the user; it comes from their `Membership` in one organization, so one
    person (an audit firm's auditor, say) can work for several organizations with a different
    role in each.
    """

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    AUDITOR = "auditor", "Auditor"
    CODER = "coder", "Coder"
    EDUCATOR = "educator", "Educator"
    VIEWER = "viewer", "Viewer"


class Organization(models.Model):
    """One customer (a health system, a practice) and the hard isolation boundary of the data.

    Every tenant-owned row points at exactly one organization; a person sees an
    organization's data only through a `Membership`. `slug` appears in URLs (`/o/<slug>/`),
    `public_id` is the stable identifier for exports and APIs. `response_sla_days` is the
    window within which coders are expected to answer released findings (DESIGN §8).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    response_sla_days = models.PositiveSmallIntegerField(default=7)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(response_sla_days__gte=1),
                name="accounts_organization_sla_days_positive",
            ),
            models.CheckConstraint(
                condition=~Q(slug=""), name="accounts_organization_slug_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one organization.

    The role is resolved once per request by `TenancyMiddleware`; no membership means the
    organization does not exist as far as that user can tell (a 404). One membership per user
    and organization; the role is checked against the known roles in the database too.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=("user", "organization"), name="accounts_membership_unique"
            ),
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="accounts_membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.organization_id}:{self.role}"


class RosterEntry(models.Model):
    """Shared shape of an organization's reference data: a named entry with a public UUID.

    Names are unique within the organization, which is how imports match a workbook's
    `facility`, `service_line`, `provider` and `coder` columns to rows.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    organization_id: int

    class Meta:
        abstract = True
        ordering = ("name",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=("organization", "name"), name="%(app_label)s_%(class)s_unique_name"
            ),
            models.CheckConstraint(
                condition=~Q(name=""), name="%(app_label)s_%(class)s_name_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Facility(RosterEntry):
    """A hospital or clinic site of the organization.

    `base_rate` is the facility's IPPS base payment rate in dollars, used to turn a change in
    DRG relative weight into a financial impact (DESIGN §6); when null the national
    standardized amount of the discharge's fiscal year is used where known.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="facilities"
    )
    base_rate = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta(RosterEntry.Meta):
        verbose_name_plural = "facilities"
        constraints: ClassVar = [
            *RosterEntry.Meta.constraints,
            models.CheckConstraint(
                condition=Q(base_rate__isnull=True) | Q(base_rate__gt=0),
                name="accounts_facility_base_rate_positive",
            ),
        ]


class ServiceLine(RosterEntry):
    """A clinical service line (cardiology, orthopedics...) used to slice audits and metrics."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="service_lines"
    )


class Provider(RosterEntry):
    """A physician or other provider whose documentation the audited codes rest on.

    Kept so that documentation-related findings and observations can be grouped by provider
    for CDI education.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="providers"
    )


class Coder(RosterEntry):
    """A coder on the organization's roster, whose coded encounters are audited.

    Coders being audited may or may not sign in: `user` links the roster entry to a login
    when they do, and a user is linked to at most one roster entry per organization. A coder
    user sees only the findings of the roster entry linked to them.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="coders")
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="coder_entries"
    )

    class Meta(RosterEntry.Meta):
        constraints: ClassVar = [
            *RosterEntry.Meta.constraints,
            models.UniqueConstraint(
                fields=("organization", "user"),
                condition=Q(user__isnull=False),
                name="accounts_coder_one_per_user",
            ),
        ]
