"""Demo content of the library: coaching topics, references and rationale templates.

Written in our own words. Guidance is cited by section or chapter number only (ICD-10-CM
Official Guidelines sections, NCCI Policy Manual chapters, a CMS manual chapter) so nothing
copyrighted is reproduced and no issue, page or quarter is invented. Idempotent: what exists
(matched by citation or title) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from django.db import transaction

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import RootCause
from auditcoach.library import services
from auditcoach.library.models import CodeSet, RationaleTemplate, Reference, Source

FY: Final = 2026

# key → the reference's fields. Keys only tie templates to references below.
REFERENCES: Final[dict[str, dict[str, Any]]] = {
    "ocg-sepsis-localized": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "I.C.1.d.4",
        "summary": "Sepsis with a localized infection: when both are present on admission, "
        "the code for the systemic infection comes first and the localized infection (for "
        "example pneumonia or a urinary tract infection) is added after it. When sepsis only "
        "develops after admission, the localized infection stays principal.",
    },
    "ocg-principal": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "Section II",
        "summary": "Principal diagnosis (inpatient): the condition that, after study, is found "
        "to be chiefly responsible for the admission. Read with the chapter-specific "
        "sequencing rules, which take precedence.",
    },
    "ocg-additional": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "Section III",
        "summary": "Additional diagnoses (inpatient): report conditions that affect the stay — "
        "they were clinically evaluated, treated, worked up with diagnostic procedures, "
        "lengthened the stay, or needed more nursing care or monitoring. Conditions that do "
        "none of these are not reported.",
    },
    "ocg-poa": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "Appendix I",
        "summary": "Present-on-admission reporting: a condition present when the order to admit "
        "is written is POA (including conditions found in the emergency department or during "
        "observation). Use U only when the record is unclear after a query, W only when the "
        "provider cannot clinically determine it.",
    },
    "ocg-clinical-criteria": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "I.A.19",
        "summary": "Code assignment rests on the provider's diagnostic statement; a code is not "
        "dropped because the coder would apply different clinical criteria. When documentation "
        "conflicts or does not support a diagnosis, query the provider.",
    },
    "ocg-resp-failure": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "I.C.10.b",
        "summary": "Acute respiratory failure: may be principal when it meets the definition and "
        "the chapter rules allow; as a secondary diagnosis it is reported whenever it occurs "
        "after admission or is present on admission but not principal. Sequencing with other "
        "acute conditions follows the circumstances of admission.",
    },
    "ocg-other-clinicians": {
        "source": Source.OCG,
        "year": FY,
        "code_set": CodeSet.ICD10CM,
        "section": "I.B.14",
        "summary": "Some details (for example BMI, pressure ulcer stage, depth of a non-pressure "
        "ulcer) may come from clinicians other than the patient's provider, but the associated "
        "diagnosis itself must be documented by the provider.",
    },
    "ncci-general": {
        "source": Source.NCCI,
        "year": FY,
        "chapter": "I",
        "title": "General correct coding policies",
        "summary": "Modifier 59 (and the more specific XE, XS, XP, XU) marks a procedure as "
        "distinct only when it is truly separate — a different session, site or organ system, "
        "incision or injury. Use a specific X modifier when one describes the situation, and "
        "never append 59 just to bypass an edit.",
    },
    "ncci-medicine-em": {
        "source": Source.NCCI,
        "year": FY,
        "chapter": "XI",
        "title": "Medicine and E/M services",
        "summary": "An E/M on the same day as a procedure is reported with modifier 25 only when "
        "it is significant and separately identifiable, beyond the usual pre- and "
        "post-procedure work included in the procedure.",
    },
    "cms-em": {
        "source": Source.CMS_MANUAL,
        "year": FY,
        "title": "Claims Processing Manual (100-04)",
        "chapter": "12",
        "section": "30.6",
        "summary": "Evaluation and management services: the visit must be medically necessary, "
        "the level supported by the documentation, and modifier 25 used only for a separately "
        "identifiable E/M on the day of a procedure.",
    },
    "org-em-leveling": {
        "source": Source.ORG_POLICY,
        "year": FY,
        "title": "Office E/M leveling",
        "summary": "House rule for office and outpatient visits (2021 framework): the level is "
        "set by medical decision making — two of the three elements (problems, data, risk) "
        "must meet or exceed the level — or by the provider's total time on the date of the "
        "visit when documented. History and exam are documented as appropriate but do not "
        "set the level.",
    },
}

TEMPLATES: Final[list[dict[str, Any]]] = [
    {
        "title": "Sepsis with localized infection: sequence sepsis first",
        "topic": "sepsis-sequencing",
        "error_category": "Sequencing",
        "root_cause": RootCause.GUIDELINE_MISAPPLIED,
        "body": "Sepsis was present on admission together with a localized infection. The "
        "systemic infection is sequenced as principal diagnosis and the localized infection "
        "is reported as a secondary diagnosis.",
        "references": ["ocg-sepsis-localized", "ocg-principal"],
    },
    {
        "title": "Principal diagnosis: condition chiefly responsible",
        "topic": "principal-diagnosis",
        "error_category": "Principal diagnosis selection",
        "root_cause": RootCause.GUIDELINE_MISAPPLIED,
        "body": "After study, the record shows a different condition was chiefly responsible "
        "for the admission; it is sequenced as principal diagnosis.",
        "references": ["ocg-principal"],
    },
    {
        "title": "Missed MCC: acute respiratory failure",
        "topic": "cc-mcc-capture",
        "error_category": "Missed CC/MCC",
        "root_cause": RootCause.KNOWLEDGE_GAP,
        "body": "The provider documented acute respiratory failure and it was treated "
        "(supplemental oxygen / ventilatory support and monitoring). It meets the criteria for "
        "an additional diagnosis and was added.",
        "references": ["ocg-resp-failure", "ocg-additional"],
    },
    {
        "title": "Missed CC: hyponatremia",
        "topic": "cc-mcc-capture",
        "error_category": "Missed CC/MCC",
        "root_cause": RootCause.KNOWLEDGE_GAP,
        "body": "Hyponatremia was documented by the provider and was monitored and treated "
        "(serial sodium levels, fluid restriction or replacement). It affected care and is "
        "reported as an additional diagnosis.",
        "references": ["ocg-additional"],
    },
    {
        "title": "Unsupported diagnosis: query needed",
        "topic": "cc-mcc-capture",
        "error_category": "Unsupported diagnosis",
        "root_cause": RootCause.DOCUMENTATION,
        "body": "The diagnosis is not supported consistently in the provider's documentation. "
        "It was removed; a query to the provider would be needed to report it.",
        "references": ["ocg-clinical-criteria", "ocg-additional"],
    },
    {
        "title": "POA indicator: condition present at the order to admit",
        "topic": "poa",
        "error_category": "POA assignment",
        "root_cause": RootCause.GUIDELINE_MISAPPLIED,
        "body": "The condition was present when the order to admit was written (documented in "
        "the emergency department), so the POA indicator is Y.",
        "references": ["ocg-poa"],
    },
    {
        "title": "E/M level: MDM supports a different level",
        "topic": "em-leveling",
        "error_category": "E/M level",
        "root_cause": RootCause.KNOWLEDGE_GAP,
        "body": "Medical decision making supports a different level: two of the three elements "
        "(problems addressed, data reviewed and analyzed, risk of management) meet the audited "
        "level, and total time is not documented.",
        "references": ["org-em-leveling", "cms-em"],
    },
    {
        "title": "E/M level by total time",
        "topic": "em-leveling",
        "error_category": "E/M level",
        "root_cause": RootCause.KNOWLEDGE_GAP,
        "body": "The provider documented total time on the date of the visit; the level is "
        "assigned by that time, which supports the audited level.",
        "references": ["org-em-leveling"],
    },
    {
        "title": "Modifier 25 not supported",
        "topic": "modifier-25-59",
        "error_category": "Modifier",
        "root_cause": RootCause.GUIDELINE_MISAPPLIED,
        "body": "The visit note does not show a significant, separately identifiable E/M "
        "service beyond the work included in the procedure, so the E/M with modifier 25 is "
        "not reported.",
        "references": ["ncci-medicine-em", "cms-em"],
    },
    {
        "title": "Modifier 59: not a distinct service",
        "topic": "modifier-25-59",
        "error_category": "Modifier",
        "root_cause": RootCause.GUIDELINE_MISAPPLIED,
        "body": "The procedures were performed at the same session, site and incision, so they "
        "are not distinct; modifier 59 (or an X modifier) does not apply and the edit stands.",
        "references": ["ncci-general"],
    },
]


@dataclass(frozen=True, slots=True)
class SeedResult:
    references: int
    templates: int
    terms: int


def _key(fields: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        fields.get(name) or ("" if name != "year" else None)
        for name in ("source", "year", "section", "chapter", "title")
    )


@transaction.atomic
def library_seed(*, organization: Organization, actor: User | None = None) -> SeedResult:
    """Add the demo topics, references and templates the organization does not have yet."""
    terms = services.taxonomy_defaults_ensure(organization=organization)
    existing = {
        _key({n: getattr(r, n) for n in ("source", "year", "section", "chapter", "title")}): r
        for r in Reference.objects.filter(organization=organization)
    }
    refs: dict[str, Reference] = {}
    added_refs = 0
    for key, fields in REFERENCES.items():
        found = existing.get(_key(fields))
        if found is None:
            found = services.reference_create(organization=organization, actor=actor, **fields)
            added_refs += 1
        refs[key] = found
    titles = set(
        RationaleTemplate.objects.filter(organization=organization).values_list("title", flat=True)
    )
    added_templates = 0
    for spec in TEMPLATES:
        if spec["title"] in titles:
            continue
        services.template_create(
            organization=organization,
            title=spec["title"],
            body=spec["body"],
            topic=spec["topic"],
            error_category=spec["error_category"],
            root_cause=spec["root_cause"],
            references=[refs[k] for k in spec["references"]],
            actor=actor,
        )
        added_templates += 1
    return SeedResult(references=added_refs, templates=added_templates, terms=terms)
