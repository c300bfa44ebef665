"""The columns of the audits area's exports (docs/exports.md): an audit's encounters and its
summary. The rows come from the screens' own selectors; these say how each row reads."""

from __future__ import annotations

from typing import Final

from auditcoach.audits.models import Encounter
from auditcoach.lib.exports import Column, Kind


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
