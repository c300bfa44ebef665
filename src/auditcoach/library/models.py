"""The reference library, rationale templates and each organization's taxonomies (DESIGN §4, §7).

A `Reference` is one piece of authoritative advice (a Coding Clinic answer, a guidelines
section, a CPT Assistant article, a manual chapter, a payer or house policy) summarized in the
organization's own words; `citation` renders it the way coders write it. A `RationaleTemplate`
lets auditors say the same thing the same way. `TaxonomyTerm` holds the organization's error
categories, root causes and coaching topics.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Finding, RootCause
from auditcoach.library import validators

MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Source(models.TextChoices):
    CODING_CLINIC = "CODING_CLINIC", "AHA Coding Clinic"
    OCG = "OCG", "ICD-10 Official Guidelines"
    CPT_ASSISTANT = "CPT_ASSISTANT", "CPT Assistant"
    NCCI = "NCCI", "NCCI Policy Manual"
    CMS_MANUAL = "CMS_MANUAL", "CMS manual"
    PAYER_POLICY = "PAYER_POLICY", "Payer policy"
    ORG_POLICY = "ORG_POLICY", "Organization policy"


class CodeSet(models.TextChoices):
    ICD10CM = "ICD10CM", "ICD-10-CM"
    ICD10PCS = "ICD10PCS", "ICD-10-PCS"


class Reference(models.Model):
    """One citable piece of guidance, summarized in the organization's own words.

    Which fields matter depends on `source` (see `validators.validate_reference_fields`):
    Coding Clinic — year, quarter, page; guidelines — fiscal `year`, `section`, `code_set`;
    CPT Assistant — year, month, volume, issue, page; the others — title / chapter / section
    free text with an optional year. A reference replaced by newer advice keeps its row and
    points at the replacement through `superseded_by`.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="references"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(max_length=16, choices=Source.choices)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    quarter = models.PositiveSmallIntegerField(null=True, blank=True)
    month = models.PositiveSmallIntegerField(null=True, blank=True)
    volume = models.PositiveSmallIntegerField(null=True, blank=True)
    issue = models.PositiveSmallIntegerField(null=True, blank=True)
    page = models.PositiveSmallIntegerField(null=True, blank=True)
    section = models.CharField(max_length=60, blank=True)
    code_set = models.CharField(max_length=8, choices=CodeSet.choices, blank=True)
    title = models.CharField(max_length=200, blank=True)
    chapter = models.CharField(max_length=60, blank=True)
    summary = models.TextField()
    url = models.URLField(max_length=500, blank=True, validators=[validators.validate_https_url])
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(source__in=Source.values), name="library_reference_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(quarter__isnull=True) | Q(quarter__gte=1, quarter__lte=4),
                name="library_reference_quarter_range",
            ),
            models.CheckConstraint(
                condition=Q(month__isnull=True) | Q(month__gte=1, month__lte=12),
                name="library_reference_month_range",
            ),
            models.CheckConstraint(
                condition=Q(page__isnull=True) | Q(page__gte=1),
                name="library_reference_page_positive",
            ),
            models.CheckConstraint(
                condition=~Q(source=Source.CODING_CLINIC)
                | Q(year__isnull=False, quarter__isnull=False),
                name="library_reference_coding_clinic_dated",
            ),
            models.CheckConstraint(
                condition=~Q(source=Source.CPT_ASSISTANT)
                | Q(year__isnull=False, month__isnull=False),
                name="library_reference_cpt_assistant_dated",
            ),
            models.CheckConstraint(
                condition=~Q(source=Source.OCG) | (Q(year__isnull=False) & ~Q(section="")),
                name="library_reference_ocg_sectioned",
            ),
            models.CheckConstraint(
                condition=Q(url="") | Q(url__startswith="https://"),
                name="library_reference_url_https",
            ),
            models.CheckConstraint(
                condition=~Q(summary=""), name="library_reference_summary_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(superseded_by__isnull=True) | ~Q(superseded_by=models.F("pk")),
                name="library_reference_not_self_superseded",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["organization", "source"])]
        ordering: ClassVar = ["source", "-year", "section", "pk"]

    def __str__(self) -> str:
        return self.citation

    def clean(self) -> None:
        validators.validate_reference_fields(self)

    @property
    def is_superseded(self) -> bool:
        return self.superseded_by_id is not None

    @property
    def citation(self) -> str:
        """The reference as coders write it, e.g. "Coding Clinic 3Q 2016 p. 8"."""
        page = f" p. {self.page}" if self.page else ""
        match self.source:
            case Source.CODING_CLINIC:
                return f"Coding Clinic {self.quarter}Q {self.year}{page}"
            case Source.OCG:
                pcs = " ICD-10-PCS" if self.code_set == CodeSet.ICD10PCS else ""
                return f"OCG{pcs} FY{self.year} {self.section}".strip()
            case Source.CPT_ASSISTANT:
                month = MONTH_ABBR[self.month - 1] if self.month and 1 <= self.month <= 12 else ""
                parts = [f"CPT Assistant {month} {self.year}".replace("  ", " ")]
                if self.volume:
                    parts.append(f"vol. {self.volume}")
                if self.issue:
                    parts.append(f"no. {self.issue}")
                return " ".join(parts) + page
        prefix = {
            Source.NCCI: "NCCI Policy Manual",
            Source.CMS_MANUAL: "CMS",
            Source.PAYER_POLICY: "Payer policy:",
            Source.ORG_POLICY: "Policy:",
        }[Source(self.source)]
        bits = [prefix]
        # The NCCI manual is named by the prefix; a chapter's title is only needed when no
        # chapter number is given ("NCCI Policy Manual ch. XI").
        if self.title and not (self.source == Source.NCCI and self.chapter):
            bits.append(self.title)
        if self.chapter:
            bits.append(f"ch. {self.chapter}")
        if self.section:
            bits.append(f"§ {self.section}")
        text = " ".join(bits)
        if self.year:
            text += f" ({self.year})"
        return text + page


