"""Reading a person's notifications (always their own)."""

from django.db.models import QuerySet

from auditcoach.accounts.models import User
from auditcoach.notifications.models import (
    Kind,
    Notification,
    NotificationPreference,
    email_default,
)


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def notifications_for(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user).select_related("organization", "actor")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs


def email_preferences(*, user: User) -> list[tuple[str, str, bool]]:
    """(kind, label, e-mail on) for every kind, the default where the person has not chosen."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email"))
    return [(kind, label, chosen.get(kind, email_default(kind))) for kind, label in Kind.choices]
