"""How screens name people: by their roster label, never by a login."""

from typing import Any

from django import template

from auditcoach.accounts.models import Auditor

register = template.Library()


@register.simple_tag
def auditor_label(encounter: Any) -> str:
    """The encounter's auditor as people read them: the roster entry's label (display
    name, else the linked login's full name), else the login's name, else the workbook's.
    One query; for pages that show one encounter."""
    name = getattr(encounter, "auditor_name", "") or ""
    if name:
        entry = (
            Auditor.objects.filter(organization_id=encounter.organization_id, name=name)
            .select_related("user")
            .first()
        )
        if entry is not None:
            return entry.label
    user = getattr(encounter, "auditor", None)
    return user.display_name if user is not None else (name or "—")
