"""Writes of the audits area: import, edits of the audited version, derivation, notes.

Every function is keyword-only, runs in one transaction and writes its audit-log entry.
Findings and scores are always derived from the two versions by the engine: no service
writes a finding's kind or codes by hand.
"""

from __future__ import annotations

import operator
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, FileField, Q
from django.http import HttpRequest
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

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
from auditcoach.audits.leases import Holder, import_lease, lease_alive, lease_seconds
from auditcoach.audits.models import (
    Audit,
    CodeLine,
    Encounter,
    Finding,
    ImportJob,
    ImportMapping,
    RootCause,
)
from auditcoach.audits.selectors import (
    AuditFootprint,
    DuplicateEncounter,
    audit_ever_released,
    audit_footprint,
    duplicate_encounters,
)
from auditcoach.audits.signals import audit_imported
from auditcoach.audits.uploads import read_upload, workbook_limits
from auditcoach.coaching.models import Attachment, Comment, FindingEvent
from auditcoach.codesets.knowledge import checker, grouper, pricing
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.engine import model as em
from auditcoach.engine.codes import format_modifiers
from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.em import Leveling
from auditcoach.engine.workbook import MAX_LISTED, Workbook, WorkbookError
from auditcoach.intake.mapping import (
    MappingSpec,
    columns_key,
    read_mapped,
    spec_from_dict,
    spec_to_dict,
)
from auditcoach.library.models import FindingReference
from auditcoach.ops.dblock import is_locked, when_unlocked, with_backoff
from auditcoach.overreads.models import CalibrationSet, Overread, OverreadLine

BATCH = 2000
ProgressFn = Callable[[int, int], None]


NOTES_CONFLICT_MESSAGE = (
    "Someone else changed this finding's notes while you were editing them. Yours were not "
    "saved: their version is shown, with your text beside it to copy from."
)


class NotesConflictError(Exception):
    """A finding's notes were saved by someone else since the editor loaded them."""


class ConflictError(Exception):
    """The encounter changed since the editor loaded it (optimistic lock)."""


CONFLICT_MESSAGE = (
    "Someone else saved this encounter while you were editing it. Your change was "
    "not applied; the page now shows their version."
)


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
    "coder_id", "auditor_id", "auditor_name", "payer", "cycle", "reviewed", "released_at",
    "review_status", *DERIVED_FIELDS,
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


class ImportBusy(Exception):
    """Another import is writing: into the same organization on PostgreSQL, or anywhere on
    SQLite, whose one write lock it holds. Nothing was written."""

    def __init__(self) -> None:
        super().__init__(IMPORT_BUSY_MESSAGE)


IMPORT_BUSY_MESSAGE = (
    "Another import is running, and imports into one organization run one at a time (on "
    "SQLite, one at a time in the whole installation). Nothing was written; run this one "
    "again when that import has finished."
)
_IMPORT_LOCK_NAMESPACE = 0x41435F49  # "AC_I": pg advisory locks of imports, per organization


@contextmanager
def _one_import_at_a_time(organization: Organization) -> Iterator[None]:
    """The import's transaction, taken only when no other import holds the organization:
    a PostgreSQL advisory lock for the transaction (so concurrent imports neither race on
    the duplicate check nor on new roster names), SQLite's write lock (BEGIN IMMEDIATE,
    which waits the busy timeout). Raises ImportBusy when it is taken."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_try_advisory_xact_lock(%s, %s)",
                        [_IMPORT_LOCK_NAMESPACE, organization.pk % 2**31],
                    )
                    (taken,) = cursor.fetchone()
                if not taken:
                    raise ImportBusy
            yield
    except OperationalError as exc:
        if is_locked(exc):
            raise ImportBusy from exc
        raise


def audit_import(
    *,
    organization: Organization,
    workbook: Workbook,
    name: str,
    cycle: str | None = None,
    released: bool = False,
    actor: User | None = None,
    progress: ProgressFn | None = None,
    before_commit: Callable[[Audit], None] | None = None,
) -> Audit:
    """A validated workbook → one audit with encounters, both versions and derived findings.

    Atomic: on any error nothing is left behind. `released` marks the findings released
    (historical audits brought over from spreadsheets); an encounter not yet reviewed
    (original lines only, DESIGN §9) is stored `reviewed=False`, with its audited copy
    and no findings, and is never released. `cycle` wins over the workbook's
    `audit_cycle` column for every encounter; the audit is labelled with the latest of its
    encounters' cycles, and an encounter without one takes the audit's. `before_commit`
    runs last inside the transaction (an import job records its outcome there, so the job
    and the audit commit together). Raises ImportBusy while another import holds the
    organization (see `_one_import_at_a_time`).
    """
    with _one_import_at_a_time(organization):
        audit = _audit_import(
            organization=organization,
            workbook=workbook,
            name=name,
            cycle=cycle,
            released=released,
            actor=actor,
            progress=progress,
        )
        if before_commit is not None:
            before_commit(audit)
    return audit


def _audit_import(
    *,
    organization: Organization,
    workbook: Workbook,
    name: str,
    cycle: str | None,
    released: bool,
    actor: User | None,
    progress: ProgressFn | None,
) -> Audit:
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
        fixed={"organization": organization.pk, "audit": audit.pk},
    )
    # (released, review status) of a reviewed and of a not-yet-reviewed encounter.
    done = Encounter.ReviewStatus.DONE if released else Encounter.ReviewStatus.TO_DO
    states = {True: (now if released else None, done), False: (None, Encounter.ReviewStatus.TO_DO)}
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
            rate = facility.base_rate if facility else None
            result = encounter_derive(e, base_rate=org_rate if rate is None else rate)
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
                    e.reviewed,
                    *states[e.reviewed],
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
            "not_reviewed": sum(1 for e in encounters if not e.reviewed),
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
    An encounter not yet reviewed (DESIGN §9) becomes reviewed by this edit, in the same
    transaction: from now on its findings and scores count.
    """
    bumped = Encounter.objects.filter(pk=encounter.pk, lock_version=lock_version).update(
        lock_version=F("lock_version") + 1, review_status=Encounter.ReviewStatus.IN_PROGRESS
    )
    if not bumped:
        raise ConflictError(CONFLICT_MESSAGE)
    encounter.refresh_from_db()
    was_reviewed = encounter.reviewed
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
    if was_reviewed:
        result = encounter_recompute(encounter=encounter)
    else:
        result = _become_reviewed(encounter, actor)
        changes["reviewed"] = [False, True]
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


