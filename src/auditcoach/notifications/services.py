"""Writing notifications: in-app rows now, e-mail after the transaction commits.

`notify` is the one entry point other areas call (coaching, education). It never raises on
e-mail trouble: a failed send is logged and the in-app notification stands.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from auditcoach.accounts.models import Organization, User
from auditcoach.notifications.models import (
    Kind,
    Notification,
    NotificationPreference,
    email_default,
)

logger = logging.getLogger(__name__)


def email_wanted(users: Iterable[User], kind: str) -> set[int]:
    """Ids of `users` who want e-mail for `kind` (their choice, else the default)."""
    ids = {user.pk for user in users}
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=ids, kind=kind).values_list(
            "user_id", "email"
        )
    )
    default = email_default(kind)
    return {uid for uid in ids if chosen.get(uid, default)}


def _send_emails(messages: list[tuple[str, str, str]]) -> None:
    for address, subject, text in messages:
        try:
            EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, [address]).send()
        except Exception:  # a mail server outage must not break the request
            logger.exception("notification e-mail to %s failed", address)


def notify(
    *,
    organization: Organization,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    actor: User | None = None,
) -> int:
    """Notify each recipient once (duplicates and the actor are skipped); return the count.

    Rows are written in bulk inside the caller's transaction; e-mails go out after it
    commits (`transaction.on_commit`) to the recipients who want this kind by e-mail and
    have an address. `url` must be an application path (it starts with "/").
    """
    if not kind or len(kind) > 40:
        raise ValueError(f"bad notification kind {kind!r}")
    if kind not in Kind.values:
        logger.warning("notification kind %r is not in notifications.models.Kind", kind)
    if url and not url.startswith("/"):
        raise ValueError("notification url must be a path inside the application")
    title = (title.strip() or kind.replace("_", " ").capitalize())[:200]
    unique: dict[int, User] = {}
    for user in recipients:
        if user is None or (actor is not None and user.pk == actor.pk):
            continue
        unique.setdefault(user.pk, user)
    if not unique:
        return 0
    users = list(unique.values())
    Notification.objects.bulk_create(
        [
            Notification(
                organization=organization,
                recipient=user,
                actor=actor,
                kind=kind,
                title=title,
                body=body,
                url=url,
            )
            for user in users
        ]
    )
    wanted = email_wanted(users, kind)
    subject = f"[AuditCoach · {organization.name}] {title}"
    text = body
    if url:
        base = getattr(settings, "SITE_URL", "").rstrip("/")
        text = f"{body}\n\n{base}{url}".strip()
    messages = [(user.email, subject, text) for user in users if user.pk in wanted and user.email]
    if messages:
        transaction.on_commit(lambda: _send_emails(messages))
    return len(users)


def mark_read(*, user: User, notification_id: int) -> bool:
    """Mark one of `user`'s notifications read; False when it is not theirs."""
    updated = Notification.objects.filter(
        pk=notification_id, recipient=user, read_at__isnull=True
    ).update(read_at=timezone.now())
    return bool(updated) or Notification.objects.filter(pk=notification_id, recipient=user).exists()


def mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def preferences_save(*, user: User, email_kinds: Iterable[str]) -> None:
    """Store `user`'s e-mail choice for every kind: on for `email_kinds`, off otherwise."""
    on = set(email_kinds)
    with transaction.atomic():
        for kind in Kind.values:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"email": kind in on}
            )
