"""Education assignments given to coders, and the follow-up reviews they schedule."""

import uuid
from datetime import date
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization
from auditcoach.audits.models import Audit, Encounter, Finding

MAX_RESOURCE_BYTES = 10 * 1024 * 1024


class EducationAssignment(models.Model):
    """One coder's education on a topic or pattern key, and its completion (DESIGN §7).

    The resource is a title with an https link and/or an uploaded PDF (≤ 10 MB), plus
    library references. Completing it needs the coder's attestation; a quiz score is
    optional. `followup_encounters` > 0 schedules a follow-up review on completion.
    `last_reminded_on` keeps the overdue reminder to once a day.
    """

    class Status(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        COMPLETED = "completed", "Completed"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="education_assignments"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    coder = models.ForeignKey(Coder, on_delete=models.PROTECT, related_name="education")
    topic = models.CharField(max_length=200, blank=True)
    pattern_key = models.CharField(max_length=40, blank=True)
    findings = models.ManyToManyField(Finding, blank=True, related_name="+")
    resource_title = models.CharField(max_length=200)
    resource_url = models.URLField(max_length=500, blank=True)
    resource_file = models.FileField(upload_to="education/%Y/%m/", blank=True, max_length=300)
    references = models.ManyToManyField("library.Reference", blank=True, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    due_date = models.DateField()
    followup_encounters = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ASSIGNED)
    completed_at = models.DateTimeField(null=True, blank=True)
    attestation = models.BooleanField(default=False)
    attestation_text = models.TextField(blank=True)
    quiz_score = models.PositiveSmallIntegerField(null=True, blank=True)
    last_reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["due_date", "id"]
        indexes: ClassVar = [
            models.Index(fields=["organization", "status", "due_date"], name="edu_org_status_due"),
            models.Index(fields=["organization", "coder"], name="edu_org_coder"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(topic="") | ~Q(pattern_key=""), name="edu_topic_or_pattern"
            ),
            models.CheckConstraint(condition=~Q(resource_title=""), name="edu_resource_title"),
            models.CheckConstraint(
                condition=Q(resource_url="") | Q(resource_url__startswith="https://"),
                name="edu_resource_url_https",
            ),
            models.CheckConstraint(
                condition=Q(quiz_score__isnull=True) | Q(quiz_score__lte=100),
                name="edu_quiz_score_range",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="assigned", completed_at__isnull=True)
                    | Q(status="completed", completed_at__isnull=False, attestation=True)
                ),
                name="edu_completion_consistent",
            ),
            models.CheckConstraint(
                condition=Q(followup_encounters__lte=50), name="edu_followup_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.coder_id}"

    @property
    def subject(self) -> str:
        return self.topic or self.pattern_key

    def is_overdue(self, today: date | None = None) -> bool:
        day = today or timezone.localdate()
        return self.status == self.Status.ASSIGNED and self.due_date < day

    @property
    def overdue(self) -> bool:
        return self.is_overdue()

    @property
    def completed_on_time(self) -> bool:
        return self.completed_at is not None and (
            timezone.localdate(self.completed_at) <= self.due_date
        )


class FollowUpReview(models.Model):
    """A focused re-audit of one coder on one pattern after education (DESIGN §7).

    Encounters belong to one audit each, so the review does not move them: it lists the
    `n_encounters` chosen from the coder's not-yet-reviewed encounters (in planned or
    in-review audits, review status "to do"), preferring ones with a code of the pattern's
    family. With fewer available it is flagged for the next import and can be re-selected.
    `audit` is set when all chosen encounters sit in one audit.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        FLAGGED = "flagged_for_next_import", "Flagged for next import"
        CREATED = "created", "Created"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="followup_reviews"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    coder = models.ForeignKey(Coder, on_delete=models.PROTECT, related_name="followup_reviews")
    pattern_key = models.CharField(max_length=40, blank=True)
    assignment = models.ForeignKey(
        EducationAssignment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="followups",
    )
    n_encounters = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PLANNED)
    audit = models.ForeignKey(
        Audit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    encounters = models.ManyToManyField(Encounter, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(n_encounters__gte=1) & Q(n_encounters__lte=50),
                name="followup_n_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "flagged_for_next_import", "created"]),
                name="followup_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"follow-up {self.coder_id} {self.pattern_key}"

    @property
    def family(self) -> str:
        return pattern_family(self.pattern_key)


def pattern_family(pattern_key: str) -> str:
    """The 3-character code family of `kind:group:family`, or "" (none, or `-`)."""
    parts = pattern_key.split(":")
    if len(parts) != 3 or parts[2] in {"", "-"}:
        return ""
    return parts[2][:3].upper()