class TaxonomyKind(models.TextChoices):
    ERROR_CATEGORY = "error_category", "Error category"
    ROOT_CAUSE = "root_cause", "Root cause"
    TOPIC = "topic", "Coaching topic"


class TaxonomyTerm(models.Model):
    """One term of an organization's error categories, root causes or coaching topics.

    `code` is what findings and templates store and reports group by, so it never changes;
    managers rename the `label`, reorder with `position` and retire a term by making it
    inactive. Root-cause codes are fixed to DESIGN §7 (they route education); the defaults of
    every kind are created on first use (`services.taxonomy_defaults_ensure`).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="taxonomy_terms"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=TaxonomyKind.choices)
    code = models.CharField(max_length=60)
    label = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "kind", "code"], name="library_taxonomy_unique_code"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TaxonomyKind.values), name="library_taxonomy_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(code=""), name="library_taxonomy_code_not_blank"),
            models.CheckConstraint(condition=~Q(label=""), name="library_taxonomy_label_not_blank"),
        ]
        ordering: ClassVar = ["kind", "position", "label"]

    def __str__(self) -> str:
        return self.label


class RationaleTemplate(models.Model):
    """Reusable rationale text with its references, so auditors say the same thing the same
    way. Applied to a finding in one step (`services.finding_template_apply`): the body goes
    into the rationale, and the category, root cause and topic, when set, onto the finding.
    `topic` is a topic code and `error_category` the category text findings store.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="rationale_templates"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    topic = models.CharField(max_length=60, blank=True)
    body = models.TextField()
    error_category = models.CharField(max_length=60, blank=True)
    root_cause = models.CharField(max_length=24, choices=RootCause.choices, blank=True)
    references = models.ManyToManyField(Reference, blank=True, related_name="templates")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "title"], name="library_template_unique_title"
            ),
            models.CheckConstraint(condition=~Q(body=""), name="library_template_body_not_blank"),
            models.CheckConstraint(
                condition=Q(root_cause="") | Q(root_cause__in=RootCause.values),
                name="library_template_root_cause_valid",
            ),
        ]
        ordering: ClassVar = ["topic", "title"]

    def __str__(self) -> str:
        return self.title


class FindingReference(models.Model):
    """A reference cited on a finding (the many-to-many, kept here so audits' tables stay put)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="reference_links")
    reference = models.ForeignKey(Reference, on_delete=models.PROTECT, related_name="finding_links")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["finding", "reference"], name="library_finding_reference_unique"
            ),
        ]
        ordering: ClassVar = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.finding_id} cites {self.reference_id}"
