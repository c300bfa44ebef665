"""Writes of the audits area: import, edits of the audited version, derivation, notes.

Every function is keyword-only, runs in one transaction and writes its audit-log entry.
Findings and scores are always derived from the two versions by the engine: no service
writes a finding's kind or codes by hand.
"""

from __future__ import annotations

import operator
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Facility,
    Organization,
    Payer,
    Provider,
    ServiceLine,
    User,
)
from auditcoach.accounts.services import roster_get_or_create_many
from auditcoach.auditlog.services import log_write
from auditcoach.audits import score_settings
from auditcoach.audits.bulk import RowWriter
from auditcoach.audits.conversions import (
    DERIVED_FIELDS,
    code_line_row,
    derived_fields,
    engine_encounter,
    finding_row,
)
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding, ImportJob, RootCause
from auditcoach.audits.signals import audit_imported
from auditcoach.codesets.knowledge import checker, grouper, pricing
from auditcoach.engine import model as em
from auditcoach.engine.codes import format_modifiers
from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.em import Leveling
from auditcoach.engine.workbook import Workbook, WorkbookError, read_workbook

BATCH = 2000
ProgressFn = Callable[[int, int], None]


class ConflictError(Exception):
    """The encounter changed since the editor loaded it (optimistic lock)."""


def encounter_derive(encounter: em.Encounter, *, base_rate: Decimal | None) -> em.EncounterResult:
    """Run the engine with the coding knowledge of the discharge date."""
    return compare_encounter(
        encounter, grouper=grouper(), pricing=pricing(), base_rate=base_rate, checker=checker()
    )


# The values of each row `audit_import` writes, in the order it builds them (see `bulk`):
# everything else comes from `fixed`, the field's default or the import's time.
ENCOUNTER_FIELDS = (
    "external_id", "setting", "discharge_date", "age", "sex", "discharge_disposition",
    "audited_disposition", "billed_drg", "facility_id", "service_line_id", "provider_id",
    "coder_id", "auditor_id", "auditor_name", "payer", "cycle", *DERIVED_FIELDS,
)  # fmt: skip
CODE_LINE_FIELDS = (
    "organization_id", "encounter_id", "version", "system", "group", "seq", "code", "poa",
    "modifiers", "units",
)  # fmt: skip
FINDING_FIELDS = (
    "organization_id", "encounter_id", "position", "kind", "group", "original_code",
    "audited_code", "principal", "pattern", "em_delta", "original_value", "audited_value",
    "original_rw", "audited_rw",
)  # fmt: skip


def _encounter_ids(audit: Audit, *, after: int) -> tuple[dict[str, int], int]:
    """external id → pk of the audit's encounters written since pk `after`, and the last pk.

    The audit is new in the import's transaction, so no one else writes its encounters; the
    rows of one insert get increasing pks after those of the previous one.
    """
    ids = dict(Encounter.objects.filter(audit=audit, pk__gt=after).values_list("external_id", "pk"))
    return ids, max(ids.values(), default=after)


def _audit_type(settings: set[str]) -> str:
    return settings.pop() if len(settings) == 1 else Audit.Type.MIXED


