"""Writes for an organization's people: logins, invitations, roles, deactivation, roster links.

Each function is keyword-only, runs in one transaction and writes its audit-log entries
(with the request, so the client address is recorded). Rules a person can break raise
`PeopleError` with a message fit for a form; the last-manager rule is checked under row
locks so that two managers demoting each other at the same moment cannot both succeed.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
)
from auditcoach.accounts.selectors import invitation_token_hash
from auditcoach.auditlog import services as auditlog

logger = logging.getLogger(__name__)

type RosterPerson = Coder | Auditor

LINKABLE_ROLES: dict[type[Coder] | type[Auditor], tuple[str, ...]] = {
    Coder: (Role.CODER,),
    Auditor: (Role.AUDITOR, Role.MANAGER),
}
"""Which memberships may be linked to which roster: a coder's feedback follows `Coder.user`,
an auditor's (or an auditing manager's) encounters follow `Auditor.user`."""


class PeopleError(Exception):
    """A rule of the Members screen was broken; the message is shown to the person."""


class LastManagerError(PeopleError):
    pass


class InvitationInvalid(PeopleError):
    """The invitation cannot be used: `reason` is "expired", "used" or "revoked"."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This invitation can no longer be used ({reason}).")
        self.reason = reason


LAST_MANAGER_MESSAGE = (
    "{name} is the organization's last active manager. Make another member a manager first."
)


# --------------------------------------------------------------------------- logins


def username_taken(username: str) -> bool:
    """Usernames are unique without regard to case, so `Ana` and `ana` are never two people."""
    return User.objects.filter(username__iexact=username).exists()


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> User:
    """Create a login. Raises PeopleError for a taken username and Django's ValidationError
    for a password its validators (settings.AUTH_PASSWORD_VALIDATORS) refuse."""
    if username_taken(username):
        raise PeopleError(f"The username {username!r} is already taken.")
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
    )
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save()
    auditlog.log_write(
        organization=None,
        actor=actor or user,
        action="user.create",
        obj_type="user",
        obj_id=user.pk,
        changes={"username": username, "email": user.email},
        request=request,
    )
    return user


# --------------------------------------------------------------------------- the manager rule


def _lock_for_change(membership: Membership) -> tuple[Membership, list[Membership]]:
    """Lock the organization's active managers (in primary-key order, so that two requests
    never deadlock) and then `membership`; return its current state and the managers.

    On PostgreSQL a request that waited for the locks sees the other request's committed
    change (a demoted manager drops out of the locked set); SQLite runs write transactions
    one at a time (IMMEDIATE), which gives the same result.
    """
    managers = list(
        Membership.objects.select_for_update()
        .filter(organization_id=membership.organization_id, role=Role.MANAGER, is_active=True)
        .order_by("pk")
    )
    current = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    return current, managers


def _ensure_not_last_manager(current: Membership, managers: list[Membership]) -> None:
    others = [m for m in managers if m.pk != current.pk]
    if current.is_active and current.role == Role.MANAGER and not others:
        raise LastManagerError(LAST_MANAGER_MESSAGE.format(name=current.user.display_name))


def _log_membership(
    membership: Membership,
    action: str,
    changes: dict[str, object],
    actor: User | None,
    request: HttpRequest | None,
) -> None:
    auditlog.log_write(
        organization=membership.organization,
        actor=actor,
        action=action,
        obj_type="membership",
        obj_id=membership.pk,
        changes={"user": membership.user.get_username(), **changes},
        request=request,
    )


@transaction.atomic
def membership_role_change(
    *,
    membership: Membership,
    role: Role | str,
    actor: User,
    request: HttpRequest | None = None,
) -> Membership:
    """Give the member another role; the last active manager cannot be demoted."""
    if role not in Role.values:
        raise PeopleError("Choose one of the roles.")
    current, managers = _lock_for_change(membership)
    if current.role == role:
        return current
    if role != Role.MANAGER:
        _ensure_not_last_manager(current, managers)
    old = current.role
    current.role = str(role)
    current.save(update_fields=["role"])
    _log_membership(current, "membership.update", {"role": [old, str(role)]}, actor, request)
    return current


