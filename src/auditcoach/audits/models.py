"""Audits, encounters, both versions of their coding, and the findings derived from them.

Findings are never typed by hand: `services.encounter_recompute` derives them from the two
versions with the engine (DESIGN §5) and keeps what the auditor added (category, root
cause, rationale) on findings that survive an edit. Each encounter also stores the additive
§6 counts of its last derivation, so every score of any slice is one SQL SUM away.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from auditcoach.accounts.models import Coder, Facility, Organization, Provider, ServiceLine


class Audit(models.Model):
    """An organization's review of a set of encounters in one cycle (e.g. `2026-Q3`).

    The scoring settings in force are stored with the audit so old scores never silently
    change when the organization's defaults do.
    """

    class Type(models.TextChoices):
        INPATIENT = "inpatient", "Inpatient (DRG)"
        OUTPATIENT = "outpatient", "Outpatient"
        PROFEE = "profee", "Professional fee"
        MIXED = "mixed", "Mixed"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_REVIEW = "in_review", "In review"
        RELEASED = "released", "Released"
        CLOSED = "closed", "Closed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audits")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    audit_type = models.CharField(max_length=12, choices=Type.choices, default=Type.MIXED)
    cycle = models.CharField(max_length=40, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_REVIEW)
    scoring_settings = models.JSONField(default=dict)
    source_name = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # An archived audit stays readable but is left out of dashboards, scorecards and metrics.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "name"], name="audit_unique_name"),
        ]
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return self.name


TALLY_GROUPS = ("dx", "px", "line")
TALLY_PARTS = ("audited", "original", "matched", "revised", "added", "deleted", "line_errors")


class Encounter(models.Model):
    """One account under review, with the §6 counts of its last derivation.

    `lock_version` is the optimistic lock: every edit of the audited version bumps it, and
    an edit made against an older number is refused so a second editor never overwrites
    the first one's work.

    `reviewed` is False for an encounter not yet reviewed (DESIGN §9: imported with its
    original lines only, the audited version a copy): it has no findings and counts in no
    score or metric until the auditor marks it reviewed or edits its audited version
    (`reviewed_by` / `reviewed_at` say who and when). It is never released: release skips
    it, and a constraint refuses a released encounter that is not reviewed, so everything
    counted from released encounters leaves it out by construction.
    """

    class Setting(models.TextChoices):
        INPATIENT = "inpatient", "Inpatient"
        OUTPATIENT = "outpatient", "Outpatient"
        PROFEE = "profee", "Professional fee"

    class ReviewStatus(models.TextChoices):
        TO_DO = "to_do", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Reviewed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="encounters")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=64)
    setting = models.CharField(max_length=12, choices=Setting.choices)
    discharge_date = models.DateField()
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    discharge_disposition = models.CharField(max_length=2, blank=True)
    audited_disposition = models.CharField(max_length=2, blank=True)
    billed_drg = models.CharField(max_length=3, blank=True)
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_line = models.ForeignKey(
        ServiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    coder = models.ForeignKey(
        Coder, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    auditor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auditor_name = models.CharField(max_length=150, blank=True)
    payer = models.CharField(max_length=100, blank=True)
    # The encounter's own cycle label (the workbook's `audit_cycle`, or the import's
    # `--cycle`, or the audit's): the unit of the §8 metrics.
    cycle = models.CharField(max_length=40, blank=True)
    # When the encounter's findings were released to its coder (the audit released for
    # that coder, or imported released). §8 metrics count only released encounters,
    # whether or not they had findings.
    released_at = models.DateTimeField(null=True, blank=True)
    review_status = models.CharField(
        max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.TO_DO
    )
    lock_version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    reviewed = models.BooleanField(default=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    # Derived by the engine on every change (DESIGN §5, §6); never edited by hand.
    finding_count = models.PositiveIntegerField(default=0)
    original_drg = models.CharField(max_length=3, blank=True)
    audited_drg = models.CharField(max_length=3, blank=True)
    rw_delta = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    financial_impact = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    dx_audited = models.PositiveIntegerField(default=0)
    dx_original = models.PositiveIntegerField(default=0)
    dx_matched = models.PositiveIntegerField(default=0)
    dx_revised = models.PositiveIntegerField(default=0)
    dx_added = models.PositiveIntegerField(default=0)
    dx_deleted = models.PositiveIntegerField(default=0)
    dx_line_errors = models.PositiveIntegerField(default=0)
    px_audited = models.PositiveIntegerField(default=0)
    px_original = models.PositiveIntegerField(default=0)
    px_matched = models.PositiveIntegerField(default=0)
    px_revised = models.PositiveIntegerField(default=0)
    px_added = models.PositiveIntegerField(default=0)
    px_deleted = models.PositiveIntegerField(default=0)
    px_line_errors = models.PositiveIntegerField(default=0)
    line_audited = models.PositiveIntegerField(default=0)
    line_original = models.PositiveIntegerField(default=0)
    line_matched = models.PositiveIntegerField(default=0)
    line_revised = models.PositiveIntegerField(default=0)
    line_added = models.PositiveIntegerField(default=0)
    line_deleted = models.PositiveIntegerField(default=0)
    line_line_errors = models.PositiveIntegerField(default=0)
    pdx_counted = models.BooleanField(default=False)
    pdx_same = models.BooleanField(default=False)
    poa_checked = models.PositiveIntegerField(default=0)
    poa_changed = models.PositiveIntegerField(default=0)
    drg_counted = models.BooleanField(default=False)
    drg_changed = models.BooleanField(default=False)
    em_counted = models.BooleanField(default=False)
    em_same = models.BooleanField(default=False)
    em_overcoded = models.PositiveIntegerField(default=0)
    em_undercoded = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["audit", "external_id"], name="encounter_unique_id"),
            models.CheckConstraint(
                condition=Q(setting__in=["inpatient", "outpatient", "profee"]),
                name="encounter_setting_valid",
            ),
            models.CheckConstraint(
                condition=Q(reviewed=True) | Q(released_at__isnull=True),
                name="encounter_released_only_reviewed",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "audit", "external_id"]),
            models.Index(fields=["organization", "coder"]),
            models.Index(fields=["organization", "cycle"]),
        ]
        ordering: ClassVar = ["external_id"]

    def __str__(self) -> str:
        return self.external_id


class CodeLine(models.Model):
    """One code of one version: `original` as the coder billed it, `audited` as decided."""

    class Version(models.TextChoices):
        ORIGINAL = "original", "Original"
        AUDITED = "audited", "Audited"

    class System(models.TextChoices):
        ICD10CM = "ICD10CM", "ICD-10-CM"
        ICD10PCS = "ICD10PCS", "ICD-10-PCS"
        CPT = "CPT", "CPT"
        HCPCS = "HCPCS", "HCPCS"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="code_lines")
    version = models.CharField(max_length=8, choices=Version.choices)
    system = models.CharField(max_length=8, choices=System.choices)
    group = models.CharField(max_length=4)  # DX, PX, LINE: derived from system, for the constraint
    seq = models.PositiveIntegerField()
    code = models.CharField(max_length=10)
    poa = models.CharField(max_length=1, blank=True)
    modifiers = models.CharField(max_length=20, blank=True)  # sorted, joined by ";"
    units = models.PositiveIntegerField(default=1)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["encounter", "version", "group", "seq"], name="codeline_unique_seq"
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="codeline_units_positive"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="codeline_seq_positive"),
        ]
        ordering: ClassVar = ["version", "group", "seq"]

    def __str__(self) -> str:
        return f"{self.version} {self.system} {self.seq} {self.code}"


class RootCause(models.TextChoices):
    """DESIGN §7; documentation routes to provider/CDI education, the rest to coder education."""

    DOCUMENTATION = "DOCUMENTATION", "Documentation (provider / query needed)"
    KNOWLEDGE_GAP = "KNOWLEDGE_GAP", "Knowledge gap"
    GUIDELINE_MISAPPLIED = "GUIDELINE_MISAPPLIED", "Guideline misapplied"
    CLERICAL = "CLERICAL", "Clerical"
    SYSTEM = "SYSTEM", "System (encoder, CAC, interface)"
    PAYER_POLICY = "PAYER_POLICY", "Payer policy"


def education_route(root_cause: str) -> str:
    """Whose education a finding's root cause calls for (DESIGN §7): "provider" (provider /
    CDI education) for documentation, "coder" for the others, "" when not set."""
    if not root_cause:
        return ""
    return "provider" if root_cause == RootCause.DOCUMENTATION else "coder"


class Finding(models.Model):
    """A difference between the versions (DESIGN §5) plus what the auditor says about it."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RELEASED = "released", "Released"
        AGREED = "agreed", "Agreed"
        DISPUTED = "disputed", "Disputed"
        ESCALATED = "escalated", "Escalated"
        UPHELD = "upheld", "Upheld"
        OVERTURNED = "overturned", "Overturned"
        MODIFIED = "modified", "Modified"
        CLOSED = "closed", "Closed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="findings")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    position = models.PositiveSmallIntegerField(default=0)  # order of the engine's output
    kind = models.CharField(max_length=20)
    group = models.CharField(max_length=4)
    original_code = models.CharField(max_length=10, blank=True)
    audited_code = models.CharField(max_length=10, blank=True)
    principal = models.BooleanField(default=False)
    pattern = models.CharField(max_length=40)
    em_delta = models.SmallIntegerField(null=True, blank=True)
    original_value = models.CharField(max_length=20, blank=True)
    audited_value = models.CharField(max_length=20, blank=True)
    original_rw = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    audited_rw = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    # False once a released finding no longer arises from the two versions (an overturned
    # decision restored the coder's coding, or a later edit): kept as the coaching record,
    # left out of counts and lists of current findings.
    active = models.BooleanField(default=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # The decision on a dispute (upheld / overturned / modified; "" when none), kept after
    # the finding is closed: an overturned finding is an auditor reversal for good.
    decision = models.CharField(max_length=12, blank=True)
    error_category = models.CharField(max_length=60, blank=True)
    root_cause = models.CharField(max_length=24, choices=RootCause.choices, blank=True)
    rationale = models.TextField(blank=True)
    # A coaching topic code of the organization's taxonomy (library.TaxonomyTerm, kind
    # "topic"), reported beside the pattern key (DESIGN §5); "" when not set.
    topic = models.CharField(max_length=60, blank=True)
    # The auditor's office E/M leveling of the visit (engine.em.Leveling.as_dict(): the three
    # MDM elements, minutes, and the code they support); {} when not leveled.
    em_leveling = models.JSONField(default=dict, blank=True)
    # The optimistic lock of what the auditor says (category, root cause, rationale, topic):
    # every saved change bumps it, and a save made against an older number is refused.
    notes_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["organization", "pattern"]),
            models.Index(fields=["encounter", "position"]),
        ]
        ordering: ClassVar = ["encounter", "position"]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_code or '-'} → {self.audited_code or '-'}"

    @property
    def identity(self) -> tuple[str, str, str | None, str | None]:
        return (self.kind, self.group, self.original_code or None, self.audited_code or None)


