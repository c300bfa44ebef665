"""The columns of the education list's export (docs/exports.md): the assignments the list
shows, filtered the same way, with the status in the list's words."""

from __future__ import annotations

from typing import Final

from auditcoach.education.models import EducationAssignment
from auditcoach.lib.exports import Column, Kind


def status_text(a: EducationAssignment) -> str:
    """The Status badge of education/list.html."""
    if a.status == EducationAssignment.Status.COMPLETED:
        return "Completed"
    return "Overdue" if a.overdue else "Assigned"


ASSIGNMENT_COLUMNS: Final[list[Column[EducationAssignment]]] = [
    Column("Education", lambda a: a.resource_title),
    Column("Assigned", lambda a: a.assigned_at, Kind.DATE),
    Column("Assigned by", lambda a: a.assigned_by.display_name if a.assigned_by else ""),
    Column("Coder", lambda a: a.coder.label),
    Column("Pattern", lambda a: a.pattern_key),
    Column("Topic", lambda a: a.topic),
    Column("Due", lambda a: a.due_date, Kind.DATE),
    Column("Status", status_text),
    Column("Completed", lambda a: a.completed_at, Kind.DATE),
    Column("Quiz", lambda a: a.quiz_score, Kind.INTEGER),
]
