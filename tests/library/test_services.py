"""Library services: superseding, template application, taxonomies, the demo seed."""

from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Finding, RootCause
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from auditcoach.library import selectors, services
from auditcoach.library.models import (
    FindingReference,
    RationaleTemplate,
    Reference,
    Source,
    TaxonomyKind,
    TaxonomyTerm,
)
from auditcoach.library.seed import REFERENCES, TEMPLATES, library_seed

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(org: Organization, auditor: User) -> Audit:
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    return audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )


@pytest.fixture
def finding(worked: Audit) -> Finding:
    return Finding.objects.filter(encounter__audit=worked).order_by("pk").first()  # type: ignore[return-value]


def ocg(org: Organization, section: str, year: int = 2026, **kw: Any) -> Reference:
    return services.reference_create(
        organization=org, actor=None, source=Source.OCG, year=year, section=section,
        code_set="ICD10CM", summary=f"About {section}.", **kw,
    )  # fmt: skip


def test_create_clears_fields_the_source_does_not_use_and_logs(
    org: Organization, auditor: User
) -> None:
    ref = services.reference_create(
        organization=org, actor=auditor, source=Source.CODING_CLINIC, year=2016, quarter=3,
        page=8, section="I.C.1", month=4, summary="Own words.",
    )  # fmt: skip
    assert (ref.section, ref.month, ref.citation) == ("", None, "Coding Clinic 3Q 2016 p. 8")
    assert AuditLogEntry.objects.filter(action="reference.create").count() == 1
    with pytest.raises(ValidationError):
        services.reference_create(
            organization=org, actor=auditor, source=Source.CODING_CLINIC, year=2016, quarter=9,
            page=8, summary="x",
        )  # fmt: skip


