"""Reads of the audits area, always starting from the organization."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, When
from django.http import Http404

from auditcoach.accounts.models import Coder, Organization
from auditcoach.audits.conversions import engine_encounter, totals_from_sums
from auditcoach.audits.models import (
    TALLY_GROUPS,
    TALLY_PARTS,
    Audit,
    CodeLine,
    Encounter,
    Finding,
    ImportJob,
    ImportMapping,
)
from auditcoach.coaching.models import Attachment, Comment, FindingEvent
from auditcoach.codesets.knowledge import catalog, checker, grouper, pricing
from auditcoach.codesets.selectors import cpt_descriptions
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.engine.compare import drg_claim
from auditcoach.engine.model import CodeIssue, DrgResult
from auditcoach.engine.model import Encounter as EngineEncounter
from auditcoach.engine.scoring import Scores, ScoreTotals, scores
from auditcoach.intake.mapping import columns_key
from auditcoach.overreads.models import Overread


def audit_list(
    *, organization: Organization, status: str = "", archived: bool = False
) -> QuerySet[Audit]:
    """The organization's audits, newest first, with their encounter counts: of one
    `status` when given, the archived ones only when `archived` (then alongside the rest)."""
    qs = Audit.objects.filter(organization=organization)
    if status:
        qs = qs.filter(status=status)
    if not archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.annotate(encounter_count=Count("encounters", distinct=True))


def audit_archived_count(*, organization: Organization, status: str = "") -> int:
    """How many audits (of `status`, when given) the list hides while archived ones are off."""
    qs = Audit.objects.filter(organization=organization, archived_at__isnull=False)
    return (qs.filter(status=status) if status else qs).count()


def audit_ever_released(*, audit: Audit) -> bool:
    """Whether anything of the audit was ever shown to a coder: the audit or one of its
    encounters stamped released, a finding with `released_at`, or a release event (a
    release recalled since still counts: the coder may have read it)."""
    if audit.released_at is not None or audit.status in {
        Audit.Status.RELEASED,
        Audit.Status.CLOSED,
    }:
        return True
    org = audit.organization_id
    return (
        Encounter.objects.filter(
            organization_id=org, audit=audit, released_at__isnull=False
        ).exists()
        or Finding.objects.filter(
            organization_id=org, encounter__audit=audit, released_at__isnull=False
        ).exists()
        or FindingEvent.objects.filter(
            organization_id=org,
            finding__encounter__audit=audit,
            kind=FindingEvent.Kind.RELEASE,
        ).exists()
    )


@dataclass(frozen=True, slots=True)
class AuditFootprint:
    """What deleting an audit removes (the confirmation page and the `audit.delete` entry)."""

    encounters: int
    code_lines: int
    findings: int
    finding_events: int
    comments: int
    attachments: int
    overreads: int
    followup_reviews: int
    education_links: int
    import_jobs: int

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def audit_footprint(*, audit: Audit) -> AuditFootprint:
    """The rows of the audit's encounters and findings, and the rows elsewhere that point
    at them (follow-up reviews that chose its encounters, education assignments that cite
    its findings), counted."""
    org = audit.organization_id
    encounters = Encounter.objects.filter(organization_id=org, audit=audit)
    findings = Finding.objects.filter(organization_id=org, encounter__audit=audit)
    followups = FollowUpReview.objects.filter(organization_id=org).filter(
        Q(audit=audit) | Q(encounters__audit=audit)
    )
    return AuditFootprint(
        encounters=encounters.count(),
        code_lines=CodeLine.objects.filter(organization_id=org, encounter__audit=audit).count(),
        findings=findings.count(),
        finding_events=FindingEvent.objects.filter(
            organization_id=org, finding__encounter__audit=audit
        ).count(),
        comments=Comment.objects.filter(
            organization_id=org, finding__encounter__audit=audit
        ).count(),
        attachments=Attachment.objects.filter(
            organization_id=org, finding__encounter__audit=audit
        ).count(),
        overreads=Overread.objects.filter(organization_id=org, encounter__audit=audit).count(),
        followup_reviews=followups.values("pk").distinct().count(),
        education_links=EducationAssignment.findings.through.objects.filter(
            finding__organization_id=org, finding__encounter__audit=audit
        ).count(),
        import_jobs=ImportJob.objects.filter(organization_id=org, audit=audit).count(),
    )


@dataclass(frozen=True, slots=True)
class DuplicateEncounter:
    """An encounter id of a workbook that another audit of the organization already has."""

    external_id: str
    audit_name: str
    audit_cycle: str
    audit_public_id: uuid.UUID

    def as_dict(self) -> dict[str, str]:
        return {
            "external_id": self.external_id,
            "audit": self.audit_name,
            "cycle": self.audit_cycle,
            "audit_id": str(self.audit_public_id),
        }


# Ids per query: well under SQLite's and PostgreSQL's limits on bound parameters.
_ID_CHUNK = 5000


def duplicate_encounters(
    *, organization: Organization, external_ids: Iterable[str]
) -> list[DuplicateEncounter]:
    """The encounters of the organization's audits (archived ones too) whose encounter id
    is among `external_ids`, ordered by encounter id then audit name: one row per (id,
    audit), so an id already in two audits gives two rows. Read before an import writes
    anything (the upload page and `auditcoach import` both ask)."""
    wanted = sorted(set(external_ids))
    rows: list[DuplicateEncounter] = []
    for start in range(0, len(wanted), _ID_CHUNK):
        chunk = wanted[start : start + _ID_CHUNK]
        rows += [
            DuplicateEncounter(
                external_id=eid, audit_name=name, audit_cycle=cycle, audit_public_id=aid
            )
            for eid, name, cycle, aid in Encounter.objects.filter(
                organization=organization, external_id__in=chunk
            )
            .order_by()
            .values_list("external_id", "audit__name", "audit__cycle", "audit__public_id")
        ]
    rows.sort(key=lambda r: (r.external_id, r.audit_name))
    return rows


def audit_get(*, organization: Organization, public_id: uuid.UUID | str) -> Audit:
    try:
        return Audit.objects.get(organization=organization, public_id=public_id)
    except (Audit.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such audit") from exc


def encounter_get(*, organization: Organization, public_id: uuid.UUID | str) -> Encounter:
    try:
        return Encounter.objects.select_related(
            "audit",
            "facility",
            "service_line",
            "provider",
            "coder__user",
            "auditor",
            "organization",
        ).get(organization=organization, public_id=public_id)
    except (Encounter.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such encounter") from exc


def finding_get(*, organization: Organization, public_id: uuid.UUID | str) -> Finding:
    try:
        return Finding.objects.select_related("encounter", "encounter__organization").get(
            organization=organization, public_id=public_id
        )
    except (Finding.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such finding") from exc


def import_job_get(*, organization: Organization, public_id: uuid.UUID | str) -> ImportJob:
    try:
        return ImportJob.objects.select_related("audit").get(
            organization=organization, public_id=public_id
        )
    except (ImportJob.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such import") from exc


def import_jobs_waiting(*, organization: Organization) -> QuerySet[ImportJob]:
    """Uploads that wait for a person: repeating another audit's encounters (Import anyway
    / Cancel), or a spreadsheet waiting for its column mapping."""
    return ImportJob.objects.filter(
        organization=organization,
        status__in=[ImportJob.Status.WAITING, ImportJob.Status.MAPPING],
    ).select_related("created_by")


def import_mapping_list(*, organization: Organization) -> QuerySet[ImportMapping]:
    """The organization's saved column mappings, by name."""
    return ImportMapping.objects.filter(organization=organization).select_related("created_by")


