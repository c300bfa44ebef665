"""The columns of the coaching lists' exports (docs/exports.md): ageing and disputes.

The rows are the pages' own row dicts (`coaching.views._ageing_rows`, `_dispute_rows`),
findings decorated as the screens show them (codes as coders write them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from auditcoach.audits.models import Finding
from auditcoach.lib.exports import Column, Kind

type Row = dict[str, Any]


def finding_columns[R](get: Callable[[R], Finding]) -> list[Column[R]]:
    """A finding's codes as `coaching/_codes.html` shows them, one column per part."""
    return [
        Column("Kind", lambda r: get(r).kind),
        Column("Group", lambda r: "" if get(r).group == "-" else get(r).group),
        Column("Original code", lambda r: get(r).original_text),  # type: ignore[attr-defined]
        Column("Audited code", lambda r: get(r).audited_text),  # type: ignore[attr-defined]
        Column("Original value", lambda r: get(r).original_value),
        Column("Audited value", lambda r: get(r).audited_value),
        Column("Status", lambda r: get(r).get_status_display()),
    ]


def _finding(row: Row) -> Finding:
    finding: Finding = row["finding"]
    return finding


def _coder(row: Row) -> str:
    coder = _finding(row).encounter.coder
    return coder.label if coder else ""


AGEING_COLUMNS: Final[list[Column[Row]]] = [
    Column("Encounter", lambda r: _finding(r).encounter.external_id, account=True),
    Column("Coder", _coder),
    *finding_columns(_finding),
    Column("Waiting for", lambda r: r["waiting"]),
    Column("Released", lambda r: _finding(r).released_at, Kind.DATETIME),
    Column("Age (days)", lambda r: r["age_days"], Kind.INTEGER),
    Column("Overdue", lambda r: "Overdue" if r["overdue"] else ""),
]


def _event(row: Row, attr: str) -> Any:
    event = row["event"]
    return getattr(event, attr) if event is not None else None


def _citations(row: Row) -> str:
    event = row["event"]
    if event is None:
        return ""
    return "; ".join(r.get("citation", "") for r in (event.data or {}).get("references", []))


DISPUTE_COLUMNS: Final[list[Column[Row]]] = [
    Column("Encounter", lambda r: _finding(r).encounter.external_id, account=True),
    Column("Coder", _coder),
    Column("Audit", lambda r: _finding(r).encounter.audit.name),
    *finding_columns(_finding),
    Column("Auditor's rationale", lambda r: _finding(r).rationale),
    Column(
        "Last step",
        lambda r: r["event"].get_kind_display() if r["event"] is not None else "",
    ),
    Column("By", lambda r: _event(r, "actor_name")),
    Column("At", lambda r: _event(r, "at"), Kind.DATETIME),
    Column("Said", lambda r: _event(r, "text")),
    Column("Cited", _citations),
]