def test_database_refuses_what_the_validators_refuse(org: Organization) -> None:
    for bad in (
        {"source": Source.CODING_CLINIC, "year": 2016, "quarter": 5},
        {"source": Source.CPT_ASSISTANT, "year": 2023, "month": 0},
        {"source": Source.OCG, "year": 2026, "section": ""},
        {"source": Source.NCCI, "chapter": "I", "url": "http://x.org"},
        {"source": Source.NCCI, "chapter": "I", "page": 0},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Reference.objects.create(organization=org, summary="x", **bad)


def test_supersede_hides_the_old_reference_from_pickers_and_search(
    org: Organization, auditor: User
) -> None:
    old = ocg(org, "I.C.1.d.4", year=2025)
    new = ocg(org, "I.C.1.d.4", year=2026)
    services.reference_supersede(reference=old, replacement=new, actor=auditor)
    old.refresh_from_db()
    assert old.is_superseded
    assert old.superseded_by == new
    assert old.superseded_at
    assert list(selectors.reference_choices(organization=org)) == [new]
    assert list(selectors.reference_list(organization=org, q="I.C.1.d.4")) == [new]
    assert set(selectors.reference_list(organization=org, include_superseded=True)) == {old, new}
    # kept when already chosen
    assert set(selectors.reference_choices(organization=org, keep=[old.pk])) == {old, new}
    # no loops, no self, no other organization
    with pytest.raises(ValueError, match="by itself or by one it replaced"):
        services.reference_supersede(reference=new, replacement=old, actor=auditor)
    with pytest.raises(ValueError, match="by itself"):
        services.reference_supersede(reference=new, replacement=new, actor=auditor)
    assert AuditLogEntry.objects.filter(action="reference.supersede").count() == 1


def test_search_words_years_and_sources(org: Organization, other_org: Organization) -> None:
    sepsis = ocg(org, "I.C.1.d.4")
    ncci = services.reference_create(
        organization=org, actor=None, source=Source.NCCI, chapter="I", year=2026,
        summary="Modifier 59 marks distinct procedures.",
    )  # fmt: skip
    ocg(other_org, "I.C.1.d.4")
    assert list(selectors.reference_list(organization=org, q="FY2026")) == [sepsis]
    assert list(selectors.reference_list(organization=org, q="ncci 59")) == [ncci]
    assert list(selectors.reference_list(organization=org, q="modifier")) == [ncci]
    assert list(selectors.reference_list(organization=org, source=Source.OCG)) == [sepsis]
    assert selectors.reference_list(organization=org, q="2026").count() == 2


def test_apply_a_template_in_one_step(org: Organization, auditor: User, finding: Finding) -> None:
    services.taxonomy_defaults_ensure(organization=org)
    refs = [ocg(org, "I.C.1.d.4"), ocg(org, "Section II")]
    template = services.template_create(
        organization=org, title="Sepsis first", body="Sepsis is sequenced first.",
        topic="sepsis-sequencing", error_category="Sequencing",
        root_cause=RootCause.GUIDELINE_MISAPPLIED, references=refs, actor=auditor,
    )  # fmt: skip
    finding.rationale = "The record shows urosepsis."
    finding.save(update_fields=["rationale"])

    services.finding_template_apply(finding=finding, template=template, actor=auditor)
    finding.refresh_from_db()
    assert finding.rationale == "The record shows urosepsis.\n\nSepsis is sequenced first."
    assert finding.error_category == "Sequencing"
    assert finding.root_cause == RootCause.GUIDELINE_MISAPPLIED
    assert finding.topic == "sepsis-sequencing"
    linked = selectors.finding_references(findings=[finding])[finding.pk]
    assert [r.citation for r in linked] == ["OCG FY2026 I.C.1.d.4", "OCG FY2026 Section II"]

    # Applying it again adds nothing twice.
    services.finding_template_apply(finding=finding, template=template, actor=auditor)
    finding.refresh_from_db()
    assert finding.rationale.count("Sepsis is sequenced first.") == 1
    assert FindingReference.objects.filter(finding=finding).count() == 2
    assert AuditLogEntry.objects.filter(action="finding.template_apply").count() == 2


def test_a_template_without_category_keeps_the_findings(
    org: Organization, auditor: User, finding: Finding
) -> None:
    finding.error_category, finding.root_cause = "Specificity", RootCause.CLERICAL
    finding.save(update_fields=["error_category", "root_cause"])
    template = services.template_create(
        organization=org, title="Plain", body="Text only.", actor=auditor
    )
    services.finding_template_apply(finding=finding, template=template, actor=auditor)
    finding.refresh_from_db()
    assert (finding.error_category, finding.root_cause, finding.topic, finding.rationale) == (
        "Specificity", RootCause.CLERICAL, "", "Text only.",
    )  # fmt: skip


def test_templates_and_topics_stay_in_their_organization(
    org: Organization, other_org: Organization, auditor: User, finding: Finding
) -> None:
    foreign = ocg(other_org, "Section III")
    with pytest.raises(ValueError, match="another organization"):
        services.template_create(
            organization=org, title="x", body="y", references=[foreign], actor=auditor
        )
    template = services.template_create(organization=other_org, title="x", body="y", actor=auditor)
    with pytest.raises(ValueError, match="another organization"):
        services.finding_template_apply(finding=finding, template=template, actor=auditor)
    with pytest.raises(ValueError, match="unknown topic"):
        services.finding_topic_set(finding=finding, topic="no-such-topic", actor=auditor)


def test_taxonomy_defaults_once_per_organization(
    org: Organization, other_org: Organization
) -> None:
    added = services.taxonomy_defaults_ensure(organization=org)
    assert added == TaxonomyTerm.objects.filter(organization=org).count() > 0
    assert services.taxonomy_defaults_ensure(organization=org) == 0
    codes = {
        t.code for t in selectors.taxonomy_terms(organization=org, kind=TaxonomyKind.ROOT_CAUSE)
    }
    assert codes == set(RootCause.values)
    topics = selectors.topic_labels(organization=org)
    assert topics["sepsis-sequencing"] == "Sepsis sequencing"
    assert not TaxonomyTerm.objects.filter(organization=other_org).exists()


def test_terms_rename_deactivate_and_delete_only_when_unused(
    org: Organization, manager: User, finding: Finding
) -> None:
    services.taxonomy_defaults_ensure(organization=org)
    root = TaxonomyTerm.objects.get(organization=org, kind="root_cause", code="CLERICAL")
    services.taxonomy_term_update(
        term=root, label="Keying error", active=False, position=9, actor=manager
    )
    root.refresh_from_db()
    assert (root.code, root.label, root.active) == ("CLERICAL", "Keying error", False)
    with pytest.raises(ValueError, match="Root causes are fixed"):
        services.taxonomy_term_delete(term=root, actor=manager)
    with pytest.raises(ValueError, match="Root causes are fixed"):
        services.taxonomy_term_create(
            organization=org, kind="root_cause", label="New cause", actor=manager
        )

    topic = services.taxonomy_term_create(
        organization=org, kind="topic", label="Heart failure specificity", actor=manager
    )
    assert topic.code == "heart-failure-specificity"
    with pytest.raises(ValueError, match="exists already"):
        services.taxonomy_term_create(
            organization=org, kind="topic", label="Heart failure specificity", actor=manager
        )
    services.finding_topic_set(finding=finding, topic=topic.code, actor=manager)
    with pytest.raises(ValueError, match="in use"):
        services.taxonomy_term_delete(term=topic, actor=manager)
    services.finding_topic_set(finding=finding, topic="", actor=manager)
    services.taxonomy_term_delete(term=topic, actor=manager)
    assert not TaxonomyTerm.objects.filter(pk=topic.pk).exists()


def test_seed_is_idempotent_and_cites_only_sections_and_chapters(org: Organization) -> None:
    first = library_seed(organization=org)
    assert (first.references, first.templates) == (len(REFERENCES), len(TEMPLATES))
    again = library_seed(organization=org)
    assert (again.references, again.templates, again.terms) == (0, 0, 0)
    assert not Reference.objects.filter(
        organization=org, source__in=[Source.CODING_CLINIC, Source.CPT_ASSISTANT]
    ).exists()
    topics = set(selectors.topic_labels(organization=org))
    for template in RationaleTemplate.objects.filter(organization=org):
        assert template.topic in topics
        assert template.references.exists()
    for ref in Reference.objects.filter(organization=org):
        ref.full_clean()


def test_library_seed_command(org: Organization) -> None:
    out = StringIO()
    call_command("library_seed", "--org", org.slug, stdout=out)
    call_command("library_seed", "--org", org.slug, stdout=out)
    assert "0 reference(s), 0 template(s)" in out.getvalue()
    assert RationaleTemplate.objects.filter(organization=org).count() == len(TEMPLATES)