@transaction.atomic
def membership_deactivate(
    *, membership: Membership, actor: User, request: HttpRequest | None = None
) -> Membership:
    """Take away the member's access (kept for the record); not the last active manager, and
    not oneself (another manager does it, so nobody locks themselves out by a slip)."""
    current, managers = _lock_for_change(membership)
    if current.user_id == actor.pk:
        raise PeopleError("You cannot deactivate yourself; ask another manager.")
    if not current.is_active:
        return current
    _ensure_not_last_manager(current, managers)
    current.is_active = False
    current.save(update_fields=["is_active"])
    _log_membership(current, "membership.deactivate", {"is_active": [True, False]}, actor, request)
    return current


@transaction.atomic
def membership_reactivate(
    *, membership: Membership, actor: User, request: HttpRequest | None = None
) -> Membership:
    """Give a deactivated member their access back, with the role they had."""
    current = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    if current.is_active:
        return current
    current.is_active = True
    current.save(update_fields=["is_active"])
    _log_membership(current, "membership.reactivate", {"is_active": [False, True]}, actor, request)
    return current


# --------------------------------------------------------------------------- roster links


def _roster_kind(entry: RosterPerson) -> str:
    return "coder" if isinstance(entry, Coder) else "auditor"


def _sync_encounter_auditor(entry: RosterPerson, user: User | None, old: User | None) -> None:
    # Encounters keep the auditor's name and, when the entry has a login, that user: the
    # auditor's queues follow `Encounter.auditor`, so a new link takes over the entry's
    # encounters and an unlink gives them back.
    if not isinstance(entry, Auditor):
        return
    from auditcoach.audits.models import Encounter

    encounters = Encounter.objects.filter(
        organization_id=entry.organization_id, auditor_name=entry.name
    )
    if old is not None:
        encounters.filter(auditor=old).update(auditor=None)
    if user is not None:
        encounters.update(auditor=user)


def _link(
    *,
    entry: RosterPerson,
    user: User,
    actor: User | None,
    request: HttpRequest | None,
    organization: Organization,
) -> None:
    model = type(entry)
    kind = _roster_kind(entry)
    locked = model._default_manager.select_for_update().get(pk=entry.pk)
    if locked.user_id == user.pk:
        return
    if locked.user_id is not None:
        raise PeopleError(
            f"The roster {kind} {locked.label} is already linked to another login; unlink it first."
        )
    # A login has at most one roster entry of each kind per organization: a new link moves it.
    previous = model._default_manager.select_for_update().filter(
        organization=organization, user=user
    )
    for old in previous:
        old.user = None
        old.save(update_fields=["user"])
        _sync_encounter_auditor(old, None, user)
        auditlog.log_write(
            organization=organization,
            actor=actor,
            action=f"{kind}.unlink",
            obj_type=kind,
            obj_id=old.public_id,
            changes={"user": [user.get_username(), None]},
            request=request,
        )
    locked.user = user
    locked.save(update_fields=["user"])
    _sync_encounter_auditor(locked, user, None)
    auditlog.log_write(
        organization=organization,
        actor=actor,
        action=f"{kind}.link",
        obj_type=kind,
        obj_id=locked.public_id,
        changes={"user": [None, user.get_username()]},
        request=request,
    )


@transaction.atomic
def roster_link(
    *,
    membership: Membership,
    entry: RosterPerson,
    actor: User,
    request: HttpRequest | None = None,
) -> None:
    """Link the member's login to a roster coder or auditor of the same organization."""
    if entry.organization_id != membership.organization_id:
        raise PeopleError("That roster entry is not in this organization.")
    if entry.retired_at is not None:
        raise PeopleError(f"{entry.label} is retired; reinstate the entry before linking it.")
    allowed = LINKABLE_ROLES[type(entry)]
    if membership.role not in allowed:
        kind = _roster_kind(entry)
        roles = " or ".join(Role(r).label.lower() for r in allowed)
        raise PeopleError(f"Only a {roles} can be linked to a roster {kind}.")
    _link(
        entry=entry,
        user=membership.user,
        actor=actor,
        request=request,
        organization=membership.organization,
    )