def _become_reviewed(encounter: Encounter, actor: User) -> em.EncounterResult:
    """A not-yet-reviewed encounter becomes reviewed (DESIGN §9), the one way every path
    does it (an edit, Mark reviewed, review status done): stamped, derived again (its
    findings and scores count from now on) and, in an audit already released, released
    when nothing waits for the coder (`_release_if_settled`)."""
    encounter.reviewed = True
    encounter.reviewed_by = actor
    encounter.reviewed_at = timezone.now()
    encounter.save(update_fields=["reviewed", "reviewed_by", "reviewed_at", "updated_at"])
    result = encounter_recompute(encounter=encounter)
    _release_if_settled(encounter)
    return result


def _release_if_settled(encounter: Encounter) -> None:
    """After a late review (DESIGN §9): an encounter of an audit already released, left
    unreleased while it was not reviewed, is released now when it has no draft finding
    (nothing the coder must be shown first); with drafts it waits for their release."""
    if encounter.released_at is not None or encounter.audit.status not in {
        Audit.Status.RELEASED,
        Audit.Status.CLOSED,
    }:
        return
    if Finding.objects.filter(
        encounter=encounter, status=Finding.Status.DRAFT, active=True
    ).exists():
        return
    encounter.released_at = timezone.now()
    encounter.save(update_fields=["released_at", "updated_at"])


@transaction.atomic
def encounter_mark_reviewed(*, encounter: Encounter, lock_version: int, actor: User) -> bool:
    """The auditor has looked at a not-yet-reviewed encounter (DESIGN §9) and keeps the
    coder's coding as it is: it becomes reviewed, is derived again (no change: a clean
    encounter, unless a billed DRG differs from the grouping) and counts from now on; its
    review status becomes done. Returns False when it was already reviewed (nothing done).

    Optimistic like every edit: raises ConflictError when someone saved the encounter
    since `lock_version` was read.
    """
    bumped = Encounter.objects.filter(
        pk=encounter.pk, lock_version=lock_version, reviewed=False
    ).update(lock_version=F("lock_version") + 1, review_status=Encounter.ReviewStatus.DONE)
    # Only the fields the update changed: the related rows loaded with it stay cached.
    encounter.refresh_from_db(fields=["lock_version", "reviewed", "review_status"])
    if not bumped:
        if encounter.reviewed and encounter.lock_version == lock_version:
            return False
        raise ConflictError(CONFLICT_MESSAGE)
    result = _become_reviewed(encounter, actor)
    log_write(
        organization=encounter.organization,
        actor=actor,
        action="encounter.mark_reviewed",
        obj_type="encounter",
        obj_id=str(encounter.public_id),
        changes={"reviewed": [False, True], "findings": len(result.findings)},
    )
    return True


