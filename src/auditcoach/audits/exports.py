"""The columns of the audits area's exports (docs/exports.md): an audit's encounters and its
summary (the Scores table). The rows come from the screens' own selectors; these say how each row reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from auditcoach.audits.models import Encounter
from auditcoach.lib.exports import Column, Kind

if TYPE_CHECKING:  # the views import this module
    from auditcoach.audits.views import ScoreRow


def review_text(e: Encounter) -> str:
    """The Review column as the list shows it."""
    return e.get_review_status_display() if e.reviewed else "Not reviewed"


ENCOUNTER_COLUMNS: Final[list[Column[Encounter]]] = [
    Column("Encounter", lambda e: e.external_id, account=True),
    Column("Setting", lambda e: e.get_setting_display()),
    Column("Discharged", lambda e: e.discharge_date, Kind.DATE),
    Column("Coder", lambda e: e.coder.label if e.coder else ""),
    Column("Original DRG", lambda e: e.original_drg),
    Column("Audited DRG", lambda e: e.audited_drg),
    Column("Findings", lambda e: e.finding_count, Kind.INTEGER),
    Column("$ impact", lambda e: e.financial_impact, Kind.MONEY),
    Column("Review", review_text),
]


def _interval(row: ScoreRow, end: int) -> float | None:
    ci = row.cell.prop.interval
    return None if ci is None else ci[end]


SCORE_COLUMNS: Final[list[Column[ScoreRow]]] = [
    Column("Score", lambda r: r.label),
    Column("Definition", lambda r: r.detail),
    Column("Value", lambda r: r.cell.prop.value, Kind.PERCENT),
    Column("Of", lambda r: r.cell.prop.successes, Kind.INTEGER),
    Column("n", lambda r: r.cell.prop.n, Kind.INTEGER),
    Column("95% CI low", lambda r: _interval(r, 0), Kind.PERCENT),
    Column("95% CI high", lambda r: _interval(r, 1), Kind.PERCENT),
]
"""The audit summary's Scores table: value, counts (of / n) and the Wilson interval."""