@transaction.atomic
def roster_unlink(*, entry: RosterPerson, actor: User, request: HttpRequest | None = None) -> None:
    """Detach the login from a roster coder or auditor (the entry and its history stay)."""
    model = type(entry)
    locked = (
        model._default_manager.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=entry.pk)
    )
    if locked.user is None:
        return
    old = locked.user
    locked.user = None
    locked.save(update_fields=["user"])
    _sync_encounter_auditor(locked, None, old)
    kind = _roster_kind(locked)
    auditlog.log_write(
        organization=locked.organization,
        actor=actor,
        action=f"{kind}.unlink",
        obj_type=kind,
        obj_id=locked.public_id,
        changes={"user": [old.get_username(), None]},
        request=request,
    )


# --------------------------------------------------------------------------- invitations


def invitation_url(token: str) -> str:
    return reverse("accounts:invitation", kwargs={"token": token})


def _invitation_text(
    *, organization: Organization, role: str, inviter: User, link: str, expires: str
) -> str:
    # Plain text and no PHI: who, which organization, which role, the link and its expiry.
    return (
        f"{inviter.display_name} invited you to join {organization.name} on AuditCoach "
        f"as {Role(role).label.lower()}.\n\n"
        f"Accept the invitation here:\n{link}\n\n"
        f"The link works once and expires on {expires}. If you did not expect this "
        "invitation, ignore this e-mail.\n"
    )


def _send_invitation(subject: str, text: str, address: str) -> None:
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [address])
    except Exception:  # a mail server outage must not break the manager's request
        logger.exception("invitation e-mail to %s failed", address)


def _revoke(
    invitation: Invitation, reason: str, actor: User | None, request: HttpRequest | None
) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    auditlog.log_write(
        organization=invitation.organization,
        actor=actor,
        action="invitation.revoke",
        obj_type="invitation",
        obj_id=invitation.public_id,
        changes={"email": invitation.email, "reason": reason},
        request=request,
    )


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: Role | str,
    actor: User,
    roster: RosterPerson | None = None,
    request: HttpRequest | None = None,
) -> tuple[Invitation, str]:
    """Invite `email` to the organization as `role`; return the invitation and its token.

    Only the token's SHA-256 is stored; the link goes out by e-mail once the transaction
    commits. A pending invitation to the same address is revoked (replaced). An active
    member with that e-mail address is not invited again.
    """
    if role not in Role.values:
        raise PeopleError("Choose one of the roles.")
    email = User.objects.normalize_email(email.strip())
    member = (
        Membership.objects.filter(
            organization=organization, is_active=True, user__email__iexact=email
        )
        .select_related("user")
        .first()
    )
    if member is not None:
        raise PeopleError(
            f"{email} is already a member ({member.user.get_username()}); change their role instead."
        )
    coder = roster if isinstance(roster, Coder) else None
    auditor = roster if isinstance(roster, Auditor) else None
    if roster is not None:
        if roster.organization_id != organization.pk or roster.retired_at is not None:
            raise PeopleError("Choose a current roster entry of this organization.")
        if roster.user_id is not None:
            raise PeopleError(f"{roster.label} is already linked to a login.")
        if role not in LINKABLE_ROLES[type(roster)]:
            raise PeopleError(
                f"A roster {_roster_kind(roster)} can only be linked to "
                + " or ".join(Role(r).label.lower() for r in LINKABLE_ROLES[type(roster)])
                + " logins."
            )
    now = timezone.now()
    pending = Invitation.objects.select_for_update().filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    )
    for old in pending:
        _revoke(old, "replaced", actor, request)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=str(role),
        token_hash=invitation_token_hash(token),
        coder=coder,
        auditor=auditor,
        invited_by=actor,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    auditlog.log_write(
        organization=organization,
        actor=actor,
        action="invitation.create",
        obj_type="invitation",
        obj_id=invitation.public_id,
        changes={
            "email": email,
            "role": str(role),
            "roster": f"{_roster_kind(roster)}:{roster.public_id}" if roster else None,
            "expires_at": invitation.expires_at.isoformat(),
        },
        request=request,
    )
    path = invitation_url(token)
    if request is not None:
        link = request.build_absolute_uri(path)
    else:
        link = getattr(settings, "SITE_URL", "").rstrip("/") + path
    local = timezone.localtime(invitation.expires_at)
    expires = f"{local:%B} {local.day}, {local:%Y at %H:%M %Z}"
    subject = f"[AuditCoach] Invitation to {organization.name}"
    text = _invitation_text(
        organization=organization, role=str(role), inviter=actor, link=link, expires=expires
    )
    transaction.on_commit(lambda: _send_invitation(subject, text, email))
    return invitation, token


