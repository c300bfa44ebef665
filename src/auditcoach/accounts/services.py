"""Writes for accounts: organizations, memberships, rosters, and the login rate limit.

Each write runs in one transaction and records audit-log entries.
"""

import hashlib
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from auditcoach.accounts.models import Membership, Organization, Role, RosterEntry, User
from auditcoach.auditlog import services as auditlog

# Above this many names, reading the whole roster is cheaper than a huge IN list (and stays
# under SQLite's limit on bound parameters).
_ROSTER_IN_LIMIT = 500

LOGIN_RATE_WINDOW_SECONDS = 15 * 60


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


def _login_key(username: str) -> str:
    # Hashed so that whatever a person typed as a username never sits in the cache as text.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return f"accounts:login-failures:{digest}"


def login_is_locked(username: str) -> bool:
    """True when `username` has had LOGIN_RATE_LIMIT failed logins in the current window."""
    failures: Any = cache.get(_login_key(username), 0)
    return int(failures) >= settings.LOGIN_RATE_LIMIT


def login_failure_record(*, username: str, request: HttpRequest | None = None) -> int:
    """Count a failed login for `username` and log it; returns the failures in the window.

    The window is fixed: it starts at the first failure and lasts 15 minutes.
    """
    key = _login_key(username)
    cache.add(key, 0, timeout=LOGIN_RATE_WINDOW_SECONDS)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=LOGIN_RATE_WINDOW_SECONDS)
        failures = 1
    user = User.objects.filter(username=username).first()
    auditlog.log_write(
        organization=None,
        actor=user,
        action="auth.login_failed",
        obj_type="user",
        obj_id=user.pk if user else None,
        changes={"failures": failures},
        request=request,
    )
    return failures


def login_failures_clear(username: str) -> None:
    cache.delete(_login_key(username))


def login_record(*, user: User, request: HttpRequest | None = None) -> None:
    auditlog.log_write(
        organization=None,
        actor=user,
        action="auth.login",
        obj_type="user",
        obj_id=user.pk,
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
