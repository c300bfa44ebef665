"""What an organization adds to the shipped coding knowledge: its licensed CPT descriptors.

CPT is licensed by the AMA: AuditCoach ships no CPT descriptor. An organization with a
license uploads its own file (code, description); the screens then show those descriptors
beside CPT codes and the code search finds them. Each upload replaces the whole set.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from auditcoach.accounts.models import Organization


class CptCode(models.Model):
    """One CPT code of an organization's licensed file, with its descriptor.

    `code` is normalized (5 characters: 5 digits, or 4 digits and F or T). All rows of one
    upload share `uploaded_at`, so the newest one dates the organization's set.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=5)
    description = models.TextField()
    uploaded_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "code"], name="cptcode_unique_code"),
            models.CheckConstraint(condition=~Q(description=""), name="cptcode_description"),
        ]
        ordering: ClassVar = ["code"]
        verbose_name = "CPT code"

    def __str__(self) -> str:
        return self.code