@transaction.atomic
def encounter_review_status_set(*, encounter: Encounter, status: str, actor: User) -> Encounter:
    """The workflow status (to do, in progress, done). Done on an encounter not yet
    reviewed marks it reviewed too (as `encounter_mark_reviewed`), in this transaction."""
    old = encounter.review_status
    encounter.review_status = status
    encounter.save(update_fields=["review_status", "updated_at"])
    changes: dict[str, Any] = {"review_status": [old, status]}
    # Guarded by the row's own state, not the object's: a concurrent Mark reviewed wins once.
    if status == Encounter.ReviewStatus.DONE and Encounter.objects.filter(
        pk=encounter.pk, reviewed=False
    ).update(lock_version=F("lock_version") + 1):
        encounter.refresh_from_db(fields=["lock_version"])
        changes["reviewed"] = [False, True]
        changes["findings"] = len(_become_reviewed(encounter, actor).findings)
    log_write(
        organization=encounter.organization,
        actor=actor,
        action="encounter.review_status",
        obj_type="encounter",
        obj_id=str(encounter.public_id),
        changes=changes,
    )
    return encounter


def finding_notes_claim(*, finding: Finding, expected_version: int | None) -> None:
    """Lock the finding's notes for a change, refusing one made against an older version.

    Inside the caller's transaction: the row is locked, its stored `notes_version` compared
    with the one the editor's form carried (None: no check, for the services' own edits),
    and `finding.notes_version` set to the next number, which the caller saves with its
    change. Raises `NotesConflictError` when someone else saved in between.
    """
    current = (
        Finding.objects.select_for_update()
        .filter(pk=finding.pk)
        .values_list("notes_version", flat=True)
        .get()
    )
    if expected_version is not None and expected_version != current:
        raise NotesConflictError(NOTES_CONFLICT_MESSAGE)
    finding.notes_version = current + 1


@transaction.atomic
def finding_annotate(
    *,
    finding: Finding,
    error_category: str,
    root_cause: str,
    rationale: str,
    actor: User,
    expected_version: int | None = None,
) -> Finding:
    """What the auditor says about a finding: category, root cause (§7) and rationale.

    `expected_version` is the `notes_version` the editor saw; a stale one is refused with
    `NotesConflictError` and nothing is saved.
    """
    if root_cause and root_cause not in RootCause.values:
        raise ValueError(f"unknown root cause {root_cause!r}")
    finding_notes_claim(finding=finding, expected_version=expected_version)
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
        finding.save(update_fields=[*changes, "notes_version", "updated_at"])
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
    workbook: Workbook | None,
    name: str,
    cycle: str,
    released: bool,
    actor: User | None,
    duplicates: Sequence[DuplicateEncounter] = (),
    mapping: ImportMapping | None = None,
    request: HttpRequest | None = None,
) -> ImportJob:
    """Queue the import of an uploaded, already validated workbook (see `tasks`).

    With `mapping` (a saved column mapping made for the upload's columns) the file is a
    spreadsheet that the worker reads through it (`intake.mapping.read_mapped`).

    With `duplicates` (encounters another audit of the organization already has) the job
    waits instead, holding the first `DUPLICATES_SHOWN` of them, until `import_job_confirm`
    queues it or `import_job_cancel` drops it. Without a `workbook` (a large upload only
    saved and run through the zip guard) the job starts `checking`: the worker reads and
    validates the file first (`import_job_run`).
    """
    waiting = bool(duplicates)
    status = ImportJob.Status.WAITING if waiting else ImportJob.Status.QUEUED
    if workbook is None:
        status = ImportJob.Status.CHECKING
    source = workbook.source if workbook is not None else Path(path).name
    with transaction.atomic():
        job = ImportJob.objects.create(
            organization=organization,
            name=name,
            cycle=cycle,
            released=released,
            source_name=source[:255],
            path=str(path),
            encounters=len(workbook.encounters) if workbook is not None else 0,
            code_lines=workbook.code_rows if workbook is not None else 0,
            created_by=actor,
            status=status,
            duplicates=duplicates_summary(duplicates) if waiting else {},
            mapping=mapping.spec if mapping is not None else {},
            mapping_name=mapping.name if mapping is not None else "",
        )
        changes: dict[str, Any] = {
            "name": name,
            "encounters": job.encounters,
            "source": source,
        }
        if mapping is not None:
            changes["mapping"] = mapping.name
        if waiting:
            changes["duplicates"] = job.duplicates["count"]
        action = "import.hold" if waiting else "import.queue"
        if workbook is None:
            action = "import.check"
        log_write(
            organization=organization,
            actor=actor,
            action=action,
            obj_type="import_job",
            obj_id=str(job.public_id),
            changes=changes,
            request=request,
        )
        if not waiting:
            _enqueue_on_commit(job)
    return job


IMPORT_RACE_ATTEMPTS = 3
IMPORT_RACE_MESSAGE = (
    "Another import was writing the same new names (coders, facilities, payers…) or the same "
    "audit name at the same moment, so this import was rolled back and nothing was written. "
    "Try it again; if the audit name is taken, choose another."
)
DUPLICATES_SHOWN = 20
"""How many repeated encounters the upload's confirmation and `auditcoach import` list."""


