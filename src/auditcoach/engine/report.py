"""The JSON of `auditcoach score` (DESIGN §9), built from engine results.

Every encounter carries `reviewed`; a not-yet-reviewed one (DESIGN §9) is listed with no
findings and left out of every summary figure, which adds `not_reviewed` (how many).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from auditcoach.engine.model import (
    MODIFIER_CHANGED,
    POA_CHANGED,
    UNITS_CHANGED,
    EncounterResult,
    Finding,
)
from auditcoach.engine.scoring import Scores, scores, sum_totals, totals_of

VALUE_KINDS = frozenset({POA_CHANGED, MODIFIER_CHANGED, UNITS_CHANGED})


def _money(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


def finding_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": f.kind,
        "group": f.group,
        "original": f.original,
        "audited": f.audited,
        "principal": f.principal,
        "pattern": f.pattern,
        "em_delta": f.em_delta,
    }
    if f.kind in VALUE_KINDS:
        out["original_value"] = f.original_value
        out["audited_value"] = f.audited_value
    return out


def encounter_json(r: EncounterResult) -> dict[str, Any]:
    return {
        "encounter_id": r.encounter_id,
        "reviewed": r.reviewed,
        "findings": [finding_json(f) for f in r.findings],
        "original_drg": r.original_drg,
        "audited_drg": r.audited_drg,
        "rw_delta": _money(r.rw_delta),
        "financial_impact": _money(r.financial_impact),
        "warnings": list(r.warnings),
    }


def summary_json(s: Scores) -> dict[str, Any]:
    return {
        "encounters": s.encounters,
        "dx_code_accuracy": s.code_accuracy["DX"].value,
        "px_code_accuracy": s.code_accuracy["PX"].value,
        "line_code_accuracy": s.code_accuracy["LINE"].value,
        "dx_union_accuracy": s.union_accuracy["DX"].value,
        "px_union_accuracy": s.union_accuracy["PX"].value,
        "line_union_accuracy": s.union_accuracy["LINE"].value,
        "record_accuracy": s.record_accuracy.value,
        "pdx_accuracy": s.pdx_accuracy.value,
        "poa_accuracy": s.poa_accuracy.value,
        "drg_accuracy": s.drg_accuracy.value,
        "em_accuracy": s.em_accuracy.value,
        "em_overcoded": s.em_overcoded,
        "em_undercoded": s.em_undercoded,
        "financial_impact": _money(s.financial_impact),
    }


def score_json(results: Sequence[EncounterResult]) -> dict[str, Any]:
    summary = summary_json(scores(sum_totals(totals_of(r) for r in results if r.reviewed)))
    summary["not_reviewed"] = sum(1 for r in results if not r.reviewed)
    return {"encounters": [encounter_json(r) for r in results], "summary": summary}
