"""Writes of the organization's coding knowledge: its licensed CPT file, facility base rates.

Every function is keyword-only, runs in one transaction and writes its audit-log entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.auditlog.services import log_write
from auditcoach.audits.models import Encounter
from auditcoach.audits.services import encounter_recompute
from auditcoach.codesets.models import CptCode

BATCH = 2000


@transaction.atomic
def cpt_codes_replace(
    *,
    organization: Organization,
    rows: Sequence[tuple[str, str]],
    source: str,
    actor: User,
) -> int:
    """Replace the organization's licensed CPT set with `rows` (normalized code, descriptor),
    already validated (unique codes, 5-character CPT format, non-empty descriptors).

    Atomic: the old set stays until the new one is in. The log records counts and the file
    name, never descriptors (they are the AMA's, and the log is not the place for them).
    """
    now = timezone.now()
    existing = CptCode.objects.filter(organization=organization)
    before = existing.count()
    existing.delete()
    CptCode.objects.bulk_create(
        [
            CptCode(organization=organization, code=code, description=text, uploaded_at=now)
            for code, text in rows
        ],
        batch_size=BATCH,
    )
    log_write(
        organization=organization,
        actor=actor,
        action="cpt.replace",
        obj_type="cpt_file",
        obj_id=None,
        changes={"before": before, "after": len(rows), "source": source},
    )
    return len(rows)


@transaction.atomic
def facility_base_rate_set(*, facility: Facility, base_rate: Decimal | None, actor: User) -> int:
    """Set (or clear, with None) a facility's base rate, then derive the money of its
    inpatient encounters again (DESIGN §6: Δ$ = ΔRW × base rate). Returns how many
    encounters were derived again; outpatient and profee encounters carry no money.

    One transaction: the new rate and every encounter's new amount land together, so a
    summary never mixes old and new dollars.
    """
    if base_rate is not None and base_rate <= 0:
        raise ValueError("a base rate is a positive amount of dollars")
    old = facility.base_rate
    facility.base_rate = base_rate
    facility.save(update_fields=["base_rate"])
    encounters = Encounter.objects.filter(
        organization_id=facility.organization_id,
        facility=facility,
        setting=Encounter.Setting.INPATIENT,
    ).select_related("facility")
    updated = 0
    for encounter in list(encounters):  # read first: each recompute writes the same table
        encounter_recompute(encounter=encounter)
        updated += 1
    log_write(
        organization=facility.organization,
        actor=actor,
        action="facility.base_rate",
        obj_type="facility",
        obj_id=str(facility.public_id),
        changes={
            "base_rate": [
                None if old is None else str(old),
                None if base_rate is None else str(base_rate),
            ],
            "encounters_rederived": updated,
        },
    )
    return updated


__all__ = ["cpt_codes_replace", "facility_base_rate_set"]