def duplicates_summary(duplicates: Sequence[DuplicateEncounter]) -> dict[str, Any]:
    """{"count": distinct encounter ids repeated, "rows": the first DUPLICATES_SHOWN rows}."""
    return {
        "count": len({d.external_id for d in duplicates}),
        "rows": [d.as_dict() for d in duplicates[:DUPLICATES_SHOWN]],
    }


def _enqueue_on_commit(job: ImportJob) -> None:
    from auditcoach.audits.tasks import import_job_run

    job_id = job.pk
    transaction.on_commit(lambda: import_job_run.enqueue(job_id=job_id))


def _remove_upload(path: str) -> None:
    """Remove an upload's folder, only ever one of ours (MEDIA_ROOT/imports/upload-…)."""
    folder = Path(path).parent
    while folder.name and not folder.name.startswith("upload-"):
        folder = folder.parent  # a .zip's CSVs sit one folder down
    root = (Path(settings.MEDIA_ROOT) / "imports").resolve()
    if folder.name.startswith("upload-") and folder.resolve().parent == root:
        shutil.rmtree(folder, ignore_errors=True)


def _import_job_decide(
    job: ImportJob,
    *,
    to: str,
    action: str,
    actor: User,
    request: HttpRequest | None,
    **fields: Any,
) -> bool:
    """Move a waiting upload to `to` (in one UPDATE guarded by its state) and log `action`;
    False when it was no longer waiting (a second click, or the other decision first)."""
    waiting = [ImportJob.Status.WAITING]
    if to == ImportJob.Status.CANCELLED:  # an upload waiting for its mapping may be dropped too
        waiting.append(ImportJob.Status.MAPPING)
    moved = ImportJob.objects.filter(pk=job.pk, status__in=waiting).update(status=to, **fields)
    job.refresh_from_db()
    if moved:
        log_write(
            organization=job.organization,
            actor=actor,
            action=action,
            obj_type="import_job",
            obj_id=str(job.public_id),
            changes={"name": job.name, "duplicates": job.duplicates.get("count", 0)},
            request=request,
        )
    return bool(moved)


@transaction.atomic
def import_job_confirm(*, job: ImportJob, actor: User, request: HttpRequest | None = None) -> bool:
    """Import a waiting upload anyway; False when it was no longer waiting, so it is never
    queued twice."""
    if not _import_job_decide(
        job, to=ImportJob.Status.QUEUED, action="import.confirm", actor=actor, request=request
    ):
        return False
    _enqueue_on_commit(job)
    return True


@transaction.atomic
def import_job_stage(
    *,
    organization: Organization,
    path: Path,
    name: str,
    cycle: str,
    released: bool,
    actor: User,
    request: HttpRequest | None = None,
) -> ImportJob:
    """Keep an uploaded spreadsheet that is not a §9 workbook while its uploader maps its
    columns (the job waits in `mapping`; `import_job_map` goes on, `import_job_cancel`
    drops it)."""
    job = ImportJob.objects.create(
        organization=organization,
        name=name,
        cycle=cycle,
        released=released,
        source_name=Path(path).name[:255],
        path=str(path),
        created_by=actor,
        status=ImportJob.Status.MAPPING,
    )
    log_write(
        organization=organization,
        actor=actor,
        action="import.stage",
        obj_type="import_job",
        obj_id=str(job.public_id),
        changes={"name": name, "source": job.source_name},
        request=request,
    )
    return job


@transaction.atomic
def import_job_map(
    *,
    job: ImportJob,
    spec: MappingSpec,
    workbook: Workbook | None,
    save_as: str,
    actor: User,
    duplicates: Sequence[DuplicateEncounter] = (),
    request: HttpRequest | None = None,
) -> bool:
    """Go on with a spreadsheet waiting for its mapping: read through `spec` (already read
    and validated into `workbook`, or None for a large file the worker checks), saving the
    mapping as `save_as` when a name is given. Queued, or waiting on `duplicates`, as a
    workbook upload is. False (nothing changed) when the job no longer waits for a mapping."""
    still = ImportJob.objects.select_for_update().filter(pk=job.pk, status=ImportJob.Status.MAPPING)
    if not still.exists():  # a second click, or cancelled meanwhile
        job.refresh_from_db()
        return False
    saved = (
        import_mapping_save(
            organization=job.organization, name=save_as, spec=spec, actor=actor, request=request
        )
        if save_as
        else None
    )
    waiting = bool(duplicates)
    status = ImportJob.Status.WAITING if waiting else ImportJob.Status.QUEUED
    if workbook is None:
        status = ImportJob.Status.CHECKING
    fields: dict[str, Any] = {
        "status": status,
        "mapping": spec_to_dict(spec),
        "mapping_name": saved.name if saved is not None else "",
        "encounters": len(workbook.encounters) if workbook is not None else 0,
        "code_lines": workbook.code_rows if workbook is not None else 0,
        "duplicates": duplicates_summary(duplicates) if waiting else {},
    }
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    log_write(
        organization=job.organization,
        actor=actor,
        action="import.map",
        obj_type="import_job",
        obj_id=str(job.public_id),
        changes={
            "name": job.name,
            "encounters": job.encounters,
            "layout": spec.layout,
            "mapping": job.mapping_name,
            **({"duplicates": job.duplicates["count"]} if waiting else {}),
        },
        request=request,
    )
    if not waiting:
        _enqueue_on_commit(job)
    return True


