"""Reads of overreads, always from the organization, and the §8 consistency numbers.

Consistency rows are built here from stored rows and handed to `engine.metrics`
(`consistency`, `consistency_by_auditor`, `consistency_by_topic`) and
`engine.stats.krippendorff_alpha`; this module only gathers data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import Count, Q, QuerySet

from auditcoach.accounts.models import Organization, User
from auditcoach.accounts.permissions import AUDIT_WRITE_ROLES
from auditcoach.audits.models import CodeLine, Encounter, Finding
from auditcoach.engine.metrics import (
    Consistency,
    calibration_alpha,
    consistency,
    consistency_by_auditor,
    consistency_by_topic,
)
from auditcoach.engine.metrics import (
    Overread as OverreadRow,
)
from auditcoach.engine.stats import krippendorff_alpha
from auditcoach.overreads.models import CalibrationSet, Overread, OverreadLine, OverreadPlan
from auditcoach.overreads.services import em_level_of


def auditing_members(organization: Organization) -> QuerySet[User]:
    """Managers and auditors of the organization (who may audit and overread)."""
    return User.objects.filter(
        memberships__organization=organization, memberships__role__in=AUDIT_WRITE_ROLES
    ).order_by("first_name", "last_name", "username")


def plans(organization: Organization) -> QuerySet[OverreadPlan]:
    return (
        OverreadPlan.objects.filter(organization=organization)
        .select_related("auditor", "reviewer")
        .annotate(
            picked=Count("overreads"),
            done=Count("overreads", filter=Q(overreads__status=Overread.Status.DONE)),
        )
        .order_by("-created_at", "-id")
    )


def plan_get(organization: Organization, public_id: UUID) -> OverreadPlan:
    return OverreadPlan.objects.get(organization=organization, public_id=public_id)


def overread_get(organization: Organization, public_id: UUID) -> Overread:
    return Overread.objects.select_related(
        "encounter",
        "encounter__coder__user",
        "encounter__facility",
        "encounter__provider",
        "reviewer",
        "first_auditor",
        "plan",
        "calibration",
    ).get(organization=organization, public_id=public_id)


def overreads_of_reviewer(organization: Organization, user: User) -> QuerySet[Overread]:
    """A person's queue: their blind reviews, open ones first."""
    return (
        Overread.objects.filter(organization=organization, reviewer=user)
        .select_related("encounter", "plan", "calibration")
        .order_by("status", "created_at", "id")
    )


def overreads_of_first_auditor(organization: Organization, user: User) -> QuerySet[Overread]:
    """Finished overreads of a person's own work (open ones stay hidden from them)."""
    return (
        Overread.objects.filter(
            organization=organization, first_auditor=user, status=Overread.Status.DONE
        )
        .select_related("encounter", "reviewer")
        .order_by("-completed_at", "-id")
    )


def original_lines(overread: Overread) -> list[CodeLine]:
    """The coder's lines only: the encounter's audited version is never read here."""
    return list(
        CodeLine.objects.filter(
            encounter_id=overread.encounter_id, version=CodeLine.Version.ORIGINAL
        ).order_by("group", "seq")
    )


def encounter_audited_lines(overread: Overread) -> list[CodeLine]:
    """The first auditor's lines: for the comparison shown once the overread is done."""
    return list(
        CodeLine.objects.filter(
            encounter_id=overread.encounter_id, version=CodeLine.Version.AUDITED
        ).order_by("group", "seq")
    )


# --------------------------------------------------------------------------- consistency


def _name(user: User | None, fallback: str = "") -> str:
    return user.display_name if user is not None else fallback


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    overall: Consistency
    by_auditor: dict[str, Consistency]
    by_topic: dict[str, Consistency]
    rows: list[OverreadRow] = field(default_factory=list)


def _keyed_rows(organization: Organization, *, cycle: str = "") -> list[tuple[int, OverreadRow]]:
    """One `engine.metrics.Overread` per done plan overread (one per topic, see below).

    codes_a are the encounter's audited codes, codes_b the blind ones (normalized codes,
    repeats kept); drg_a is the encounter's derived audited DRG, drg_b the blind one;
    findings_a is "the encounter has an active finding", findings_b the same for the blind
    derivation; E/M levels from the first-listed §5.7 code of each version. The topic is
    the first auditor's findings' topic: an encounter whose findings carry several topics
    gives one row per topic (so it counts under each); one with none gives topic "".
    """
    # Overreads of archived audits' encounters count nowhere, like the rest of the metrics.
    done = Overread.objects.filter(
        organization=organization,
        plan__isnull=False,
        status=Overread.Status.DONE,
        encounter__audit__archived_at__isnull=True,
    ).select_related("encounter", "first_auditor", "reviewer")
    if cycle:
        done = done.filter(plan__cycle=cycle)
    overreads = list(done.order_by("id"))
    encounter_ids = {o.encounter_id for o in overreads}
    audited: dict[int, list[CodeLine]] = defaultdict(list)
    for line in CodeLine.objects.filter(
        encounter_id__in=encounter_ids, version=CodeLine.Version.AUDITED
    ):
        audited[line.encounter_id].append(line)
    blind: dict[int, list[OverreadLine]] = defaultdict(list)
    for bl in OverreadLine.objects.filter(overread__in=overreads):
        blind[bl.overread_id].append(bl)
    topics: dict[int, set[str]] = defaultdict(set)
    with_findings: set[int] = set()
    for encounter_id, topic in Finding.objects.filter(
        encounter_id__in=encounter_ids, active=True
    ).values_list("encounter_id", "topic"):
        with_findings.add(encounter_id)
        if topic:
            topics[encounter_id].add(topic)
    rows: list[tuple[int, OverreadRow]] = []
    for o in overreads:
        e: Encounter = o.encounter
        a_lines, b_lines = audited[e.pk], blind[o.pk]
        inpatient = e.setting == Encounter.Setting.INPATIENT
        for topic in sorted(topics[e.pk]) or [""]:
            rows.append((
                o.pk,
                OverreadRow(
                    auditor_a=_name(o.first_auditor, e.auditor_name),
                    auditor_b=_name(o.reviewer),
                    codes_a=tuple(sorted(line.code for line in a_lines)),
                    codes_b=tuple(sorted(line.code for line in b_lines)),
                    drg_a=e.audited_drg if inpatient else "",
                    drg_b=o.drg if inpatient else "",
                    findings_a=e.pk in with_findings,
                    findings_b=o.has_findings,
                    em_a=em_level_of(a_lines),
                    em_b=o.em_level,
                    topic=topic,
                ),
            ))  # fmt: skip
    return rows


