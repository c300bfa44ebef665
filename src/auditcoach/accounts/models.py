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
    # The score settings of DESIGN §6 that new audits copy (`{}` means the built-in
    # defaults); an audit keeps the copy it was created with.
    score_settings = models.JSONField(default=dict, blank=True)
    # Used for inpatient Δ$ where a facility has no base rate of its own.
    default_base_rate = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    require_manager_two_factor = models.BooleanField(default=False)
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
            models.CheckConstraint(
                condition=Q(default_base_rate__isnull=True) | Q(default_base_rate__gt=0),
                name="accounts_organization_base_rate_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one organization.

    The role is resolved once per request by `TenancyMiddleware`; no membership means the
    organization does not exist as far as that user can tell (a 404). One membership per user
    and organization; the role is checked against the known roles in the database too.
    A deactivated membership (`is_active` false) is kept for the record but grants nothing.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    is_active = models.BooleanField(default=True)
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
    `facility`, `service_line`, `provider`, `coder`, `auditor` and `payer` columns to rows.
    A retired entry (`retired_at` set) is hidden from pickers and filters and kept on
    history.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

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


class Payer(RosterEntry):
    """A payer (Medicare, a commercial plan...) as named in the organization's workbooks.

    Encounters keep the payer's name (`Encounter.payer`); renaming or merging an entry
    rewrites that name on every encounter in the same transaction.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="payers")


class PersonEntry(RosterEntry):
    """A roster entry for a person: the workbook's key (`name`) and how people read it.

    `display_name` is what screens show (a person's name, never a login like `coder.ana`);
    `label` falls back to the linked login's full name, then to the key, when it is blank.
    """

    display_name = models.CharField(max_length=200, blank=True)

    class Meta(RosterEntry.Meta):
        abstract = True

    @property
    def label(self) -> str:
        """The display name, else the linked login's full name, else the workbook key.

        Lists that show many people load `user` with `select_related` (one query).
        """
        if self.display_name:
            return self.display_name
        user = getattr(self, "user", None) if getattr(self, "user_id", None) else None
        full = user.get_full_name().strip() if user is not None else ""
        return full or self.name


class Coder(PersonEntry):
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


class Auditor(PersonEntry):
    """An auditor on the organization's roster, as named in the workbook's `auditor` column.

    Encounters keep the auditor's name (`Encounter.auditor_name`) and, when the entry is
    linked to a login, that user (`Encounter.auditor`); renaming or merging rewrites both.
    An audit firm's auditor is one user with an entry in each client's roster.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="auditors"
    )
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="auditor_entries"
    )

    class Meta(RosterEntry.Meta):
        constraints: ClassVar = [
            *RosterEntry.Meta.constraints,
            models.UniqueConstraint(
                fields=("organization", "user"),
                condition=Q(user__isnull=False),
                name="accounts_auditor_one_per_user",
            ),
        ]


class Invitation(models.Model):
    """An invitation by e-mail to join the organization with a role.

    The link carries a random token of which only the SHA-256 is stored; it works once
    (`accepted_at`) and until `expires_at`, unless revoked. Accepting creates or reuses a
    login and a membership, and links the roster `coder` or `auditor` when one is named.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    coder = models.ForeignKey(
        Coder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auditor = models.ForeignKey(
        Auditor, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="accounts_invitation_role_valid"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["organization", "email"])]

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"


class LoginAttempt(models.Model):
    """One sign-in step tried (a password, a two-factor code) or one password-reset request.

    The throttle (`accounts.throttle`) inserts and commits the row *before* the password is
    checked and then counts the rows of the window, so parallel guesses cannot slip past
    the limit. `key` is a keyed hash of the normalized username (or e-mail address for a
    reset), never the text typed; `ip` is the client address (an IPv6 client's /64 network).
    `known_device` marks attempts from a browser where that user signed in before: they are
    counted apart, so strangers' failures never slow that browser down.
    """

    class Kind(models.TextChoices):
        PASSWORD = "password", "Password"
        CODE = "code", "Two-factor code"
        RESET = "reset", "Password reset request"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Being checked"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused by the throttle"
        PASSED = "passed", "Password right, code still due"
        SUCCEEDED = "succeeded", "Signed in"
        CLEARED = "cleared", "Failure cleared by a later sign-in"
        SENT = "sent", "Reset e-mail sent (or would have been)"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    known_device = models.BooleanField(default=False)
    at = models.DateTimeField()
    outcome = models.CharField(max_length=9, choices=Outcome.choices, default=Outcome.PENDING)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind__in=["password", "code", "reset"]),
                name="accounts_loginattempt_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    outcome__in=[
                        "pending",
                        "failed",
                        "refused",
                        "passed",
                        "succeeded",
                        "cleared",
                        "sent",
                    ]
                ),
                name="accounts_loginattempt_outcome_valid",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["key", "at"], name="accounts_loginattempt_key_at"),
            models.Index(fields=["ip", "at"], name="accounts_loginattempt_ip_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} at {self.at:%Y-%m-%d %H:%M:%S}"