@transaction.atomic
def audit_import(
    *,
    organization: Organization,
    workbook: Workbook,
    name: str,
    cycle: str | None = None,
    released: bool = False,
    actor: User | None = None,
    progress: ProgressFn | None = None,
) -> Audit:
    """A validated workbook → one audit with encounters, both versions and derived findings.

    Atomic: on any error nothing is left behind. `released` marks the findings released
    (historical audits brought over from spreadsheets). `cycle` wins over the workbook's
    `audit_cycle` column for every encounter; the audit is labelled with the latest of its
    encounters' cycles, and an encounter without one takes the audit's.
    """
    encounters = workbook.encounters
    cycles = {e.audit_cycle for e in encounters if e.audit_cycle}
    audit_cycle = cycle or (sorted(cycles)[-1] if cycles else "")
    now = timezone.now()
    dates = [e.discharge_date for e in encounters]
    audit = Audit.objects.create(
        organization=organization,
        name=name,
        audit_type=_audit_type({e.setting for e in encounters}),
        cycle=audit_cycle,
        period_start=min(dates) if dates else None,
        period_end=max(dates) if dates else None,
        status=Audit.Status.RELEASED if released else Audit.Status.IN_REVIEW,
        released_at=now if released else None,
        scoring_settings=organization_scoring_settings(organization),
        source_name=workbook.source,
        created_by=actor,
    )

    def names(attr: str) -> set[str]:
        return {getattr(e, attr) for e in encounters if getattr(e, attr)}

    facilities = roster_get_or_create_many(
        organization=organization, model=Facility, names=names("facility")
    )
    service_lines = roster_get_or_create_many(
        organization=organization, model=ServiceLine, names=names("service_line")
    )
    providers = roster_get_or_create_many(
        organization=organization, model=Provider, names=names("provider")
    )
    coders = roster_get_or_create_many(organization=organization, model=Coder, names=names("coder"))
    roster_get_or_create_many(organization=organization, model=Payer, names=names("payer"))
    auditor_entries = roster_get_or_create_many(
        organization=organization, model=Auditor, names=names("auditor")
    )
    # An encounter's auditor login: the roster entry's linked user, else a member whose
    # username is the workbook's name.
    auditors = {
        u.username: u
        for u in User.objects.filter(
            memberships__organization=organization, username__in=names("auditor")
        )
    }
    linked = {entry.user_id: name for name, entry in auditor_entries.items() if entry.user_id}
    for user in User.objects.filter(pk__in=linked):
        auditors[linked[user.pk]] = user

    # Rows go to the database as plain tuples (see `bulk`): model objects and `bulk_create`
    # cost ten times what the database needs to store them (bench/README.md, import).
    encounter_writer = RowWriter(
        Encounter,
        ENCOUNTER_FIELDS,
        now=now,
        fixed={
            "organization": organization.pk,
            "audit": audit.pk,
            "released_at": now if released else None,
            "review_status": Encounter.ReviewStatus.DONE
            if released
            else Encounter.ReviewStatus.TO_DO,
        },
    )
    line_writer = RowWriter(CodeLine, CODE_LINE_FIELDS, now=now)
    finding_writer = RowWriter(
        Finding,
        FINDING_FIELDS,
        now=now,
        fixed={"status": Finding.Status.RELEASED, "released_at": now} if released else None,
    )
    derived = operator.itemgetter(*DERIVED_FIELDS)
    org_rate = score_settings.default_base_rate_of(audit.scoring_settings)
    org_id = organization.pk
    total = len(encounters)
    last_id = 0
    for start in range(0, total, BATCH):
        chunk = encounters[start : start + BATCH]
        rows: list[tuple[Any, ...]] = []
        results: list[em.EncounterResult] = []
        for e in chunk:
            facility = facilities.get(e.facility)
            rate = facility.base_rate if facility and facility.base_rate is not None else None
            result = encounter_derive(e, base_rate=rate if rate is not None else org_rate)
            results.append(result)
            service_line = service_lines.get(e.service_line)
            provider = providers.get(e.provider)
            coder = coders.get(e.coder)
            auditor = auditors.get(e.auditor)
            rows.append(
                (
                    e.encounter_id,
                    e.setting,
                    e.discharge_date,
                    e.age,
                    e.sex or "",
                    e.discharge_disposition or "",
                    e.audited_disposition or "",
                    e.billed_drg or "",
                    facility.pk if facility else None,
                    service_line.pk if service_line else None,
                    provider.pk if provider else None,
                    coder.pk if coder else None,
                    auditor.pk if auditor else None,
                    e.auditor,
                    e.payer,
                    cycle or e.audit_cycle or audit_cycle,
                    *derived(derived_fields(result)),
                )
            )
        encounter_writer.insert(rows)
        ids, last_id = _encounter_ids(audit, after=last_id)
        lines: list[tuple[Any, ...]] = []
        findings: list[tuple[Any, ...]] = []
        for e, result in zip(chunk, results, strict=True):
            encounter_id = ids[e.encounter_id]
            for version, versioned in (("original", e.original), ("audited", e.audited)):
                lines += [
                    (
                        org_id,
                        encounter_id,
                        version,
                        x.system,
                        x.group,
                        x.seq,
                        x.code,
                        x.poa,
                        format_modifiers(x.modifiers),
                        x.units,
                    )
                    for x in versioned
                ]
            findings += [
                (
                    org_id,
                    encounter_id,
                    position,
                    f.kind,
                    f.group,
                    f.original or "",
                    f.audited or "",
                    f.principal,
                    f.pattern,
                    f.em_delta,
                    f.original_value or "",
                    f.audited_value or "",
                    f.original_rw,
                    f.audited_rw,
                )
                for position, f in enumerate(result.findings)
            ]
        line_writer.insert(lines)
        finding_writer.insert(findings)
        if progress:
            progress(min(start + BATCH, total), total)

    log_write(
        organization=organization,
        actor=actor,
        action="audit.import",
        obj_type="audit",
        obj_id=str(audit.public_id),
        changes={
            "name": name,
            "cycle": audit_cycle,
            "encounters": total,
            "code_lines": workbook.code_rows,
            "released": released,
            "source": workbook.source,
        },
    )
    transaction.on_commit(
        lambda: audit_imported.send(sender=Audit, audit=audit, actor=actor), robust=True
    )
    return audit


