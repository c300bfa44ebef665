"""Reads of the library, always starting from the organization."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Finding
from auditcoach.library import services
from auditcoach.library.models import (
    FindingReference,
    RationaleTemplate,
    Reference,
    Source,
    TaxonomyKind,
    TaxonomyTerm,
)

# Words people type for a source: "clinic", "ocg", "guidelines", "ncci", "cpt assistant"…
SOURCE_WORDS: dict[str, tuple[str, ...]] = {
    Source.CODING_CLINIC: ("coding", "clinic", "cc", "aha"),
    Source.OCG: ("ocg", "guideline", "guidelines", "official"),
    Source.CPT_ASSISTANT: ("cpt", "assistant"),
    Source.NCCI: ("ncci", "policy", "manual"),
    Source.CMS_MANUAL: ("cms", "manual"),
    Source.PAYER_POLICY: ("payer", "policy"),
    Source.ORG_POLICY: ("policy", "house", "organization"),
}
FISCAL_YEAR_RE = re.compile(r"^fy(\d{4})$")
QUARTER_RE = re.compile(r"^([1-4])q$")


def _term_query(term: str) -> Q:
    q = (
        Q(summary__icontains=term)
        | Q(title__icontains=term)
        | Q(chapter__icontains=term)
        | Q(section__icontains=term)
    )
    lower = term.lower()
    sources = [s for s, words in SOURCE_WORDS.items() if lower in words]
    if sources:
        q |= Q(source__in=sources)
    if term.isdigit() and len(term) <= 4:
        q |= Q(year=int(term)) | Q(page=int(term))
    if match := FISCAL_YEAR_RE.match(lower):
        q |= Q(source=Source.OCG, year=int(match.group(1)))
    if match := QUARTER_RE.match(lower):
        q |= Q(quarter=int(match.group(1)))
    return q


def reference_list(
    *,
    organization: Organization,
    q: str = "",
    source: str = "",
    include_superseded: bool = False,
) -> QuerySet[Reference]:
    """The organization's references matching every word of `q` (summary, title, chapter,
    section, source names, years, "FY2026", "3Q"), newest advice first within a source."""
    refs = Reference.objects.filter(organization=organization).select_related("superseded_by")
    if not include_superseded:
        refs = refs.filter(superseded_by__isnull=True)
    if source:
        refs = refs.filter(source=source)
    for term in q.split():
        refs = refs.filter(_term_query(term))
    return refs


def reference_get(*, organization: Organization, public_id: uuid.UUID | str) -> Reference:
    try:
        return Reference.objects.select_related("superseded_by").get(
            organization=organization, public_id=public_id
        )
    except (Reference.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such reference") from exc


def reference_choices(
    *, organization: Organization, keep: Iterable[int] = ()
) -> QuerySet[Reference]:
    """What a picker offers: current references, plus superseded ones already chosen."""
    return Reference.objects.filter(organization=organization).filter(
        Q(superseded_by__isnull=True) | Q(pk__in=list(keep))
    )


def template_list(
    *, organization: Organization, active_only: bool = False
) -> QuerySet[RationaleTemplate]:
    templates = RationaleTemplate.objects.filter(organization=organization).prefetch_related(
        "references"
    )
    return templates.filter(active=True) if active_only else templates


def template_get(*, organization: Organization, public_id: uuid.UUID | str) -> RationaleTemplate:
    try:
        return RationaleTemplate.objects.get(organization=organization, public_id=public_id)
    except (RationaleTemplate.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such template") from exc


def taxonomy_terms(
    *, organization: Organization, kind: str | None = None, active_only: bool = True
) -> list[TaxonomyTerm]:
    """The organization's terms (its defaults are created on first use)."""
    services.taxonomy_defaults_ensure(organization=organization)
    terms = TaxonomyTerm.objects.filter(organization=organization)
    if kind:
        terms = terms.filter(kind=kind)
    if active_only:
        terms = terms.filter(active=True)
    return list(terms)


def taxonomy_term_get(*, organization: Organization, public_id: uuid.UUID | str) -> TaxonomyTerm:
    try:
        return TaxonomyTerm.objects.get(organization=organization, public_id=public_id)
    except (TaxonomyTerm.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such term") from exc


def topic_labels(*, organization: Organization) -> dict[str, str]:
    """Topic code → label, inactive ones included (one query; no defaults are created)."""
    return dict(
        TaxonomyTerm.objects.filter(organization=organization, kind=TaxonomyKind.TOPIC)
        .order_by()
        .values_list("code", "label")
    )


def finding_references(*, findings: Iterable[Finding]) -> dict[int, list[Reference]]:
    """The references cited on each finding, in one query."""
    by_finding: dict[int, list[Reference]] = {}
    links = FindingReference.objects.filter(finding__in=list(findings)).select_related(
        "reference", "reference__superseded_by"
    )
    for link in links:
        by_finding.setdefault(link.finding_id, []).append(link.reference)
    return by_finding


@dataclass(slots=True)
class FindingLibrary:
    """What the workspace shows of the library on one finding."""

    topic: str = ""
    topic_label: str = ""
    topic_active: bool = True
    references: list[Reference] = field(default_factory=list)


@dataclass(slots=True)
class WorkspaceLibrary:
    templates: list[RationaleTemplate]
    topics: list[TaxonomyTerm]
    error_categories: list[str]  # the codes findings store, for the category suggestions
    findings: dict[int, FindingLibrary]


def workspace_library(*, organization: Organization, findings: list[Finding]) -> WorkspaceLibrary:
    """The templates and topics to offer, and each finding's topic and citations."""
    terms = taxonomy_terms(organization=organization, active_only=False)
    topics = [t for t in terms if t.kind == TaxonomyKind.TOPIC]
    labels = {t.code: t.label for t in topics}
    active = {t.code for t in topics if t.active}
    refs = finding_references(findings=findings)
    return WorkspaceLibrary(
        templates=list(
            RationaleTemplate.objects.filter(organization=organization, active=True).order_by(
                "title"
            )
        ),
        topics=[t for t in topics if t.active],
        error_categories=[
            t.code for t in terms if t.kind == TaxonomyKind.ERROR_CATEGORY and t.active
        ],
        findings={
            f.pk: FindingLibrary(
                topic=f.topic,
                topic_label=labels.get(f.topic, f.topic),
                topic_active=not f.topic or f.topic in active,
                references=refs.get(f.pk, []),
            )
            for f in findings
        },
    )
