"""Writes of overreads: plans and their picks, blind reviews, calibration sets.

Each function is keyword-only, runs in one transaction and writes its audit-log entry. A
blind review starts as a copy of the coder's original lines (never the first auditor's
audited ones) and is derived with the same engine as the workspace when it is done.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from auditcoach.accounts.models import Membership, Organization, Role, User
from auditcoach.accounts.permissions import AUDIT_WRITE_ROLES
from auditcoach.auditlog.services import log_write
from auditcoach.audits.conversions import engine_encounter
from auditcoach.audits.models import CodeLine, Encounter
from auditcoach.audits.services import encounter_base_rate, encounter_derive
from auditcoach.engine import model as em
from auditcoach.engine.codes import EM_CODES, em_level, format_modifiers, normalize_modifiers
from auditcoach.overreads.models import CalibrationSet, Overread, OverreadLine, OverreadPlan
from auditcoach.overreads.picking import least_loaded, pick, target_count

MIN_CALIBRATION_AUDITORS = 3


class OverreadError(ValueError):
    """A request the rules refuse (shown to the person as it is)."""


@dataclass(frozen=True, slots=True)
class BlindLine:
    """One line of a blind review as the review page submits it (already validated)."""

    system: str
    code: str
    poa: str = ""
    modifiers: frozenset[str] = frozenset()
    units: int = 1


# --------------------------------------------------------------------------- helpers


def _is_auditing_member(organization: Organization, user: User) -> bool:
    return Membership.objects.filter(
        organization=organization, user=user, role__in=AUDIT_WRITE_ROLES, is_active=True
    ).exists()


def _copy_original(overreads: Sequence[Overread]) -> None:
    """Each new review's editable list starts as the coder's original lines."""
    by_encounter: dict[int, list[CodeLine]] = {}
    for line in CodeLine.objects.filter(
        encounter_id__in={o.encounter_id for o in overreads}, version=CodeLine.Version.ORIGINAL
    ).order_by("group", "seq"):
        by_encounter.setdefault(line.encounter_id, []).append(line)
    OverreadLine.objects.bulk_create(
        OverreadLine(
            overread=o,
            system=line.system,
            group=line.group,
            seq=line.seq,
            code=line.code,
            poa=line.poa,
            modifiers=line.modifiers,
            units=line.units,
        )
        for o in overreads
        for line in by_encounter.get(o.encounter_id, [])
    )


def open_counts(organization: Organization, users: Iterable[User]) -> dict[int, int]:
    """Open (assigned) overreads per user id, plans and calibration sets alike."""
    ids = [u.pk for u in users]
    counts = dict.fromkeys(ids, 0)
    for row in (
        Overread.objects.filter(
            organization=organization, reviewer_id__in=ids, status=Overread.Status.ASSIGNED
        )
        .values("reviewer_id")
        .annotate(n=Count("id"))
    ):
        counts[row["reviewer_id"]] = row["n"]
    return counts


def em_level_of(lines: Iterable[CodeLine | OverreadLine]) -> int | None:
    """The level (1–5) of the first-listed §5.7 E/M code of a version; None without one."""
    em_lines = sorted(
        (line for line in lines if line.group == "LINE" and line.code in EM_CODES),
        key=lambda line: line.seq,
    )
    return em_level(em_lines[0].code) if em_lines else None


# --------------------------------------------------------------------------- plans


@transaction.atomic
def overread_plan_create(
    *,
    organization: Organization,
    auditor: User,
    cycle: str,
    share: int,
    reviewer: User | None = None,
    seed: int | None = None,
    actor: User,
) -> OverreadPlan:
    """A plan for one auditor and cycle; a random seed is drawn when none is given."""
    cycle = cycle.strip()
    if not cycle:
        raise OverreadError("A plan needs a cycle label.")
    if not 1 <= share <= 100:
        raise OverreadError("The share is a percentage from 1 to 100.")
    if not _is_auditing_member(organization, auditor):
        raise OverreadError("The auditor must be an auditor or manager of this organization.")
    if reviewer is not None:
        if reviewer.pk == auditor.pk:
            raise OverreadError("The second auditor must be someone else.")
        if not _is_auditing_member(organization, reviewer):
            raise OverreadError("The second auditor must be an auditor of this organization.")
    if OverreadPlan.objects.filter(
        organization=organization, auditor=auditor, cycle=cycle
    ).exists():
        raise OverreadError(f"{auditor.display_name} already has a plan for {cycle}.")
    plan = OverreadPlan.objects.create(
        organization=organization,
        auditor=auditor,
        cycle=cycle,
        share=share,
        reviewer=reviewer,
        seed=secrets.randbelow(2**31) if seed is None else seed,
        created_by=actor,
    )
    log_write(
        organization=organization,
        actor=actor,
        action="overread_plan.create",
        obj_type="overread_plan",
        obj_id=str(plan.public_id),
        changes={
            "auditor": auditor.username,
            "cycle": cycle,
            "share": share,
            "reviewer": reviewer.username if reviewer else None,
            "seed": plan.seed,
        },
    )
    return plan


def plan_reviewed_encounters(plan: OverreadPlan) -> list[Encounter]:
    """The plan's population: the auditor's reviewed encounters of the cycle (review
    status done; never one not yet reviewed, DESIGN §9, whose audited version is still
    the coder's coding)."""
    return list(
        Encounter.objects.filter(
            organization=plan.organization,
            auditor=plan.auditor,
            cycle=plan.cycle,
            review_status=Encounter.ReviewStatus.DONE,
            reviewed=True,
        )
    )


@transaction.atomic
def overread_plan_apply(*, plan: OverreadPlan, actor: User) -> list[Overread]:
    """Pick ceil(share × n) of the n reviewed encounters and assign the new ones.

    Already-picked encounters count towards the target and are never picked again, so
    applying again only tops up (when more encounters were reviewed since). The second
    auditor is the plan's reviewer, else the other auditor (role auditor) with the fewest
    open overreads at that moment, counting the ones this call assigns; ties by username.
    """
    plan = OverreadPlan.objects.select_for_update().get(pk=plan.pk)
    organization = plan.organization
    population = plan_reviewed_encounters(plan)
    picked = set(Overread.objects.filter(plan=plan).values_list("encounter__public_id", flat=True))
    target = target_count(plan.share, len(population))
    remaining = [e for e in population if e.public_id not in picked]
    chosen_keys = pick(
        [str(e.public_id) for e in remaining], seed=plan.seed, count=target - len(picked)
    )
    by_key = {str(e.public_id): e for e in remaining}
    chosen = [by_key[k] for k in chosen_keys]
    if not chosen:
        plan.applied_at = timezone.now()
        plan.save(update_fields=["applied_at"])
        return []

    if plan.reviewer is not None:
        candidates = [plan.reviewer]
    else:
        candidates = list(
            User.objects.filter(
                memberships__organization=organization, memberships__role=Role.AUDITOR
            )
            .exclude(pk=plan.auditor_id)
            .order_by("username")
        )
        if not candidates:
            raise OverreadError("No other auditor in this organization to do the overreads.")
    load = open_counts(organization, candidates)
    names = {u.username: u for u in candidates}
    created: list[Overread] = []
    for encounter in chosen:
        name = least_loaded({u.username: load[u.pk] for u in candidates})
        assert name is not None
        reviewer = names[name]
        load[reviewer.pk] += 1
        created.append(
            Overread(
                organization=organization,
                encounter=encounter,
                plan=plan,
                first_auditor=plan.auditor,
                reviewer=reviewer,
            )
        )
    Overread.objects.bulk_create(created)
    _copy_original(created)
    plan.applied_at = timezone.now()
    plan.save(update_fields=["applied_at"])
    log_write(
        organization=organization,
        actor=actor,
        action="overread_plan.apply",
        obj_type="overread_plan",
        obj_id=str(plan.public_id),
        changes={
            "reviewed": len(population),
            "target": target,
            "picked": [[str(o.encounter.public_id), o.reviewer.username] for o in created],
        },
    )
    return created


# --------------------------------------------------------------------------- blind review


def _require_open(overread: Overread) -> None:
    if overread.done:
        raise OverreadError("This overread is done; its review can no longer change.")


@transaction.atomic
def overread_lines_replace(
    *, overread: Overread, lines: Sequence[BlindLine], actor: User
) -> Overread:
    """Replace the blind audited version (seq follows the order given within each group)."""
    overread = Overread.objects.select_for_update().get(pk=overread.pk)
    _require_open(overread)
    before = list(overread.lines.values_list("system", "seq", "code", "poa", "modifiers", "units"))
    overread.lines.all().delete()
    seqs: dict[str, int] = {}
    rows: list[OverreadLine] = []
    for line in lines:
        group = em.SYSTEM_GROUP[line.system]
        seqs[group] = seqs.get(group, 0) + 1
        rows.append(
            OverreadLine(
                overread=overread,
                system=line.system,
                group=group,
                seq=seqs[group],
                code=line.code,
                poa=line.poa,
                modifiers=format_modifiers(line.modifiers),
                units=line.units,
            )
        )
    OverreadLine.objects.bulk_create(rows)
    overread.save(update_fields=["updated_at"])
    log_write(
        organization=overread.organization,
        actor=actor,
        action="overread.lines",
        obj_type="overread",
        obj_id=str(overread.public_id),
        changes={
            "before": before,
            "after": [(r.system, r.seq, r.code, r.poa, r.modifiers, r.units) for r in rows],
        },
    )
    return overread


def blind_lines(overread: Overread) -> list[BlindLine]:
    """The current blind version as `BlindLine`s, in DX, PX, LINE order."""
    order = {"DX": 0, "PX": 1, "LINE": 2}
    return [
        BlindLine(
            system=line.system,
            code=line.code,
            poa=line.poa,
            modifiers=normalize_modifiers(line.modifiers),
            units=line.units,
        )
        for line in sorted(overread.lines.all(), key=lambda r: (order.get(r.group, 3), r.seq))
    ]


def _engine_line(row: OverreadLine) -> em.CodeLine:
    return em.CodeLine(
        system=row.system,  # type: ignore[arg-type]
        seq=row.seq,
        code=row.code,
        poa=row.poa,
        modifiers=normalize_modifiers(row.modifiers),
        units=row.units,
    )


def overread_derive(overread: Overread) -> em.EncounterResult:
    """The engine's result for the coder's original version against the blind one."""
    encounter = overread.encounter
    original = CodeLine.objects.filter(encounter=encounter, version=CodeLine.Version.ORIGINAL)
    base = engine_encounter(encounter, original)
    blind = dataclasses.replace(
        base,
        audited=tuple(_engine_line(r) for r in overread.lines.all()),
        audited_disposition=overread.audited_disposition or None,
        reviewed=True,  # the second auditor's blind version is a review of its own
    )
    return encounter_derive(blind, base_rate=encounter_base_rate(encounter))


@transaction.atomic
def overread_complete(
    *, overread: Overread, actor: User, audited_disposition: str | None = None
) -> Overread:
    """Done: derive the DRG, findings and E/M level of the blind version and store them."""
    overread = Overread.objects.select_for_update().select_related("encounter").get(pk=overread.pk)
    _require_open(overread)
    if actor.pk != overread.reviewer_id:
        raise OverreadError("Only the second auditor can finish this overread.")
    if (
        audited_disposition is not None
        and overread.encounter.setting == Encounter.Setting.INPATIENT
    ):
        overread.audited_disposition = audited_disposition
    result = overread_derive(overread)
    overread.drg = result.audited_drg or ""
    overread.finding_count = len(result.findings)
    overread.has_findings = bool(result.findings)
    overread.em_level = em_level_of(overread.lines.all())
    overread.status = Overread.Status.DONE
    overread.completed_at = timezone.now()
    overread.save(
        update_fields=[
            "audited_disposition", "drg", "finding_count", "has_findings", "em_level",
            "status", "completed_at", "updated_at",
        ]
    )  # fmt: skip
    log_write(
        organization=overread.organization,
        actor=actor,
        action="overread.complete",
        obj_type="overread",
        obj_id=str(overread.public_id),
        changes={
            "drg": overread.drg,
            "findings": overread.finding_count,
            "em_level": overread.em_level,
        },
    )
    return overread


# --------------------------------------------------------------------------- calibration


@transaction.atomic
def calibration_set_create(
    *,
    organization: Organization,
    name: str,
    encounters: Sequence[Encounter],
    auditors: Sequence[User],
    actor: User,
) -> CalibrationSet:
    """A set of encounters each reviewed blind by every one of three or more auditors."""
    name = " ".join(name.split())
    if not name:
        raise OverreadError("A calibration set needs a name.")
    encounter_list = list({e.pk: e for e in encounters}.values())
    auditor_list = list({u.pk: u for u in auditors}.values())
    if not encounter_list:
        raise OverreadError("Choose at least one encounter.")
    if len(auditor_list) < MIN_CALIBRATION_AUDITORS:
        raise OverreadError(
            f"A calibration set needs at least {MIN_CALIBRATION_AUDITORS} auditors."
        )
    if any(e.organization_id != organization.pk for e in encounter_list):
        raise OverreadError("An encounter of another organization.")
    if any(not _is_auditing_member(organization, u) for u in auditor_list):
        raise OverreadError("Every auditor must be an auditor or manager of this organization.")
    if CalibrationSet.objects.filter(organization=organization, name=name).exists():
        raise OverreadError(f"A calibration set named “{name}” already exists.")
    cset = CalibrationSet.objects.create(organization=organization, name=name, created_by=actor)
    cset.encounters.set(encounter_list)
    cset.auditors.set(auditor_list)
    reviews = [
        Overread(organization=organization, encounter=e, calibration=cset, reviewer=u)
        for e in encounter_list
        for u in auditor_list
    ]
    Overread.objects.bulk_create(reviews)
    _copy_original(reviews)
    log_write(
        organization=organization,
        actor=actor,
        action="calibration_set.create",
        obj_type="calibration_set",
        obj_id=str(cset.public_id),
        changes={
            "name": name,
            "encounters": [str(e.public_id) for e in encounter_list],
            "auditors": [u.username for u in auditor_list],
        },
    )
    return cset