def organization_scoring_settings(organization: Organization) -> dict[str, Any]:
    """The score settings a new audit stores (DESIGN §6): the organization's headline,
    counted groups and weights over the built-in defaults, and the default base rate in
    force. The audit keeps this copy, so later changes of the settings never rescore it."""
    return score_settings.merged(
        organization.score_settings, default_base_rate=organization.default_base_rate
    )


def encounter_base_rate(encounter: Encounter) -> Decimal | None:
    """The base rate for an encounter's Δ$: its facility's, else the organization default
    stored with its audit at import; None leaves the national standardized amount."""
    if encounter.facility_id and encounter.facility and encounter.facility.base_rate is not None:
        return encounter.facility.base_rate
    return score_settings.default_base_rate_of(encounter.audit.scoring_settings)


def _sync_findings(encounter: Encounter, result: em.EncounterResult) -> dict[str, list[str]]:
    """Replace the derived findings, keeping the auditor's notes on findings that survive.

    A finding survives when the new derivation has one of the same kind, group and codes.
    A released (non-draft) finding that no longer arises is kept inactive, never deleted:
    it is the coaching record (e.g. an overturned dispute).
    """
    existing = list(Finding.objects.filter(encounter=encounter, active=True))
    by_identity: dict[tuple[str, str, str | None, str | None], list[Finding]] = {}
    for f in existing:
        by_identity.setdefault(f.identity, []).append(f)
    keep: list[Finding] = []
    new: list[Finding] = []
    for position, derived in enumerate(result.findings):
        matches = by_identity.get(derived.identity)
        row = finding_row(derived, encounter=encounter, position=position)
        if matches:
            old = matches.pop(0)
            for field in ("position", "principal", "pattern", "em_delta", "original_value",
                          "audited_value", "original_rw", "audited_rw"):  # fmt: skip
                setattr(old, field, getattr(row, field))
            keep.append(old)
        else:
            new.append(row)
    gone = [f for group in by_identity.values() for f in group]
    if gone:
        gone_ids = [f.pk for f in gone]
        Finding.objects.filter(pk__in=gone_ids, status=Finding.Status.DRAFT).delete()
        Finding.objects.filter(pk__in=gone_ids).exclude(status=Finding.Status.DRAFT).update(
            active=False
        )
    if keep:
        Finding.objects.bulk_update(
            keep,
            ["position", "principal", "pattern", "em_delta", "original_value", "audited_value",
             "original_rw", "audited_rw"],
        )  # fmt: skip
    Finding.objects.bulk_create(new)
    return {"added": [str(f) for f in new], "removed": [str(f) for f in gone]}


