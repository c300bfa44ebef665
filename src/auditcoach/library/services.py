"""Writes of the reference library, rationale templates and taxonomies; each one logs.

Keyword-only, one transaction each (STYLE.md). Applying a template to a finding goes through
`audits.services.finding_annotate` for the text fields so the finding's own log stays whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.services import log_write
from auditcoach.audits.forms import ERROR_CATEGORIES
from auditcoach.audits.models import Finding, RootCause
from auditcoach.audits.services import finding_annotate, finding_notes_claim
from auditcoach.library.models import (
    FindingReference,
    RationaleTemplate,
    Reference,
    Source,
    TaxonomyKind,
    TaxonomyTerm,
)

DEFAULT_TOPICS: Final = (
    ("sepsis-sequencing", "Sepsis sequencing"),
    ("cc-mcc-capture", "CC/MCC capture"),
    ("principal-diagnosis", "Principal diagnosis selection"),
    ("em-leveling", "E/M leveling"),
    ("modifier-25-59", "Modifier 25/59"),
    ("poa", "POA"),
)

# Which fields each source uses (DESIGN §7); the others are cleared when a reference is saved
# so a source change never leaves a stray quarter on a guidelines citation.
SOURCE_FIELDS: Final[dict[str, frozenset[str]]] = {
    Source.CODING_CLINIC: frozenset({"year", "quarter", "page"}),
    Source.OCG: frozenset({"year", "section", "code_set"}),
    Source.CPT_ASSISTANT: frozenset({"year", "month", "volume", "issue", "page"}),
}
FREE_TEXT_FIELDS: Final = frozenset({"title", "chapter", "section", "year", "page"})
SOURCE_SPECIFIC: Final = (
    "year", "quarter", "month", "volume", "issue", "page", "section", "code_set", "title", "chapter",
)  # fmt: skip
REFERENCE_FIELDS: Final = ("source", *SOURCE_SPECIFIC, "summary", "url")


def _actor(actor: User | None) -> User | None:
    return actor if isinstance(actor, User) else None


def _reference_values(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(REFERENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown reference fields {sorted(unknown)}")
    source = fields.get("source", "")
    keep = SOURCE_FIELDS.get(source, FREE_TEXT_FIELDS)
    values: dict[str, Any] = {}
    for name in REFERENCE_FIELDS:
        value = fields.get(name)
        if name in SOURCE_SPECIFIC and name not in keep:
            value = None
        if isinstance(value, str):
            value = value.strip()
        if value is None and name not in {"year", "quarter", "month", "volume", "issue", "page"}:
            value = ""
        values[name] = value
    return values


@transaction.atomic
def reference_create(*, organization: Organization, actor: User | None, **fields: Any) -> Reference:
    """Add a reference; `fields` are the model's citation fields (see `REFERENCE_FIELDS`)."""
    reference = Reference(
        organization=organization, created_by=_actor(actor), **_reference_values(fields)
    )
    reference.full_clean(exclude=["organization", "created_by", "superseded_by"])
    reference.save()
    log_write(
        organization=organization,
        actor=actor,
        action="reference.create",
        obj_type="reference",
        obj_id=str(reference.public_id),
        changes={"citation": [None, reference.citation]},
    )
    return reference


@transaction.atomic
def reference_update(*, reference: Reference, actor: User | None, **fields: Any) -> Reference:
    values = _reference_values(fields)
    changes = {}
    for name, value in values.items():
        old = getattr(reference, name)
        if old != value:
            changes[name] = [old, value]
            setattr(reference, name, value)
    if changes:
        reference.full_clean(exclude=["organization", "created_by", "superseded_by"])
        reference.save(update_fields=[*changes, "updated_at"])
        log_write(
            organization=reference.organization,
            actor=actor,
            action="reference.update",
            obj_type="reference",
            obj_id=str(reference.public_id),
            changes=changes,
        )
    return reference