class ImportJob(models.Model):
    """One upload being imported in the background, so large workbooks show progress.

    An upload that is a spreadsheet of the organization's own columns starts `mapping` and
    waits for its column mapping (or goes on at once with a saved one that fits it).
    A small workbook was validated when it was uploaded; a large one (above
    `IMPORT_CHECK_IN_REQUEST_BYTES`) starts `checking`: the worker reads and validates it,
    failing with its `problems` or waiting on duplicates as the small path does. The job
    re-reads the file from `path` in the worker and imports it in one transaction. Progress lives in the cache (outside that
    transaction); the outcome lives here. A workbook whose encounters repeat another audit's
    waits (`waiting`, with the first of them in `duplicates`) until the uploader imports it
    anyway (`queued`) or cancels it (`cancelled`, the upload removed). A running job holds a
    lease (`audits.leases`); one whose worker died is marked `stalled` (nothing was written).
    """

    class Status(models.TextChoices):
        MAPPING = "mapping", "Waiting for a column mapping"
        CHECKING = "checking", "Checking the file"
        WAITING = "waiting", "Waiting for confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        STALLED = "stalled", "Stalled (the worker stopped)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    cycle = models.CharField(max_length=40, blank=True)
    released = models.BooleanField(default=False)
    source_name = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=500)
    encounters = models.PositiveIntegerField(default=0)
    code_lines = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # While waiting: {"count": encounters repeated, "rows": the first of them, each
    # {"external_id", "audit", "cycle"}} (see `selectors.duplicate_encounters`).
    duplicates = models.JSONField(default=dict, blank=True)
    # A large upload the worker found wrong: {"total": n, "rows": [[sheet, row, column,
    # message], ...]} (the first `MAX_LISTED`), listed on the job's page like the form does.
    problems = models.JSONField(default=dict, blank=True)
    # A spreadsheet read through a column mapping: the spec (intake.mapping.spec_to_dict)
    # the worker reads the file with, and the saved mapping's name ({} / "": a workbook).
    mapping = models.JSONField(default=dict, blank=True)
    mapping_name = models.CharField(max_length=100, blank=True)
    audit = models.ForeignKey(
        Audit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"import of {self.name} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in {
            self.Status.DONE,
            self.Status.FAILED,
            self.Status.CANCELLED,
            self.Status.STALLED,
        }


class ImportMapping(models.Model):
    """A column mapping an organization saved for its own spreadsheets (`intake.mapping`):
    the spec as JSON, its layout, and `columns_key`, the key of the columns it was made
    for, so that the next upload with the same columns is read with it without asking.
    Names are unique within the organization."""

    class Layout(models.TextChoices):
        WIDE = "wide", "One row per encounter"
        LONG = "long", "One row per code line"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    layout = models.CharField(max_length=4, choices=Layout.choices)
    spec = models.JSONField()
    columns_key = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="importmapping_unique_name"
            ),
            models.CheckConstraint(
                condition=Q(layout__in=["wide", "long"]), name="importmapping_layout_valid"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["organization", "columns_key"])]
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def columns(self) -> list[str]:
        headers = self.spec.get("headers", []) if isinstance(self.spec, dict) else []
        return [h for h in headers if isinstance(h, str)]
