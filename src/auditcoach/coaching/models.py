"""The coaching loop around a finding: its history, its comment thread and its attachments.

The finding's state lives on `audits.Finding.status`; every change of it, and every comment
or attachment, is also written here as a `FindingEvent` (who, when, from → to), so a
finding's full history and the §8 times to resolution (release → first coder response,
release → closed) can be read back without the audit log.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Finding


class FindingEvent(models.Model):
    """One append-only step of a finding's history: a transition, a comment, an upload.

    `data` holds what the step carried (cited references as public id + citation text as
    shown at the time, a decision, the coding restored or decided on).
    """

    class Kind(models.TextChoices):
        RELEASE = "release", "Released"
        AGREE = "agree", "Agreed"
        DISPUTE = "dispute", "Disputed"
        DECIDE = "decide", "Decided"
        ESCALATE = "escalate", "Escalated"
        CLOSE = "close", "Closed"
        COMMENT = "comment", "Commented"
        ATTACH = "attach", "Attached a file"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "release", "agree", "dispute", "decide", "escalate", "close",
                        "comment", "attach",
                    ]
                ),
                name="coaching_event_kind_valid",
            ),
        ]  # fmt: skip
        indexes: ClassVar = [
            models.Index(fields=["organization", "kind", "at"]),
            models.Index(fields=["finding", "at"]),
        ]
        ordering: ClassVar = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}→{self.to_status}"


class Comment(models.Model):
    """A message on a finding's thread, visible to the coder and the audit side alike;
    `parent` makes a reply."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="comments")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(text=""), name="coaching_comment_not_blank"),
        ]
        ordering: ClassVar = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"comment by {self.author_name}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # A random name: the uploaded file name is shown, never used as a path.
    return f"coaching/{instance.organization_id}/{instance.public_id}"


class Attachment(models.Model):
    """A file on a finding (a documentation excerpt, a PDF), stored under MEDIA_ROOT and
    served only through the finding's permission check. Size and type are checked on
    upload (`services.attachment_add`)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="attachments")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(size__lte=10 * 1024 * 1024), name="coaching_attachment_size_limit"
            ),
        ]
        ordering: ClassVar = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name