class MappingNameTaken(Exception):
    """Another saved mapping of the organization has this name."""


@transaction.atomic
def import_mapping_save(
    *,
    organization: Organization,
    name: str,
    spec: MappingSpec,
    actor: User,
    mapping: ImportMapping | None = None,
    request: HttpRequest | None = None,
) -> ImportMapping:
    """Save a column mapping: `mapping` changed (its spec, and its name to `name`), or
    without one, the organization's mapping called `name` replaced or created. Raises
    MappingNameTaken when renaming onto another mapping's name."""
    name = " ".join(name.split())[:100]
    data = spec_to_dict(spec)
    key = columns_key(spec.headers)
    if mapping is None:
        mapping, created = ImportMapping.objects.select_for_update().get_or_create(
            organization=organization,
            name=name,
            defaults={"layout": spec.layout, "spec": data, "columns_key": key, "created_by": actor},
        )
    else:
        created = False
        if (
            ImportMapping.objects.filter(organization=organization, name=name)
            .exclude(pk=mapping.pk)
            .exists()
        ):
            raise MappingNameTaken(name)
        mapping.name = name
    if not created:
        mapping.layout, mapping.spec, mapping.columns_key = spec.layout, data, key
        mapping.save(update_fields=["name", "layout", "spec", "columns_key", "updated_at"])
    log_write(
        organization=organization,
        actor=actor,
        action="import_mapping.create" if created else "import_mapping.update",
        obj_type="import_mapping",
        obj_id=str(mapping.public_id),
        changes={"name": mapping.name, "layout": spec.layout, "columns": len(spec.headers)},
        request=request,
    )
    return mapping


@transaction.atomic
def import_mapping_rename(
    *, mapping: ImportMapping, name: str, actor: User, request: HttpRequest | None = None
) -> ImportMapping:
    """Rename a saved mapping; MappingNameTaken when another one has the name."""
    name = " ".join(name.split())[:100]
    old = mapping.name
    if (
        ImportMapping.objects.filter(organization_id=mapping.organization_id, name=name)
        .exclude(pk=mapping.pk)
        .exists()
    ):
        raise MappingNameTaken(name)
    mapping.name = name
    mapping.save(update_fields=["name", "updated_at"])
    log_write(
        organization=mapping.organization,
        actor=actor,
        action="import_mapping.rename",
        obj_type="import_mapping",
        obj_id=str(mapping.public_id),
        changes={"name": [old, name]},
        request=request,
    )
    return mapping


@transaction.atomic
def import_mapping_delete(
    *, mapping: ImportMapping, actor: User, request: HttpRequest | None = None
) -> None:
    """Delete a saved mapping; the next upload with its columns is asked for one again.
    Imports already made with it keep their encounters."""
    log_write(
        organization=mapping.organization,
        actor=actor,
        action="import_mapping.delete",
        obj_type="import_mapping",
        obj_id=str(mapping.public_id),
        changes={"name": mapping.name},
        request=request,
    )
    mapping.delete()


@transaction.atomic
def import_job_cancel(*, job: ImportJob, actor: User, request: HttpRequest | None = None) -> bool:
    """Drop a waiting upload and remove its file (once committed); False when it was no
    longer waiting."""
    if not _import_job_decide(
        job,
        to=ImportJob.Status.CANCELLED,
        action="import.cancel",
        actor=actor,
        request=request,
        finished_at=timezone.now(),
    ):
        return False
    path = job.path
    transaction.on_commit(lambda: _remove_upload(path))
    return True


ACTIVE_IMPORT_STATUSES = (ImportJob.Status.CHECKING, ImportJob.Status.RUNNING)
IMPORT_STALLED_MESSAGE = (
    "The background worker stopped while it was importing this workbook (it was restarted, "
    "killed or ran out of memory). The import was rolled back: nothing was written, and the "
    "uploaded file was removed. Upload the workbook again."
)


class ImportStalled(Exception):
    """What a stalled job's task records as its failure (see `import_jobs_reap`)."""


