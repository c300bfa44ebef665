"""Reads of the roster screen, always from the organization."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from auditcoach.accounts.models import Organization, PersonEntry, RosterEntry
from auditcoach.accounts.services_rosters import KINDS, RosterKind
from auditcoach.audits.models import Encounter


def roster_kind(slug: str) -> RosterKind:
    try:
        return KINDS[slug]
    except KeyError:
        raise Http404("No such roster") from None


def roster_entries(*, organization: Organization, kind: RosterKind) -> QuerySet[RosterEntry]:
    """The roster's entries by name, each with `encounters` (how many encounters use it)
    and, for people, the linked login; one query."""
    if kind.encounter_fk:
        match = {kind.encounter_fk: OuterRef("pk")}
    else:
        assert kind.text_column
        match = {kind.text_column: OuterRef("name")}
    used = (
        Encounter.objects.filter(organization=organization, **match)
        .order_by()
        .values("organization")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = kind.manager.filter(organization=organization).annotate(
        encounters=Coalesce(
            Subquery(used, output_field=IntegerField()), Value(0), output_field=IntegerField()
        )
    )
    if kind.person:
        qs = qs.select_related("user")
    ordered: QuerySet[RosterEntry] = qs.order_by("name")
    return ordered


def roster_entry_get(
    *, organization: Organization, kind: RosterKind, public_id: uuid.UUID | str
) -> RosterEntry:
    qs = kind.manager.filter(organization=organization, public_id=public_id)
    if kind.person:
        qs = qs.select_related("user")
    entry: RosterEntry | None = qs.first()
    if entry is None:
        raise Http404("No such entry")
    return entry


def person_labels(*, organization: Organization, model: type[PersonEntry]) -> dict[str, str]:
    """Roster name → the label people read, for the names kept as text (one query)."""
    manager: Any = model._default_manager
    qs = manager.filter(organization_id=organization.pk).select_related("user")
    return {entry.name: getattr(entry, "label", entry.name) for entry in qs}
