"""Translation between stored rows and the engine's plain data, in one place."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from auditcoach.audits.models import TALLY_GROUPS, TALLY_PARTS, CodeLine, Encounter, Finding
from auditcoach.engine import model as em
from auditcoach.engine.codes import format_modifiers, normalize_modifiers
from auditcoach.engine.model import GroupTally
from auditcoach.engine.scoring import ScoreTotals, totals_of


def engine_line(row: CodeLine) -> em.CodeLine:
    return em.CodeLine(
        system=row.system,  # type: ignore[arg-type]
        seq=row.seq,
        code=row.code,
        poa=row.poa,
        modifiers=normalize_modifiers(row.modifiers),
        units=row.units,
    )


def engine_encounter(encounter: Encounter, lines: Iterable[CodeLine]) -> em.Encounter:
    original: list[em.CodeLine] = []
    audited: list[em.CodeLine] = []
    for row in lines:
        (original if row.version == CodeLine.Version.ORIGINAL else audited).append(engine_line(row))
    return em.Encounter(
        encounter_id=encounter.external_id,
        setting=encounter.setting,  # type: ignore[arg-type]
        discharge_date=encounter.discharge_date,
        age=encounter.age,
        sex=encounter.sex or None,
        discharge_disposition=encounter.discharge_disposition or None,
        audited_disposition=encounter.audited_disposition or None,
        billed_drg=encounter.billed_drg or None,
        original=tuple(original),
        audited=tuple(audited),
        reviewed=encounter.reviewed,
    )


def code_line_row(line: em.CodeLine, *, encounter: Encounter, version: str) -> CodeLine:
    return CodeLine(
        organization_id=encounter.organization_id,
        encounter=encounter,
        version=version,
        system=line.system,
        group=line.group,
        seq=line.seq,
        code=line.code,
        poa=line.poa,
        modifiers=format_modifiers(line.modifiers),
        units=line.units,
    )


def derived_fields(result: em.EncounterResult) -> dict[str, Any]:
    """The Encounter columns that the engine derives (see `Encounter`'s derived block)."""
    totals = totals_of(result)
    values: dict[str, Any] = {
        "finding_count": len(result.findings),
        "original_drg": result.original_drg or "",
        "audited_drg": result.audited_drg or "",
        "rw_delta": result.rw_delta,
        "financial_impact": result.financial_impact,
        "warnings": list(result.warnings),
        "pdx_counted": bool(totals.pdx_counted),
        "pdx_same": bool(totals.pdx_same),
        "poa_checked": totals.poa_checked,
        "poa_changed": totals.poa_changed,
        "drg_counted": bool(totals.drg_counted),
        "drg_changed": bool(totals.drg_changed),
        "em_counted": bool(totals.em_counted),
        "em_same": bool(totals.em_same),
        "em_overcoded": totals.em_overcoded,
        "em_undercoded": totals.em_undercoded,
    }
    for group in TALLY_GROUPS:
        tally = totals.tally(group.upper())
        for part in TALLY_PARTS:
            values[f"{group}_{part}"] = getattr(tally, part)
    return values


DERIVED_FIELDS: tuple[str, ...] = tuple(
    [
        "finding_count", "original_drg", "audited_drg", "rw_delta", "financial_impact",
        "warnings", "pdx_counted", "pdx_same", "poa_checked", "poa_changed", "drg_counted",
        "drg_changed", "em_counted", "em_same", "em_overcoded", "em_undercoded",
    ]
    + [f"{g}_{p}" for g in TALLY_GROUPS for p in TALLY_PARTS]
)  # fmt: skip


def totals_from_sums(sums: dict[str, Any]) -> ScoreTotals:
    """Build ScoreTotals from an aggregate over Encounter rows (see selectors)."""

    def tally(group: str) -> GroupTally:
        return GroupTally(*(int(sums[f"{group}_{p}"] or 0) for p in TALLY_PARTS))

    impact = sums["financial_impact"]
    return ScoreTotals(
        encounters=int(sums["encounters"] or 0),
        clean_encounters=int(sums["clean_encounters"] or 0),
        dx=tally("dx"),
        px=tally("px"),
        line=tally("line"),
        pdx_counted=int(sums["pdx_counted"] or 0),
        pdx_same=int(sums["pdx_same"] or 0),
        poa_checked=int(sums["poa_checked"] or 0),
        poa_changed=int(sums["poa_changed"] or 0),
        drg_counted=int(sums["drg_counted"] or 0),
        drg_changed=int(sums["drg_changed"] or 0),
        em_counted=int(sums["em_counted"] or 0),
        em_same=int(sums["em_same"] or 0),
        em_overcoded=int(sums["em_overcoded"] or 0),
        em_undercoded=int(sums["em_undercoded"] or 0),
        financial_impact=None if impact is None else Decimal(impact),
    )


def finding_row(f: em.Finding, *, encounter: Encounter, position: int) -> Finding:
    return Finding(
        organization_id=encounter.organization_id,
        encounter=encounter,
        position=position,
        kind=f.kind,
        group=f.group,
        original_code=f.original or "",
        audited_code=f.audited or "",
        principal=f.principal,
        pattern=f.pattern,
        em_delta=f.em_delta,
        original_value=f.original_value or "",
        audited_value=f.audited_value or "",
        original_rw=f.original_rw,
        audited_rw=f.audited_rw,
    )