class _JobTakenOver(Exception):
    """The job was marked stalled while this worker still ran it: roll its import back."""


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one queued import: re-read the workbook, import it atomically, record the outcome.

    A `checking` job (a large upload) is validated here first: a workbook with problems
    fails with them in `problems`, one that repeats other audits' encounters waits. The job
    holds a lease while it runs (`leases.import_lease`), so a worker that dies leaves a job
    `import_jobs_reap` can mark stalled. Another import writing makes it wait its turn with
    backoff, at most `IMPORT_WAIT_SECONDS`; its own bookkeeping waits out a locked SQLite.
    The job's success is written in the import's own transaction, so the job and its audit
    commit together. The uploaded files are removed afterwards, whatever happened, unless
    the job waits.
    """
    job = ImportJob.objects.select_related("organization", "created_by").get(pk=job_id)
    if job.status not in {ImportJob.Status.QUEUED, ImportJob.Status.CHECKING}:
        return job  # already run (a retried task must not import twice)
    with import_lease(job) as lease:
        checking = job.status == ImportJob.Status.CHECKING
        if not checking:
            job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        when_unlocked(lambda: job.save(update_fields=["status", "started_at"]), what="import.start")
        key = import_progress_key(job)

        def progress(done: int, total: int) -> None:
            cache.set(key, (done, total), timeout=24 * 3600)

        def succeeded(audit: Audit) -> None:
            moved = ImportJob.objects.filter(pk=job.pk, status__in=ACTIVE_IMPORT_STATUSES).update(
                status=ImportJob.Status.DONE, audit=audit, finished_at=timezone.now()
            )
            if not moved:
                raise _JobTakenOver

        outcome: dict[str, Any] = {}
        try:
            workbook = import_job_read(job)
            if checking and when_unlocked(
                lambda: _hold_checked(job, workbook), what="import.check"
            ):
                return job  # waits for a decision on its duplicates; the file is kept
            _import_in_turn(job, workbook, progress=progress, succeeded=succeeded, lease=lease)
            job.refresh_from_db()
            return job
        except WorkbookError as exc:
            outcome = {
                "error": str(exc),
                "problems": {
                    "total": exc.total,
                    "rows": [
                        [p.sheet, p.row, p.column, p.message] for p in exc.problems[:MAX_LISTED]
                    ],
                },
            }
        except IntegrityError:
            outcome = {"error": IMPORT_RACE_MESSAGE}
        except ImportBusy:
            outcome = {"error": IMPORT_BUSY_MESSAGE}
        except _JobTakenOver:
            job.refresh_from_db()
            return job
        except Exception as exc:  # the job records any failure; nothing was written (atomic)
            outcome = {"error": f"The import failed and nothing was written: {exc}"}
        finally:
            cache.delete(key)
            if job.status != ImportJob.Status.WAITING:  # a held upload keeps its file
                _remove_upload(job.path)
        when_unlocked(
            lambda: ImportJob.objects.filter(pk=job.pk, status__in=ACTIVE_IMPORT_STATUSES).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(), **outcome
            ),
            what="import.fail",
        )
    job.refresh_from_db()
    return job


def _import_in_turn(
    job: ImportJob,
    workbook: Workbook,
    *,
    progress: ProgressFn,
    succeeded: Callable[[Audit], None],
    lease: Holder,
) -> Audit:
    """`audit_import` for a job, again after a backoff while another import holds the
    organization (at most `IMPORT_WAIT_SECONDS`, the lease saying it waits), and again at
    once when another import committed the same new roster names first (at most
    `IMPORT_RACE_ATTEMPTS` times)."""

    def attempt() -> Audit:
        for race in range(1, IMPORT_RACE_ATTEMPTS + 1):
            try:
                return audit_import(
                    organization=job.organization,
                    workbook=workbook,
                    name=job.name,
                    cycle=job.cycle or None,
                    released=job.released,
                    actor=job.created_by,
                    progress=progress,
                    before_commit=succeeded,
                )
            except IntegrityError:
                # Another import committed the same new roster names (or audit name)
                # first: this one rolled back whole; the next attempt finds those rows.
                if race == IMPORT_RACE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def waiting(now: bool) -> None:
        lease.waiting = now

    return with_backoff(
        attempt,
        waits_on=lambda exc: isinstance(exc, ImportBusy),
        what="import.turn",
        give_up_after=settings.IMPORT_WAIT_SECONDS,
        waiting=waiting,
    )


def import_jobs_reap(*, job: ImportJob | None = None) -> list[ImportJob]:
    """Mark stalled the running import jobs (or only `job`) whose lease has lapsed: their
    worker died, and their import's transaction died with it, so nothing of it was written.
    Each gets `IMPORT_STALLED_MESSAGE`, its upload folder removed, its task marked failed,
    and an `import.stalled` log entry. Cheap when nothing stalled (one indexed query)."""
    cutoff = timezone.now() - timedelta(seconds=lease_seconds())
    candidates = ImportJob.objects.filter(
        status__in=ACTIVE_IMPORT_STATUSES, started_at__lt=cutoff
    ).select_related("organization")
    if job is not None:
        candidates = candidates.filter(pk=job.pk)
    reaped = []
    for stalled in candidates:
        if lease_alive(stalled):
            continue
        if _reap(stalled):
            reaped.append(stalled)
    return reaped


def _reap(job: ImportJob) -> bool:
    with transaction.atomic():
        moved = ImportJob.objects.filter(pk=job.pk, status__in=ACTIVE_IMPORT_STATUSES).update(
            status=ImportJob.Status.STALLED,
            error=IMPORT_STALLED_MESSAGE,
            finished_at=timezone.now(),
        )
        if not moved:
            return False
        DBTaskResult.objects.filter(
            status=TaskResultStatus.RUNNING,
            task_path="auditcoach.audits.tasks.import_job_run",
            args_kwargs__kwargs__job_id=job.pk,
        ).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            exception_class_path="auditcoach.audits.services.ImportStalled",
            traceback=IMPORT_STALLED_MESSAGE,
        )
        log_write(
            organization=job.organization,
            actor=None,
            action="import.stalled",
            obj_type="import_job",
            obj_id=str(job.public_id),
            changes={"name": job.name, "started": str(job.started_at)},
        )
    cache.delete(import_progress_key(job))
    _remove_upload(job.path)
    job.refresh_from_db()
    return True


def import_job_read(job: ImportJob) -> Workbook:
    """The job's upload read and validated in full: a §9 workbook, or a spreadsheet through
    the job's column mapping. Raises WorkbookError."""
    if job.mapping:
        return read_mapped(Path(job.path), spec_from_dict(job.mapping), limits=workbook_limits())
    return read_upload(Path(job.path))