def encounter_recompute(*, encounter: Encounter) -> em.EncounterResult:
    """Derive findings and counts again from the stored versions."""
    lines = list(CodeLine.objects.filter(encounter=encounter))
    result = encounter_derive(
        engine_encounter(encounter, lines), base_rate=encounter_base_rate(encounter)
    )
    for field, value in derived_fields(result).items():
        setattr(encounter, field, value)
    encounter.save(update_fields=[*DERIVED_FIELDS, "updated_at"])
    _sync_findings(encounter, result)
    return result


@dataclass(frozen=True, slots=True)
class AuditedLine:
    """One line of the audited version as the workspace submits it."""

    system: str
    code: str
    poa: str = ""
    modifiers: frozenset[str] = frozenset()
    units: int = 1


@transaction.atomic
def encounter_audited_update(
    *,
    encounter: Encounter,
    lock_version: int,
    lines: Sequence[AuditedLine],
    audited_disposition: str | None = None,
    actor: User,
) -> Encounter:
    """Replace the audited version (seq follows the order given within each group).

    Raises ConflictError when someone saved the encounter since `lock_version` was read.
    """
    bumped = Encounter.objects.filter(pk=encounter.pk, lock_version=lock_version).update(
        lock_version=F("lock_version") + 1, review_status=Encounter.ReviewStatus.IN_PROGRESS
    )
    if not bumped:
        raise ConflictError(
            "Someone else saved this encounter while you were editing it. Your change was "
            "not applied; the page now shows their version."
        )
    encounter.refresh_from_db()
    before = list(
        CodeLine.objects.filter(encounter=encounter, version=CodeLine.Version.AUDITED).values_list(
            "system", "seq", "code", "poa", "modifiers", "units"
        )
    )
    CodeLine.objects.filter(encounter=encounter, version=CodeLine.Version.AUDITED).delete()
    seqs: dict[str, int] = {}
    rows = []
    for line in lines:
        group = em.SYSTEM_GROUP[line.system]
        seqs[group] = seqs.get(group, 0) + 1
        rows.append(
            code_line_row(
                em.CodeLine(
                    line.system,  # type: ignore[arg-type]  # validated by the form
                    seqs[group],
                    line.code,
                    line.poa,
                    line.modifiers,
                    line.units,
                ),
                encounter=encounter,
                version=CodeLine.Version.AUDITED,
            )
        )
    CodeLine.objects.bulk_create(rows)
    changes: dict[str, Any] = {"before": before, "after": [
        (r.system, r.seq, r.code, r.poa, r.modifiers, r.units) for r in rows
    ]}  # fmt: skip
    if audited_disposition is not None and audited_disposition != encounter.audited_disposition:
        changes["audited_disposition"] = [encounter.audited_disposition, audited_disposition]
        encounter.audited_disposition = audited_disposition
        encounter.save(update_fields=["audited_disposition"])
    result = encounter_recompute(encounter=encounter)
    changes["findings"] = len(result.findings)
    log_write(
        organization=encounter.organization,
        actor=actor,
        action="encounter.audited_update",
        obj_type="encounter",
        obj_id=str(encounter.public_id),
        changes=changes,
    )
    return encounter


@transaction.atomic
def encounter_review_status_set(*, encounter: Encounter, status: str, actor: User) -> Encounter:
    old = encounter.review_status
    encounter.review_status = status
    encounter.save(update_fields=["review_status", "updated_at"])
    log_write(
        organization=encounter.organization,
        actor=actor,
        action="encounter.review_status",
        obj_type="encounter",
        obj_id=str(encounter.public_id),
        changes={"review_status": [old, status]},
    )
    return encounter


@transaction.atomic
def finding_annotate(
    *,
    finding: Finding,
    error_category: str,
    root_cause: str,
    rationale: str,
    actor: User,
) -> Finding:
    """What the auditor says about a finding: category, root cause (§7) and rationale."""
    if root_cause and root_cause not in RootCause.values:
        raise ValueError(f"unknown root cause {root_cause!r}")
    changes = {}
    for field, value in (
        ("error_category", error_category),
        ("root_cause", root_cause),
        ("rationale", rationale),
    ):
        if getattr(finding, field) != value:
            changes[field] = [getattr(finding, field), value]
            setattr(finding, field, value)
    if changes:
        finding.save(update_fields=[*changes, "updated_at"])
        log_write(
            organization=finding.encounter.organization,
            actor=actor,
            action="finding.annotate",
            obj_type="finding",
            obj_id=str(finding.public_id),
            changes=changes,
        )
    return finding


