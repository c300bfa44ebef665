"""Writes for accounts: organizations, memberships, rosters, and signing in.

Each write runs in one transaction and records audit-log entries. The sign-in throttle's
own bookkeeping is in `accounts.throttle`.
"""

from collections.abc import Iterable

from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from auditcoach.accounts.models import Membership, Organization, Role, RosterEntry, User
from auditcoach.auditlog import services as auditlog

# Above this many names, reading the whole roster is cheaper than a huge IN list (and stays
# under SQLite's limit on bound parameters).
_ROSTER_IN_LIMIT = 500

RECOVERY_CODE_COUNT = 10
USERNAME_LOG_LENGTH = 150


@transaction.atomic
def organization_create(
    *, slug: str, name: str, actor: User | None = None
) -> tuple[Organization, bool]:
    """Create the organization `slug`; when it exists already, change nothing.

    Returns the organization and whether it was created. Idempotent so that setup scripts
    can run it again safely; an existing organization keeps its name.
    """
    organization, created = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
    if created:
        auditlog.log_write(
            organization=organization,
            actor=actor,
            action="organization.create",
            obj_type="organization",
            obj_id=organization.public_id,
            changes={"slug": slug, "name": name},
        )
    return organization, created


@transaction.atomic
def membership_add(
    *,
    organization: Organization,
    user: User,
    role: Role | str,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """Give `user` the `role` in `organization`, changing the role of an existing membership.

    Running it again with the same role changes nothing and logs nothing.
    """
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    membership, created = Membership.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if created:
        auditlog.log_write(
            organization=organization,
            actor=actor,
            action="membership.add",
            obj_type="membership",
            obj_id=membership.pk,
            changes={"user": user.get_username(), "role": str(role)},
            request=request,
        )
    elif membership.role != role:
        old_role = membership.role
        membership.role = str(role)
        membership.save(update_fields=["role"])
        auditlog.log_write(
            organization=organization,
            actor=actor,
            action="membership.update",
            obj_type="membership",
            obj_id=membership.pk,
            changes={"user": user.get_username(), "role": [old_role, str(role)]},
            request=request,
        )
    return membership


@transaction.atomic
def roster_get_or_create_many[R: RosterEntry](
    *,
    organization: Organization,
    model: type[R],
    names: Iterable[str],
    actor: User | None = None,
) -> dict[str, R]:
    """Map each name to the organization's roster entry of `model`, creating missing ones.

    For imports: one query reads the existing entries, one bulk insert creates the missing
    ones and one bulk insert logs them, however many names there are. Names are matched
    exactly (callers normalize them); blank names are skipped and absent from the result.
    Two imports creating the same new name at once: the second fails on the unique
    constraint and its transaction rolls back, which an import reports as a retryable error.
    """
    wanted = {name for name in names if name and name.strip()}
    if not wanted:
        return {}
    manager = model._default_manager
    existing = manager.filter(organization=organization)
    if len(wanted) <= _ROSTER_IN_LIMIT:
        existing = existing.filter(name__in=wanted)
    found: dict[str, R] = {entry.name: entry for entry in existing if entry.name in wanted}
    missing = sorted(wanted - found.keys())
    if missing:
        created = manager.bulk_create(
            [model(organization=organization, name=name) for name in missing], batch_size=1000
        )
        obj_type = model._meta.model_name or model.__name__.lower()
        auditlog.bulk_log(
            auditlog.entry_build(
                organization=organization,
                actor=actor,
                action=f"{obj_type}.create",
                obj_type=obj_type,
                obj_id=entry.public_id,
                changes={"name": entry.name},
            )
            for entry in created
        )
        found.update((entry.name, entry) for entry in created)
    return found


def login_record(
    *,
    user: User,
    request: HttpRequest | None = None,
    method: str = "password",
    action: str = "auth.login",
) -> None:
    """Log a full sign-in (`auth.login`) or a session's two-factor step (`auth.otp_verify`);
    `method` is how the last step was passed: password, totp or recovery_code."""
    auditlog.log_write(
        organization=None,
        actor=user,
        action=action,
        obj_type="user",
        obj_id=user.pk,
        changes={"method": method},
        request=request,
    )


def logout_record(*, user: User, request: HttpRequest | None = None) -> None:
    auditlog.log_write(
        organization=None,
        actor=user,
        action="auth.logout",
        obj_type="user",
        obj_id=user.pk,
        request=request,
    )


def login_failure_record(
    *, username: str, failures: int, request: HttpRequest | None = None
) -> None:
    """Log a failed password or code for `username` (as typed, trimmed), from the client."""
    user = User.objects.filter(username=username).only("pk").first()
    auditlog.log_write(
        organization=None,
        actor=None,
        action="auth.login_failed",
        obj_type="user",
        obj_id=user.pk if user else None,
        changes={"username": username[:USERNAME_LOG_LENGTH], "failures": failures},
        request=request,
    )


def login_throttled_record(
    *, username: str, reason: str, retry_after: int, request: HttpRequest | None = None
) -> None:
    """Log an attempt the throttle refused before any password was checked."""
    auditlog.log_write(
        organization=None,
        actor=None,
        action="auth.login_throttled",
        obj_type="user",
        obj_id=None,
        changes={
            "username": username[:USERNAME_LOG_LENGTH],
            "limit": reason,
            "retry_after_seconds": retry_after,
        },
        request=request,
    )


def otp_failure_record(*, user: User, failures: int, request: HttpRequest | None = None) -> None:
    """Log a wrong two-factor code (the password was right)."""
    auditlog.log_write(
        organization=None,
        actor=user,
        action="auth.otp_failed",
        obj_type="user",
        obj_id=user.pk,
        changes={"username": user.get_username()[:USERNAME_LOG_LENGTH], "failures": failures},
        request=request,
    )


@transaction.atomic
def password_set(
    *, user: User, password: str, action: str, request: HttpRequest | None = None
) -> None:
    """Set `user`'s password (already validated by the form) and log it as `action`:
    `auth.password_change` (they knew the old one) or `auth.password_reset` (by e-mail).

    Changing the hash also ends the user's other sessions and spends any reset link.
    """
    if action not in {"auth.password_change", "auth.password_reset"}:
        raise ValueError(f"unknown password action {action!r}")
    user.set_password(password)
    user.save(update_fields=["password"])
    auditlog.log_write(
        organization=None,
        actor=user,
        action=action,
        obj_type="user",
        obj_id=user.pk,
        request=request,
    )


def password_reset_request_record(
    *, email: str, accounts: int, sent: bool, request: HttpRequest | None = None
) -> None:
    """Log a reset request: how many accounts the address matched and whether we sent."""
    auditlog.log_write(
        organization=None,
        actor=None,
        action="auth.password_reset_request",
        obj_type="user",
        obj_id=None,
        changes={"email": email[:254], "accounts": accounts, "sent": sent},
        request=request,
    )


def _recovery_codes_issue(user: User) -> list[str]:
    # One StaticDevice holds the codes; replacing it makes every earlier code useless.
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def two_factor_enable(
    *, user: User, device: TOTPDevice, request: HttpRequest | None = None
) -> list[str]:
    """Confirm `user`'s authenticator (its code was checked) and issue 10 recovery codes.

    Any other authenticator of the user is removed: one app at a time, so "remove
    two-factor" and "lost my phone" mean one thing. Returns the codes, to show once.
    """
    if device.user_id != user.pk:
        raise ValueError("the device belongs to another user")
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_issue(user)
    auditlog.log_write(
        organization=None,
        actor=user,
        action="auth.two_factor_enable",
        obj_type="user",
        obj_id=user.pk,
        changes={"recovery_codes": len(codes)},
        request=request,
    )
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User, request: HttpRequest | None = None) -> list[str]:
    """New recovery codes for a user with two-factor on; the old ones stop working."""
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ValueError("two-factor sign-in is not on")
    codes = _recovery_codes_issue(user)
    auditlog.log_write(
        organization=None,
        actor=user,
        action="auth.recovery_codes_regenerate",
        obj_type="user",
        obj_id=user.pk,
        changes={"recovery_codes": len(codes)},
        request=request,
    )
    return codes


@transaction.atomic
def two_factor_disable(
    *, user: User, by_command: bool = False, request: HttpRequest | None = None
) -> None:
    """Remove the authenticator and the recovery codes. From the account page the caller
    checked the password and that no organization requires two-factor of this user; from
    `auditcoach two-factor-remove` an administrator helps someone who lost both."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    auditlog.log_write(
        organization=None,
        actor=None if by_command else user,
        action="auth.two_factor_disable",
        obj_type="user",
        obj_id=user.pk,
        changes={"username": user.get_username(), "by": "command" if by_command else "user"},
        request=request,
    )


@transaction.atomic
def two_factor_setup_begin(*, user: User, request: HttpRequest | None = None) -> TOTPDevice:
    """The unconfirmed authenticator whose key the enrolment page shows (made once, then
    reused until it is confirmed, so reloading the page keeps the same QR code)."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
        auditlog.log_write(
            organization=None,
            actor=user,
            action="auth.two_factor_setup",
            obj_type="user",
            obj_id=user.pk,
            request=request,
        )
    return device