def _hold_checked(job: ImportJob, workbook: Workbook) -> bool:
    """A large upload the worker has just read in full: record its counts, then either hold
    it on its duplicates as the upload page does for small files (True) or go on importing."""
    job.encounters, job.code_lines = len(workbook.encounters), workbook.code_rows
    duplicates = duplicate_encounters(
        organization=job.organization, external_ids=(e.encounter_id for e in workbook.encounters)
    )
    with transaction.atomic():
        if duplicates:
            job.status = ImportJob.Status.WAITING
            job.duplicates = duplicates_summary(duplicates)
        else:
            job.status = ImportJob.Status.RUNNING
        job.save(update_fields=["status", "duplicates", "encounters", "code_lines"])
        if duplicates:
            log_write(
                organization=job.organization,
                actor=job.created_by,
                action="import.hold",
                obj_type="import_job",
                obj_id=str(job.public_id),
                changes={
                    "name": job.name,
                    "encounters": job.encounters,
                    "duplicates": job.duplicates["count"],
                },
            )
    return bool(duplicates)


# --------------------------------------------------------------------------- lifecycle


class AuditLifecycleError(Exception):
    """A delete or archive the audit's state does not allow; the message says why."""


DELETED_WITH_AUDIT: frozenset[tuple[str, str]] = frozenset({
    ("audits.Encounter", "audit"),
    ("audits.CodeLine", "encounter"),
    ("audits.Finding", "encounter"),
    ("audits.ImportJob", "audit"),
    ("coaching.FindingEvent", "finding"),
    ("coaching.Comment", "finding"),
    ("coaching.Attachment", "finding"),
    ("library.FindingReference", "finding"),
    ("education.EducationAssignment_findings", "finding"),
    ("education.FollowUpReview_encounters", "encounter"),
    ("education.FollowUpReview", "audit"),
    ("overreads.Overread", "encounter"),
    ("overreads.CalibrationSet_encounters", "encounter"),
})  # fmt: skip
"""Every (model, field) pointing at an Audit, Encounter or Finding, as `audit_delete`
handles it; a test compares it with the models' `_meta`, so a new relation needs a decision
here before deleting can reach it."""


