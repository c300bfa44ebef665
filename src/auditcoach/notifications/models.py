"""In-app notifications and each person's choice of which ones also arrive by e-mail."""

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from auditcoach.accounts.models import Organization


class Kind(models.TextChoices):
    FINDING_RELEASED = "finding_released", "Finding released"
    FINDING_DISPUTED = "finding_disputed", "Finding disputed"
    FINDING_DECIDED = "finding_decided", "Dispute decided"
    FINDING_ESCALATED = "finding_escalated", "Dispute escalated"
    FINDING_COMMENTED = "finding_commented", "Comment on a finding"
    EDUCATION_ASSIGNED = "education_assigned", "Education assigned"
    EDUCATION_OVERDUE = "education_overdue", "Education overdue"
    FOLLOWUP_CREATED = "followup_created", "Follow-up review created"


EMAIL_OFF_BY_DEFAULT = frozenset({Kind.FINDING_COMMENTED.value})
"""Kinds whose e-mail is off unless the person turns it on (comments are chatty)."""


def email_default(kind: str) -> bool:
    """Whether `kind` is e-mailed when the person has not chosen (comments: no)."""
    return kind not in EMAIL_OFF_BY_DEFAULT and "comment" not in kind


class Notification(models.Model):
    """One message to one person in one organization; unread while `read_at` is null.

    `url` is a path inside the application (never an external address), so a notification
    can only ever lead to a page whose own permission checks still apply.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["recipient", "read_at"], name="notif_recipient_unread"),
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_recent"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(title=""), name="notif_title_not_blank"),
            models.CheckConstraint(condition=~Q(kind=""), name="notif_kind_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """A person's choice to get (or not) e-mail for one kind; no row means the default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "kind"], name="notif_pref_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.kind}={'email' if self.email else 'in-app'}"