@transaction.atomic
def invitation_revoke(
    *, invitation: Invitation, actor: User, request: HttpRequest | None = None
) -> bool:
    """Withdraw a pending invitation; False when it was no longer pending."""
    locked = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=invitation.pk)
    )
    if locked.accepted_at is not None or locked.revoked_at is not None:
        return False
    _revoke(locked, "revoked", actor, request)
    return True


def invitation_state(invitation: Invitation) -> str:
    """ "pending", "used", "revoked" or "expired"."""
    if invitation.accepted_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= timezone.now():
        return "expired"
    return "pending"


@transaction.atomic
def invitation_accept(
    *,
    invitation: Invitation,
    user: User | None = None,
    new_user: dict[str, str] | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """Accept the invitation for the signed-in `user`, or for a login made from `new_user`
    (username, email, password, first_name, last_name).

    One transaction: the invitation is locked and checked again (it works once, even when
    two tabs submit at the same time), the login created or reused, the membership added
    (or reactivated with the invited role), the invited roster entry linked when it is
    free, and the invitation marked accepted. Raises InvitationInvalid or PeopleError.
    """
    if (user is None) == (new_user is None):
        raise ValueError("invitation_accept needs either user or new_user")
    locked = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=invitation.pk)
    )
    state = invitation_state(locked)
    if state != "pending":
        raise InvitationInvalid(state)
    organization = locked.organization
    if user is None:
        assert new_user is not None
        user = user_create(
            username=new_user["username"],
            email=new_user.get("email") or locked.email,
            password=new_user["password"],
            first_name=new_user.get("first_name", ""),
            last_name=new_user.get("last_name", ""),
            request=request,
        )
    existing = Membership.objects.filter(organization=organization, user=user).first()
    if existing is None:
        membership = Membership.objects.create(
            organization=organization, user=user, role=locked.role
        )
        _log_membership(membership, "membership.add", {"role": locked.role}, user, request)
    else:
        current, managers = _lock_for_change(existing)
        changes: dict[str, object] = {}
        if current.role != locked.role:
            if locked.role != Role.MANAGER:
                _ensure_not_last_manager(current, managers)
            changes["role"] = [current.role, locked.role]
            current.role = locked.role
        if not current.is_active:
            changes["is_active"] = [False, True]
            current.is_active = True
        if changes:
            current.save(update_fields=["role", "is_active"])
            _log_membership(current, "membership.update", changes, user, request)
        membership = current
    entry: RosterPerson | None = locked.coder or locked.auditor
    linked = None
    if entry is not None and entry.retired_at is None and entry.user_id in (None, user.pk):
        _link(entry=entry, user=user, actor=user, request=request, organization=organization)
        linked = f"{_roster_kind(entry)}:{entry.public_id}"
    locked.accepted_at = timezone.now()
    locked.accepted_by = user
    locked.save(update_fields=["accepted_at", "accepted_by"])
    auditlog.log_write(
        organization=organization,
        actor=user,
        action="invitation.accept",
        obj_type="invitation",
        obj_id=locked.public_id,
        changes={"user": user.get_username(), "role": locked.role, "linked": linked},
        request=request,
    )
    membership.organization = organization
    return membership