@transaction.atomic
def audit_delete(
    *, audit: Audit, actor: User, request: HttpRequest | None = None
) -> AuditFootprint:
    """Delete an audit none of whose findings was ever released, with everything of it.

    Gone in this one transaction: encounters, both versions' code lines, findings and their
    events, comments, attachments (files removed once committed), reference links, overreads
    and their blind lines, calibration-set and education links to them, import jobs.
    Follow-up reviews that chose its encounters keep their other encounters and wait for
    the next import (flagged). The audit-log entries stay; `audit.delete` records the name
    and the counts. Raises AuditLifecycleError for an audit ever released.
    """
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit_ever_released(audit=audit):
        raise AuditLifecycleError(
            "This audit's findings were released to coders, so it is part of their coaching "
            "record and cannot be deleted. Archive it instead to leave it out of reports."
        )
    org = audit.organization
    footprint = audit_footprint(audit=audit)
    encounters = Encounter.objects.filter(organization=org, audit=audit)
    findings = Finding.objects.filter(organization=org, encounter__audit=audit)
    files = list(
        Attachment.objects.filter(organization=org, finding__encounter__audit=audit)
        .exclude(file="")
        .values_list("file", flat=True)
    )
    followups = list(
        FollowUpReview.objects.filter(organization=org)
        .filter(Q(audit=audit) | Q(encounters__audit=audit))
        .distinct()
    )
    EducationAssignment.findings.through.objects.filter(finding__in=findings).delete()
    FollowUpReview.encounters.through.objects.filter(encounter__in=encounters).delete()
    CalibrationSet.encounters.through.objects.filter(encounter__in=encounters).delete()
    OverreadLine.objects.filter(overread__encounter__in=encounters).delete()
    Overread.objects.filter(organization=org, encounter__in=encounters).delete()
    FindingReference.objects.filter(organization=org, finding__in=findings).delete()
    Comment.objects.filter(organization=org, finding__in=findings).delete()
    Attachment.objects.filter(organization=org, finding__in=findings).delete()
    FindingEvent.objects.filter(organization=org, finding__in=findings).delete()
    findings.delete()
    CodeLine.objects.filter(organization=org, encounter__in=encounters).delete()
    encounters.delete()
    ImportJob.objects.filter(organization=org, audit=audit).delete()
    for followup in followups:
        _followup_unlink(followup, audit=audit, actor=actor, request=request)
    public_id, name, cycle = audit.public_id, audit.name, audit.cycle
    audit.delete()
    log_write(
        organization=org,
        actor=actor,
        action="audit.delete",
        obj_type="audit",
        obj_id=str(public_id),
        changes={"name": name, "cycle": cycle, **footprint.as_dict()},
        request=request,
    )
    if files:
        transaction.on_commit(lambda: _remove_files(files))
    return footprint


def _remove_files(names: Sequence[str]) -> None:
    field = Attachment._meta.get_field("file")
    assert isinstance(field, FileField)
    for name in names:
        field.storage.delete(name)


def _followup_unlink(
    followup: FollowUpReview, *, audit: Audit, actor: User, request: HttpRequest | None
) -> None:
    """A follow-up review lost the deleted audit's encounters: it keeps the others, and
    with fewer than it needs it is flagged, so the next import of the coder tops it up."""
    left = list(followup.encounters.values_list("audit_id", flat=True))
    audits = set(left)
    before = followup.status
    if len(left) < followup.n_encounters:
        followup.status = FollowUpReview.Status.FLAGGED
    followup.audit_id = audits.pop() if len(audits) == 1 else None
    followup.save(update_fields=["status", "audit", "updated_at"])
    log_write(
        organization=audit.organization,
        actor=actor,
        action="followup.unlink",
        obj_type="followup_review",
        obj_id=str(followup.public_id),
        changes={
            "deleted_audit": audit.name,
            "encounters_left": len(left),
            "status": [before, followup.status],
        },
        request=request,
    )


@transaction.atomic
def audit_archive(*, audit: Audit, actor: User, request: HttpRequest | None = None) -> bool:
    """Leave a released audit out of dashboards, scorecards, reports and metrics; it stays
    readable, and its coaching goes on. False when it was archived already."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit.archived_at is not None:
        return False
    if not audit_ever_released(audit=audit):
        raise AuditLifecycleError(
            "Only a released audit can be archived; an audit never released counts nowhere "
            "yet. Delete it if it is not wanted."
        )
    audit.archived_at = timezone.now()
    audit.save(update_fields=["archived_at"])
    log_write(
        organization=audit.organization,
        actor=actor,
        action="audit.archive",
        obj_type="audit",
        obj_id=str(audit.public_id),
        changes={"name": audit.name, "archived_at": audit.archived_at.isoformat()},
        request=request,
    )
    return True


@transaction.atomic
def audit_unarchive(*, audit: Audit, actor: User, request: HttpRequest | None = None) -> bool:
    """Count an archived audit again everywhere; False when it was not archived."""
    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if audit.archived_at is None:
        return False
    archived_at = audit.archived_at
    audit.archived_at = None
    audit.save(update_fields=["archived_at"])
    log_write(
        organization=audit.organization,
        actor=actor,
        action="audit.unarchive",
        obj_type="audit",
        obj_id=str(audit.public_id),
        changes={"name": audit.name, "archived_at": [archived_at.isoformat(), None]},
        request=request,
    )
    return True


__all__ = [
    "DELETED_WITH_AUDIT",
    "AuditLifecycleError",
    "AuditedLine",
    "ConflictError",
    "audit_archive",
    "audit_delete",
    "audit_import",
    "audit_unarchive",
    "encounter_audited_update",
    "encounter_recompute",
    "encounter_review_status_set",
    "finding_annotate",
    "finding_em_level_set",
    "import_job_cancel",
    "import_job_confirm",
    "import_job_create",
    "import_job_run",
]