@transaction.atomic
def reference_supersede(
    *, reference: Reference, replacement: Reference, actor: User | None
) -> Reference:
    """Mark `reference` as replaced by newer advice. Its links stay; pickers stop offering it."""
    if replacement.organization_id != reference.organization_id:
        raise ValueError("the newer reference belongs to another organization")
    seen = {reference.pk}
    step: Reference | None = replacement
    while step is not None:  # refuse a loop: the replacement must not lead back here
        if step.pk in seen:
            raise ValueError("a reference cannot be superseded by itself or by one it replaced")
        seen.add(step.pk)
        step = step.superseded_by
    old = reference.superseded_by.citation if reference.superseded_by else None
    reference.superseded_by = replacement
    reference.superseded_at = timezone.now()
    reference.save(update_fields=["superseded_by", "superseded_at", "updated_at"])
    log_write(
        organization=reference.organization,
        actor=actor,
        action="reference.supersede",
        obj_type="reference",
        obj_id=str(reference.public_id),
        changes={"superseded_by": [old, replacement.citation]},
    )
    return reference


# --------------------------------------------------------------------------- taxonomies


def _default_terms() -> dict[str, list[tuple[str, str]]]:
    return {
        TaxonomyKind.ERROR_CATEGORY: [(label, label) for label in ERROR_CATEGORIES],
        TaxonomyKind.ROOT_CAUSE: [(str(value), str(label)) for value, label in RootCause.choices],
        TaxonomyKind.TOPIC: list(DEFAULT_TOPICS),
    }


@transaction.atomic
def taxonomy_defaults_ensure(*, organization: Organization) -> int:
    """Create the default terms of each kind the organization has none of; always every root
    cause (DESIGN §7 codes drive education routing). Idempotent; returns how many it added."""
    existing: dict[str, set[str]] = {}
    for kind, code in TaxonomyTerm.objects.filter(organization=organization).values_list(
        "kind", "code"
    ):
        existing.setdefault(kind, set()).add(code)
    new = []
    for kind, terms in _default_terms().items():
        have = existing.get(kind, set())
        if have and kind != TaxonomyKind.ROOT_CAUSE:
            continue
        new += [
            TaxonomyTerm(organization=organization, kind=kind, code=code, label=label, position=i)
            for i, (code, label) in enumerate(terms, start=1)
            if code not in have
        ]
    if new:
        TaxonomyTerm.objects.bulk_create(new, ignore_conflicts=True)
        log_write(
            organization=organization,
            actor=None,
            action="taxonomy.defaults",
            obj_type="organization",
            obj_id=str(organization.public_id),
            changes={"terms": [None, len(new)]},
        )
    return len(new)


@transaction.atomic
def taxonomy_term_create(
    *, organization: Organization, kind: str, label: str, code: str = "", actor: User | None
) -> TaxonomyTerm:
    """Add an error category or topic; root causes are the fixed §7 codes (rename only)."""
    if kind not in {TaxonomyKind.ERROR_CATEGORY, TaxonomyKind.TOPIC}:
        raise ValueError("Root causes are fixed; rename or deactivate them instead.")
    label = " ".join(label.split())
    if not label:
        raise ValueError("A label is required.")
    if not code:
        code = slugify(label)[:60] if kind == TaxonomyKind.TOPIC else label[:60]
    if not code:
        raise ValueError("The label needs at least one letter or digit.")
    if TaxonomyTerm.objects.filter(organization=organization, kind=kind, code=code).exists():
        raise ValueError(f"“{label}” exists already.")
    position = (
        TaxonomyTerm.objects.filter(organization=organization, kind=kind).aggregate(
            m=Max("position")
        )["m"]
        or 0
    ) + 1
    term = TaxonomyTerm.objects.create(
        organization=organization, kind=kind, code=code, label=label, position=position
    )
    log_write(
        organization=organization,
        actor=actor,
        action="taxonomy.create",
        obj_type="taxonomy_term",
        obj_id=str(term.public_id),
        changes={"kind": [None, kind], "code": [None, code], "label": [None, label]},
    )
    return term


@transaction.atomic
def taxonomy_term_update(
    *, term: TaxonomyTerm, label: str, active: bool, position: int, actor: User | None
) -> TaxonomyTerm:
    """Rename, reorder or (de)activate a term; its code, which findings store, never changes."""
    label = " ".join(label.split())
    if not label:
        raise ValueError("A label is required.")
    changes = {}
    for name, value in (("label", label), ("active", active), ("position", position)):
        if getattr(term, name) != value:
            changes[name] = [getattr(term, name), value]
            setattr(term, name, value)
    if changes:
        term.save(update_fields=list(changes))
        log_write(
            organization=term.organization,
            actor=actor,
            action="taxonomy.update",
            obj_type="taxonomy_term",
            obj_id=str(term.public_id),
            changes=changes,
        )
    return term