@transaction.atomic
def finding_em_level_set(
    *, finding: Finding, leveling: Leveling, append_rationale: bool, actor: User
) -> Finding:
    """Store the auditor's office E/M leveling on a finding (with the code it supports) and,
    when asked, add its sentence to the rationale through `finding_annotate`. The sentence
    is not added twice."""
    stored = leveling.as_dict()
    old = finding.em_leveling or {}
    if old != stored:
        finding.em_leveling = stored
        finding.save(update_fields=["em_leveling", "updated_at"])
        log_write(
            organization=finding.encounter.organization,
            actor=actor,
            action="finding.em_level",
            obj_type="finding",
            obj_id=str(finding.public_id),
            changes={"em_leveling": [old, stored]},
        )
    text = leveling.rationale()
    if append_rationale and text and text not in finding.rationale:
        finding_annotate(
            finding=finding,
            error_category=finding.error_category,
            root_cause=finding.root_cause,
            rationale=f"{finding.rationale}\n{text}".strip(),
            actor=actor,
        )
    return finding


def import_progress_key(job: ImportJob) -> str:
    return f"import-progress:{job.public_id}"


def import_progress(job: ImportJob) -> tuple[int, int] | None:
    """(encounters written, total) while the job runs; None before it starts writing."""
    value = cache.get(import_progress_key(job))
    return value if isinstance(value, tuple) else None


def import_job_create(
    *,
    organization: Organization,
    path: Path,
    workbook: Workbook,
    name: str,
    cycle: str,
    released: bool,
    actor: User | None,
) -> ImportJob:
    """Queue the import of an uploaded, already validated workbook (see `tasks`)."""
    from auditcoach.audits.tasks import import_job_run

    with transaction.atomic():
        job = ImportJob.objects.create(
            organization=organization,
            name=name,
            cycle=cycle,
            released=released,
            source_name=workbook.source,
            path=str(path),
            encounters=len(workbook.encounters),
            code_lines=workbook.code_rows,
            created_by=actor,
        )
        log_write(
            organization=organization,
            actor=actor,
            action="import.queue",
            obj_type="import_job",
            obj_id=str(job.public_id),
            changes={"name": name, "encounters": job.encounters, "source": workbook.source},
        )
        transaction.on_commit(lambda: import_job_run.enqueue(job_id=job.pk))
    return job


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one queued import: re-read the workbook, import it atomically, record the outcome.

    The uploaded files are removed afterwards, whatever happened.
    """
    job = ImportJob.objects.select_related("organization", "created_by").get(pk=job_id)
    if job.status != ImportJob.Status.QUEUED:
        return job  # already run (a retried task must not import twice)
    job.status = ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    key = import_progress_key(job)

    def progress(done: int, total: int) -> None:
        cache.set(key, (done, total), timeout=24 * 3600)

    try:
        workbook = read_workbook(Path(job.path))
        audit = audit_import(
            organization=job.organization,
            workbook=workbook,
            name=job.name,
            cycle=job.cycle or None,
            released=job.released,
            actor=job.created_by,
            progress=progress,
        )
    except WorkbookError as exc:
        job.status, job.error = ImportJob.Status.FAILED, str(exc)
    except Exception as exc:  # the job records any failure; nothing was written (atomic)
        job.status = ImportJob.Status.FAILED
        job.error = f"The import failed and nothing was written: {exc}"
    else:
        job.status, job.audit = ImportJob.Status.DONE, audit
    finally:
        cache.delete(key)
        folder = Path(job.path).parent
        if folder.name.startswith("upload-"):
            shutil.rmtree(folder, ignore_errors=True)
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "audit", "finished_at"])
    return job


__all__ = [
    "AuditedLine",
    "ConflictError",
    "audit_import",
    "encounter_audited_update",
    "encounter_recompute",
    "encounter_review_status_set",
    "finding_annotate",
    "finding_em_level_set",
    "import_job_create",
    "import_job_run",
]