def consistency_report(organization: Organization, *, cycle: str = "") -> ConsistencyReport:
    """Overall and per-auditor numbers count each overread once; per topic, once per topic."""
    keyed = _keyed_rows(organization, cycle=cycle)
    seen: set[int] = set()
    once: list[OverreadRow] = []
    for key, row in keyed:
        if key not in seen:  # the first of an overread's rows (its first topic)
            seen.add(key)
            once.append(row)
    return ConsistencyReport(
        overall=consistency(once),
        by_auditor=consistency_by_auditor(once),
        by_topic=consistency_by_topic(row for _, row in keyed),
        rows=once,
    )


def encounter_cycles(organization: Organization) -> list[str]:
    """The cycle labels of the organization's encounters (for the plan form's list)."""
    return list(
        Encounter.objects.filter(organization=organization)
        .exclude(cycle="")
        .values_list("cycle", flat=True)
        .distinct()
        .order_by("cycle")
    )


def cycles(organization: Organization) -> list[str]:
    return list(
        OverreadPlan.objects.filter(organization=organization)
        .values_list("cycle", flat=True)
        .distinct()
        .order_by("cycle")
    )


# --------------------------------------------------------------------------- calibration


def calibration_sets(organization: Organization) -> QuerySet[CalibrationSet]:
    return (
        CalibrationSet.objects.filter(organization=organization)
        .annotate(
            n_reviews=Count("reviews", distinct=True),
            n_done=Count("reviews", filter=Q(reviews__status=Overread.Status.DONE), distinct=True),
        )
        .order_by("-created_at", "-id")
    )


def calibration_get(organization: Organization, public_id: UUID) -> CalibrationSet:
    return CalibrationSet.objects.get(organization=organization, public_id=public_id)


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    auditors: list[User]
    encounters: list[Encounter]
    # encounter pk → auditor pk → the done review (absent while open)
    cells: dict[int, dict[int, Overread]]
    drg_alpha: float | None
    findings_alpha: float | None
    em_alpha: float | None
    done: int
    total: int


def calibration_report(cset: CalibrationSet) -> CalibrationReport:
    """Krippendorff's alpha across the set's auditors, from done reviews only (an open
    review is a missing value): nominal on the final DRG (inpatient encounters) and on
    has-findings, ordinal on the E/M level."""
    auditors = list(cset.auditors.order_by("first_name", "last_name", "username"))
    encounters = list(cset.encounters.order_by("external_id"))
    reviews = list(Overread.objects.filter(calibration=cset).select_related("reviewer"))
    cells: dict[int, dict[int, Overread]] = defaultdict(dict)
    for r in reviews:
        if r.done:
            cells[r.encounter_id][r.reviewer_id] = r
    names = [str(u.pk) for u in auditors]
    inpatient = {e.pk for e in encounters if e.setting == Encounter.Setting.INPATIENT}
    drg: dict[Hashable, dict[str, str | int | None]] = {}
    findings: dict[Hashable, dict[str, str | int | None]] = {}
    em_units: list[list[float | int | str | None]] = []
    for e in encounters:
        row = cells.get(e.pk, {})
        if e.pk in inpatient:
            drg[e.pk] = {str(uid): (r.drg or None) for uid, r in row.items()}
        findings[e.pk] = {str(uid): int(r.has_findings) for uid, r in row.items()}
        em_units.append([row[u.pk].em_level if u.pk in row else None for u in auditors])
    return CalibrationReport(
        auditors=auditors,
        encounters=encounters,
        cells=dict(cells),
        drg_alpha=calibration_alpha(drg, auditors=names),
        findings_alpha=calibration_alpha(findings, auditors=names),
        em_alpha=krippendorff_alpha(em_units, level="ordinal"),
        done=sum(1 for r in reviews if r.done),
        total=len(reviews),
    )