def taxonomy_term_in_use(*, term: TaxonomyTerm) -> bool:
    org = term.organization_id
    field = {
        TaxonomyKind.ERROR_CATEGORY: "error_category",
        TaxonomyKind.ROOT_CAUSE: "root_cause",
        TaxonomyKind.TOPIC: "topic",
    }[TaxonomyKind(term.kind)]
    return (
        Finding.objects.filter(organization_id=org, **{field: term.code}).exists()
        or RationaleTemplate.objects.filter(organization_id=org, **{field: term.code}).exists()
    )


@transaction.atomic
def taxonomy_term_delete(*, term: TaxonomyTerm, actor: User | None) -> None:
    """Delete a term nothing uses; root causes and terms in use can only be deactivated."""
    if term.kind == TaxonomyKind.ROOT_CAUSE:
        raise ValueError("Root causes are fixed; deactivate one instead.")
    if taxonomy_term_in_use(term=term):
        raise ValueError(f"“{term.label}” is in use; deactivate it instead.")
    log_write(
        organization=term.organization,
        actor=actor,
        action="taxonomy.delete",
        obj_type="taxonomy_term",
        obj_id=str(term.public_id),
        changes={"code": [term.code, None], "label": [term.label, None]},
    )
    term.delete()


# --------------------------------------------------------------------------- templates


def _check_references(organization: Organization, references: Iterable[Reference]) -> list[int]:
    refs = list(references)
    if any(ref.organization_id != organization.pk for ref in refs):
        raise ValueError("a reference belongs to another organization")
    return sorted(ref.pk for ref in refs)


DUPLICATE_TITLE = "A rationale template with this title exists already: choose another title."


def _check_template_fields(
    root_cause: str,
    body: str,
    title: str,
    *,
    organization: Organization,
    exclude: RationaleTemplate | None = None,
) -> None:
    if root_cause and root_cause not in RootCause.values:
        raise ValueError(f"unknown root cause {root_cause!r}")
    if not body.strip() or not title.strip():
        raise ValueError("a template needs a title and a body")
    same_title = RationaleTemplate.objects.filter(organization=organization, title=title.strip())
    if exclude is not None:
        same_title = same_title.exclude(pk=exclude.pk)
    if same_title.exists():
        raise ValueError(DUPLICATE_TITLE)


@transaction.atomic
def template_create(
    *,
    organization: Organization,
    title: str,
    body: str,
    topic: str = "",
    error_category: str = "",
    root_cause: str = "",
    references: Iterable[Reference] = (),
    active: bool = True,
    actor: User | None,
) -> RationaleTemplate:
    _check_template_fields(root_cause, body, title, organization=organization)
    ref_ids = _check_references(organization, references)
    try:
        # A savepoint: a concurrent save of the same title fails here, not the caller's
        # transaction.
        with transaction.atomic():
            template = RationaleTemplate.objects.create(
                organization=organization,
                title=title.strip(),
                body=body.strip(),
                topic=topic,
                error_category=error_category,
                root_cause=root_cause,
                active=active,
            )
    except IntegrityError:
        raise ValueError(DUPLICATE_TITLE) from None
    template.references.set(ref_ids)
    log_write(
        organization=organization,
        actor=actor,
        action="template.create",
        obj_type="rationale_template",
        obj_id=str(template.public_id),
        changes={"title": [None, template.title], "references": [None, ref_ids]},
    )
    return template


