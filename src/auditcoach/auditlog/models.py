"""The append-only audit log: who did or saw what, when and from where."""

from typing import ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AuditLogEntry(models.Model):
    """One recorded action: a change (`finding.update`) or a view of PHI (`encounter.view`).

    Append-only by convention: rows are written only through `auditlog.services` and never
    updated or deleted by the application. `organization` is null for actions outside any
    organization (signing in); it is protected so an organization with history cannot be
    deleted by accident. `actor` is null for system actions and survives user deletion as
    `actor_name`. `object_id` is text so it can hold UUIDs, integer ids or external ids, and
    `changes` holds the fields changed (`{"field": [old, new]}`) or other context, never more
    PHI than needed.
    """

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log entries"
        indexes: ClassVar = [
            models.Index(fields=("organization", "at"), name="auditlog_org_at"),
            models.Index(fields=("object_type", "object_id"), name="auditlog_object"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~models.Q(action=""), name="auditlog_action_set"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"
