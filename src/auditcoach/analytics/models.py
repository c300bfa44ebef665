"""Saved dashboard views: a person's choice of widgets, their order and a filter slice."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from auditcoach.accounts.models import Organization


class DashboardView(models.Model):
    """One saved arrangement of the dashboard: which widgets in which order (keys of
    `analytics.dashboard.WIDGETS`), and the filter bar's values. Private to its owner
    unless shared with the organization, where every analytics reader can open it (only
    the owner changes or deletes it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    widgets = models.JSONField(default=list)
    filters = models.JSONField(default=dict, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["name"]
        indexes: ClassVar = [models.Index(fields=["organization", "owner"])]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "owner", "name"], name="dashboard_view_name_per_owner"
            )
        ]

    def __str__(self) -> str:
        return self.name
