"""Overreads: second, blind reviews of encounters by another auditor (DESIGN §4, §8).

A manager sets an `OverreadPlan` (an auditor, a cycle, a share); applying it picks that
share of the auditor's reviewed encounters and assigns each to a second auditor as an
`Overread`. A `CalibrationSet` sends the same encounters to three or more auditors; each
of their reviews is an `Overread` too. A review's own audited version lives in
`OverreadLine` rows (the shape of `audits.CodeLine`), never in the encounter's lines, so
neither side can see or change the other's work.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import CodeLine, Encounter


class OverreadPlan(models.Model):
    """A share (1–100 %) of one auditor's reviewed encounters of one cycle to be overread.

    `seed` makes the pick reproducible (see `services.overread_plan_apply`); `reviewer`,
    when set, is the second auditor of every pick, else the least-loaded other auditor.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    auditor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    cycle = models.CharField(max_length=40)
    share = models.PositiveSmallIntegerField()  # percent
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    seed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "auditor", "cycle"], name="overreadplan_unique_cycle"
            ),
            models.CheckConstraint(
                condition=Q(share__gte=1) & Q(share__lte=100), name="overreadplan_share_range"
            ),
            models.CheckConstraint(
                condition=~Q(reviewer=F("auditor")), name="overreadplan_reviewer_not_auditor"
            ),
        ]
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.share}% of {self.auditor_id} in {self.cycle}"


class CalibrationSet(models.Model):
    """The same encounters reviewed blind by three or more auditors (Krippendorff's alpha)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    encounters = models.ManyToManyField(Encounter, related_name="+")
    auditors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "name"], name="calibrationset_unique"),
        ]
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Overread(models.Model):
    """One blind review of one encounter by `reviewer`, from a plan or a calibration set.

    `first_auditor` is whose work a plan's overread checks (the encounter's auditor); it is
    empty for calibration reviews, where every auditor is on an equal footing. What the
    engine derives from the blind version is stored when the reviewer marks it done.
    """

    class Status(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        DONE = "done", "Done"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(
        OverreadPlan, null=True, blank=True, on_delete=models.CASCADE, related_name="overreads"
    )
    calibration = models.ForeignKey(
        CalibrationSet, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    first_auditor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ASSIGNED)
    # The reviewer's audited discharge disposition ("" = the billed one stands).
    audited_disposition = models.CharField(max_length=2, blank=True)
    # Derived by the engine from the blind version when done.
    drg = models.CharField(max_length=3, blank=True)
    finding_count = models.PositiveIntegerField(default=0)
    has_findings = models.BooleanField(default=False)
    em_level = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=(Q(plan__isnull=False) & Q(calibration__isnull=True))
                | (Q(plan__isnull=True) & Q(calibration__isnull=False)),
                name="overread_one_source",
            ),
            models.UniqueConstraint(
                fields=["plan", "encounter"],
                condition=Q(plan__isnull=False),
                name="overread_once_per_plan",
            ),
            models.UniqueConstraint(
                fields=["calibration", "encounter", "reviewer"],
                condition=Q(calibration__isnull=False),
                name="overread_once_per_calibration_reviewer",
            ),
            models.CheckConstraint(
                condition=~Q(reviewer=F("first_auditor")), name="overread_reviewer_not_first"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["assigned", "done"]), name="overread_status_valid"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "reviewer", "status"]),
        ]
        ordering: ClassVar = ["created_at", "id"]

    def __str__(self) -> str:
        return f"overread of {self.encounter_id} by {self.reviewer_id} ({self.status})"

    @property
    def done(self) -> bool:
        return self.status == self.Status.DONE


class OverreadLine(models.Model):
    """One code of a blind review's audited version: the fields of `audits.CodeLine`."""

    overread = models.ForeignKey(Overread, on_delete=models.CASCADE, related_name="lines")
    system = models.CharField(max_length=8, choices=CodeLine.System.choices)
    group = models.CharField(max_length=4)  # DX, PX, LINE: derived from system
    seq = models.PositiveIntegerField()
    code = models.CharField(max_length=10)
    poa = models.CharField(max_length=1, blank=True)
    modifiers = models.CharField(max_length=20, blank=True)  # sorted, joined by ";"
    units = models.PositiveIntegerField(default=1)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["overread", "group", "seq"], name="overreadline_unique_seq"
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="overreadline_units_positive"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="overreadline_seq_positive"),
        ]
        ordering: ClassVar = ["group", "seq"]

    def __str__(self) -> str:
        return f"{self.system} {self.seq} {self.code}"