@transaction.atomic
def template_update(
    *,
    template: RationaleTemplate,
    title: str,
    body: str,
    topic: str,
    error_category: str,
    root_cause: str,
    references: Iterable[Reference],
    active: bool,
    actor: User | None,
) -> RationaleTemplate:
    _check_template_fields(
        root_cause, body, title, organization=template.organization, exclude=template
    )
    ref_ids = _check_references(template.organization, references)
    changes: dict[str, list[Any]] = {}
    for name, value in (
        ("title", title.strip()),
        ("body", body.strip()),
        ("topic", topic),
        ("error_category", error_category),
        ("root_cause", root_cause),
        ("active", active),
    ):
        if getattr(template, name) != value:
            changes[name] = [getattr(template, name), value]
            setattr(template, name, value)
    if changes:
        try:
            with transaction.atomic():
                template.save(update_fields=[*changes, "updated_at"])
        except IntegrityError:
            raise ValueError(DUPLICATE_TITLE) from None
    old_refs = sorted(template.references.values_list("pk", flat=True))
    if old_refs != ref_ids:
        template.references.set(ref_ids)
        changes["references"] = [old_refs, ref_ids]
    if changes:
        log_write(
            organization=template.organization,
            actor=actor,
            action="template.update",
            obj_type="rationale_template",
            obj_id=str(template.public_id),
            changes=changes,
        )
    return template


# --------------------------------------------------------------------------- findings


def _check_topic(organization: Organization, topic: str) -> None:
    if (
        topic
        and not TaxonomyTerm.objects.filter(
            organization=organization, kind=TaxonomyKind.TOPIC, code=topic
        ).exists()
    ):
        raise ValueError(f"unknown topic {topic!r}")


@transaction.atomic
def finding_topic_set(
    *, finding: Finding, topic: str, actor: User | None, expected_version: int | None = None
) -> Finding:
    """Tag a finding with one of the organization's coaching topics ("" to clear it).

    The topic is one of the finding's notes: a stale `expected_version` is refused
    (`NotesConflictError`, see `audits.services.finding_notes_claim`).
    """
    _check_topic(finding.organization, topic)
    finding_notes_claim(finding=finding, expected_version=expected_version)
    if finding.topic != topic:
        old = finding.topic
        finding.topic = topic
        finding.save(update_fields=["topic", "notes_version", "updated_at"])
        log_write(
            organization=finding.organization,
            actor=actor,
            action="finding.topic",
            obj_type="finding",
            obj_id=str(finding.public_id),
            changes={"topic": [old, topic]},
        )
    return finding


@transaction.atomic
def finding_template_apply(
    *,
    finding: Finding,
    template: RationaleTemplate,
    actor: User,
    expected_version: int | None = None,
) -> Finding:
    """Apply a rationale template in one step: its body goes into the rationale (after what
    the auditor wrote, never twice), its category, root cause and topic onto the finding when
    the template has them, and its references are linked to the finding."""
    if template.organization_id != finding.organization_id:
        raise ValueError("the template belongs to another organization")
    body = template.body.strip()
    current = finding.rationale.strip()
    if not current:
        rationale = body
    elif body in current:
        rationale = current
    else:
        rationale = f"{current}\n\n{body}"
    finding_annotate(
        finding=finding,
        error_category=template.error_category or finding.error_category,
        root_cause=template.root_cause or finding.root_cause,
        rationale=rationale,
        actor=actor,
        expected_version=expected_version,
    )
    if template.topic:
        finding_topic_set(finding=finding, topic=template.topic, actor=actor)
    linked = set(
        FindingReference.objects.filter(finding=finding).values_list("reference_id", flat=True)
    )
    new = [ref for ref in template.references.all() if ref.pk not in linked]
    FindingReference.objects.bulk_create(
        [
            FindingReference(
                organization_id=finding.organization_id,
                finding=finding,
                reference=ref,
                added_by=_actor(actor),
            )
            for ref in new
        ]
    )
    log_write(
        organization=finding.organization,
        actor=actor,
        action="finding.template_apply",
        obj_type="finding",
        obj_id=str(finding.public_id),
        changes={
            "template": [None, str(template.public_id)],
            "references": [None, [ref.citation for ref in new]],
        },
    )
    return finding


@transaction.atomic
def finding_reference_remove(*, finding: Finding, reference: Reference, actor: User) -> None:
    deleted, _ = FindingReference.objects.filter(finding=finding, reference=reference).delete()
    if deleted:
        log_write(
            organization=finding.organization,
            actor=actor,
            action="finding.reference_remove",
            obj_type="finding",
            obj_id=str(finding.public_id),
            changes={"references": [reference.citation, None]},
        )