def import_mapping_get(*, organization: Organization, public_id: uuid.UUID | str) -> ImportMapping:
    try:
        return ImportMapping.objects.get(organization=organization, public_id=public_id)
    except (ImportMapping.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such mapping") from exc


def import_mapping_named(*, organization: Organization, name: str) -> ImportMapping | None:
    return ImportMapping.objects.filter(organization=organization, name=name).first()


def import_mapping_for_columns(
    *, organization: Organization, headers: Iterable[str]
) -> ImportMapping | None:
    """The saved mapping made for exactly these columns (whatever their order, case and
    spacing), the most recently saved one when several are."""
    return (
        ImportMapping.objects.filter(organization=organization, columns_key=columns_key(headers))
        .order_by("-updated_at", "-pk")
        .first()
    )


@dataclass(frozen=True, slots=True)
class EncounterFilters:
    q: str = ""
    setting: str = ""
    coder: str = ""
    status: str = ""
    has_findings: str = ""  # "", "yes", "no"
    kind: str = ""
    reviewed: str = ""  # "", "yes", "no": the review state of DESIGN §9


def encounter_list(
    *, organization: Organization, audit: Audit, filters: EncounterFilters
) -> QuerySet[Encounter]:
    qs = Encounter.objects.filter(organization=organization, audit=audit).select_related(
        "coder__user", "facility"
    )
    if filters.q:
        qs = qs.filter(external_id__icontains=filters.q)
    if filters.setting:
        qs = qs.filter(setting=filters.setting)
    if filters.coder:
        qs = qs.filter(coder__name=filters.coder)
    if filters.status:
        qs = qs.filter(review_status=filters.status)
    if filters.has_findings == "yes":
        qs = qs.filter(finding_count__gt=0)
    elif filters.has_findings == "no":
        qs = qs.filter(finding_count=0)
    if filters.reviewed in {"yes", "no"}:
        qs = qs.filter(reviewed=filters.reviewed == "yes")
    if filters.kind:
        qs = qs.filter(findings__kind=filters.kind, findings__active=True).distinct()
    return qs.order_by("external_id")


def neighbours(*, encounter: Encounter) -> tuple[Encounter | None, Encounter | None]:
    """The previous and next encounter of the same audit (by external id)."""
    qs = Encounter.objects.filter(
        organization_id=encounter.organization_id, audit_id=encounter.audit_id
    )
    prev = (
        qs.filter(external_id__lt=encounter.external_id)
        .order_by("-external_id")
        .only("public_id", "external_id")
        .first()
    )
    nxt = (
        qs.filter(external_id__gt=encounter.external_id)
        .order_by("external_id")
        .only("public_id", "external_id")
        .first()
    )
    return prev, nxt


def code_lines(*, encounter: Encounter) -> tuple[list[CodeLine], list[CodeLine]]:
    rows = list(CodeLine.objects.filter(encounter=encounter).order_by("version", "group", "seq"))
    group_order = {"DX": 0, "PX": 1, "LINE": 2}
    rows.sort(key=lambda r: (group_order[r.group], r.seq))
    return (
        [r for r in rows if r.version == CodeLine.Version.ORIGINAL],
        [r for r in rows if r.version == CodeLine.Version.AUDITED],
    )


def _sum_fields() -> dict[str, Any]:
    def as_int(field: str) -> Sum:
        return Sum(Case(When(**{field: True}, then=1), default=0, output_field=IntegerField()))

    aggregates: dict[str, Any] = {
        "encounters": Count("pk"),
        "clean_encounters": Sum(
            Case(When(finding_count=0, then=1), default=0, output_field=IntegerField())
        ),
        "poa_checked": Sum("poa_checked"),
        "poa_changed": Sum("poa_changed"),
        "em_overcoded": Sum("em_overcoded"),
        "em_undercoded": Sum("em_undercoded"),
        "financial_impact": Sum("financial_impact"),
    }
    for flag in ("pdx_counted", "pdx_same", "drg_counted", "drg_changed", "em_counted", "em_same"):
        aggregates[flag] = as_int(flag)
    for group in TALLY_GROUPS:
        for part in TALLY_PARTS:
            aggregates[f"{group}_{part}"] = Sum(f"{group}_{part}")
    return aggregates


def score_totals(encounters: QuerySet[Encounter]) -> ScoreTotals:
    """The pooled §6 counts of any set of encounters, in one SQL aggregate."""
    return totals_from_sums(encounters.aggregate(**_sum_fields()))


def score_totals_by(encounters: QuerySet[Encounter], field: str) -> list[tuple[Any, ScoreTotals]]:
    """The pooled §6 counts per value of `field` (e.g. "cycle"), in one grouped query,
    sorted by that value."""
    rows = encounters.order_by().values(field).annotate(**_sum_fields()).order_by(field)
    return [(row[field], totals_from_sums(row)) for row in rows]


def scored_encounters(*, organization: Organization, audit: Audit) -> QuerySet[Encounter]:
    """The audit's encounters that count in its scores: the reviewed ones (an encounter
    not yet reviewed, DESIGN §9, counts in no score or metric)."""
    return Encounter.objects.filter(organization=organization, audit=audit, reviewed=True)


def audit_not_reviewed_count(*, organization: Organization, audit: Audit) -> int:
    """How many of the audit's encounters remain not reviewed (left out of its scores)."""
    return Encounter.objects.filter(organization=organization, audit=audit, reviewed=False).count()


def audit_scores(*, organization: Organization, audit: Audit) -> Scores:
    return scores(score_totals(scored_encounters(organization=organization, audit=audit)))


def audit_scores_by(
    *, organization: Organization, audit: Audit, dimension: str
) -> list[tuple[str, Scores]]:
    """Scores per value of a dimension (setting, coder__name, facility__name), pooled over
    the reviewed encounters."""
    qs = scored_encounters(organization=organization, audit=audit)
    rows = qs.values(dimension).annotate(**_sum_fields()).order_by(dimension)
    return [(str(row[dimension] or "—"), scores(totals_from_sums(row))) for row in rows]


def finding_counts(*, organization: Organization, audit: Audit) -> list[dict[str, Any]]:
    """Findings by kind and pattern key, most frequent first."""
    rows = (
        Finding.objects.filter(organization=organization, encounter__audit=audit, active=True)
        .values("kind", "pattern")
        .annotate(n=Count("pk"), encounters=Count("encounter", distinct=True))
        .order_by("-n", "pattern")
    )
    return [dict(row) for row in rows]


def finding_kind_counts(*, organization: Organization, audit: Audit) -> list[dict[str, Any]]:
    rows = (
        Finding.objects.filter(organization=organization, encounter__audit=audit, active=True)
        .values("kind")
        .annotate(n=Count("pk"))
        .order_by("-n", "kind")
    )
    return [dict(row) for row in rows]


def weighted_kind_counts(
    *, organization: Organization, audit: Audit, groups: Iterable[str]
) -> dict[str, int]:
    """Active findings per kind in the counted `groups` plus the encounter-level kinds
    (DRG, disposition: group "-"), for the weighted error score."""
    rows = (
        Finding.objects.filter(
            organization=organization,
            encounter__audit=audit,
            active=True,
            group__in=[*groups, "-"],
        )
        .values("kind")
        .annotate(n=Count("pk"))
        .order_by("kind")
    )
    return {row["kind"]: row["n"] for row in rows}


def encounter_scores(*, encounter: Encounter) -> Scores:
    """The §6 scores of one encounter, from its stored counts (no query)."""
    sums: dict[str, Any] = {
        "encounters": 1,
        "clean_encounters": int(encounter.finding_count == 0),
        "financial_impact": encounter.financial_impact,
    }
    for name in ("poa_checked", "poa_changed", "em_overcoded", "em_undercoded"):
        sums[name] = getattr(encounter, name)
    for flag in ("pdx_counted", "pdx_same", "drg_counted", "drg_changed", "em_counted", "em_same"):
        sums[flag] = int(getattr(encounter, flag))
    for group in TALLY_GROUPS:
        for part in TALLY_PARTS:
            sums[f"{group}_{part}"] = getattr(encounter, f"{group}_{part}")
    return scores(totals_from_sums(sums))


def audit_coder_names(*, organization: Organization, audit: Audit) -> list[tuple[str, str, bool]]:
    """The coders of an audit's encounters for the encounter list's filter: roster name
    (the filter's value), the label people read, and whether the entry is retired."""
    ids = (
        Encounter.objects.filter(organization=organization, audit=audit, coder__isnull=False)
        .values("coder_id")
        .order_by()
    )
    coders = Coder.objects.filter(organization=organization, pk__in=ids).select_related("user")
    return [(c.name, c.label, c.retired_at is not None) for c in coders.order_by("name")]


@dataclass(frozen=True, slots=True)
class DrgFacts:
    drg: str
    title: str | None
    weight: Decimal | None


def encounter_drgs(*, encounter: Encounter) -> tuple[DrgFacts | None, DrgFacts | None]:
    """The original and audited MS-DRG with title and relative weight (FY of discharge)."""
    table = pricing()

    def facts(drg: str) -> DrgFacts | None:
        if not drg:
            return None
        on = encounter.discharge_date
        return DrgFacts(drg=drg, title=table.drg_title(drg, on), weight=table.weight(drg, on))

    return facts(encounter.original_drg), facts(encounter.audited_drg)


# --------------------------------------------------------------------------- coding knowledge


def _engine_encounter(encounter: Encounter, lines: Iterable[CodeLine] | None) -> EngineEncounter:
    rows = list(CodeLine.objects.filter(encounter=encounter)) if lines is None else list(lines)
    return engine_encounter(encounter, rows)


def encounter_groupings(
    *, encounter: Encounter, lines: Iterable[CodeLine] | None = None
) -> tuple[DrgResult | None, DrgResult | None]:
    """The MS-DRG grouping of each version as it stands (original, audited), for the DRG
    panel: MDC, title, initial vs final DRG, CC/MCC of each secondary, OR procedures.

    Read only: the encounter's stored `original_drg` / `audited_drg` stay the record for
    lists and summaries (the original DRG there is the billed one when given). None for a
    version outside inpatient or when no grouper version covers the discharge date.
    """
    if encounter.setting != Encounter.Setting.INPATIENT:
        return None, None
    engine = _engine_encounter(encounter, lines)
    knowledge_grouper = grouper()
    return (
        knowledge_grouper.group(drg_claim(engine, "original")),
        knowledge_grouper.group(drg_claim(engine, "audited")),
    )


def encounter_code_issues(
    *, encounter: Encounter, lines: Iterable[CodeLine] | None = None
) -> dict[tuple[str, str, int], list[CodeIssue]]:
    """What the code sets say about each line, by (version, system, seq)."""
    issues: dict[tuple[str, str, int], list[CodeIssue]] = {}
    for issue in checker().check(_engine_encounter(encounter, lines)):
        issues.setdefault((issue.version, issue.system, issue.seq), []).append(issue)
    return issues


def code_descriptions(
    *, encounter: Encounter, lines: Iterable[CodeLine]
) -> dict[tuple[str, str], str]:
    """The description of each (system, code) of the lines, as of the discharge date.

    ICD-10-CM, ICD-10-PCS and HCPCS come from the shipped code sets; CPT only from the
    organization's licensed file (one query), never from anything shipped.
    """
    out: dict[tuple[str, str], str] = {}
    cpt: set[str] = set()
    known = catalog()
    for line in lines:
        key = (line.system, line.code)
        if key in out:
            continue
        if line.system == CodeLine.System.CPT:
            cpt.add(line.code)
            continue
        info = known.describe(line.system, line.code, on=encounter.discharge_date)
        if info is not None and info.description:
            out[key] = info.description
    if cpt:
        licensed = cpt_descriptions(organization=encounter.organization, codes=cpt)
        for code, text in licensed.items():
            out[(CodeLine.System.CPT, code)] = text
    return out
