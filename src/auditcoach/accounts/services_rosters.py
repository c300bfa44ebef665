"""Writes of the roster screen (managers): rename, retire / restore, merge.

A roster entry's `name` is the key a workbook's column matches, and some places keep that
name as text rather than as a reference: `Encounter.payer`, `Encounter.auditor_name` and
the filters of saved dashboard views. Renaming or merging rewrites them in the same
transaction as the entry, so every screen and metric keeps agreeing with the roster.
Each operation writes one audit-log entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Facility,
    Organization,
    Payer,
    Provider,
    RosterEntry,
    ServiceLine,
    User,
)
from auditcoach.analytics.models import DashboardView
from auditcoach.auditlog import services as auditlog
from auditcoach.audits.models import Encounter


class RosterError(Exception):
    """A roster change that cannot be made (a name clash, a merge into itself...)."""


@dataclass(frozen=True, slots=True)
class RosterKind:
    """One roster of the screen: its model and where its names live outside it."""

    slug: str
    model: type[RosterEntry]
    title: str
    singular: str
    filter_key: str  # the key of saved views' filters (analytics.forms.FILTER_FIELDS)
    encounter_fk: str | None  # Encounter's reference to the entry, when it has one
    text_column: str | None  # Encounter's column that stores the entry's name as text
    max_name: int  # the tightest column the name is written to
    person: bool = False

    @property
    def manager(self) -> Any:
        """The model's manager, untyped: mypy cannot see the concrete `organization` FK."""
        return self.model._default_manager

    @property
    def obj_type(self) -> str:
        return self.model._meta.model_name or self.singular


def _column_max(field: str) -> int:
    column = Encounter._meta.get_field(field)
    assert isinstance(column, models.CharField)
    assert column.max_length is not None
    max_length: int = column.max_length
    return min(max_length, 200)


KINDS: Final[dict[str, RosterKind]] = {
    k.slug: k
    for k in (
        RosterKind("facilities", Facility, "Facilities", "facility", "facility", "facility", None, 200),
        RosterKind(
            "service-lines", ServiceLine, "Service lines", "service line", "service_line",
            "service_line", None, 200,
        ),
        RosterKind("providers", Provider, "Providers", "provider", "provider", "provider", None, 200),
        RosterKind("coders", Coder, "Coders", "coder", "coder", "coder", None, 200, person=True),
        RosterKind(
            "auditors", Auditor, "Auditors", "auditor", "auditor", None, "auditor_name",
            _column_max("auditor_name"), person=True,
        ),
        RosterKind("payers", Payer, "Payers", "payer", "payer", None, "payer", _column_max("payer")),
    )
}  # fmt: skip


def kind_of(entry: RosterEntry) -> RosterKind:
    for kind in KINDS.values():
        if isinstance(entry, kind.model):
            return kind
    raise RosterError(f"{type(entry).__name__} is not a roster")


def references(model: type[RosterEntry]) -> Iterator[models.ForeignObjectRel]:
    """Every foreign key of any model that points at `model` (hidden ones included)."""
    for rel in model._meta.get_fields(include_hidden=True):
        if isinstance(rel, models.ForeignObjectRel) and rel.auto_created and not rel.concrete:
            if rel.many_to_many:
                raise RosterError(f"{rel.related_model} refers to {model} many-to-many")
            yield rel


def _related(rel: models.ForeignObjectRel) -> type[models.Model]:
    related = rel.related_model
    assert isinstance(related, type)
    assert issubclass(related, models.Model)
    return related


def _rel_label(rel: models.ForeignObjectRel) -> str:
    return f"{_related(rel)._meta.label_lower}.{rel.field.name}"


def _views_rewrite(*, organization: Organization, key: str, old: str, new: str) -> int:
    moved = 0
    for view in DashboardView.objects.select_for_update().filter(organization=organization):
        filters = view.filters if isinstance(view.filters, dict) else {}
        if filters.get(key) == old:
            view.filters = {**filters, key: new}
            view.save(update_fields=["filters", "updated_at"])
            moved += 1
    return moved


def _clash(kind: RosterKind, organization: Organization, name: str, exclude: int) -> bool:
    found: bool = (
        kind.manager.filter(organization=organization, name=name).exclude(pk=exclude).exists()
    )
    return found


def _check_name(kind: RosterKind, name: str) -> str:
    name = name.strip()
    if not name:
        raise RosterError("A name cannot be empty.")
    if len(name) > kind.max_name:
        raise RosterError(f"A {kind.singular} name has at most {kind.max_name} characters.")
    return name


@transaction.atomic
def roster_entry_update(
    *,
    entry: RosterEntry,
    name: str,
    display_name: str | None = None,
    actor: User,
    request: HttpRequest | None = None,
) -> dict[str, object]:
    """Rename an entry (and set a person's display name); returns the logged changes.

    A name another entry of the same kind already has is refused (merge them instead).
    The entry's name is rewritten where encounters and saved views keep it as text.
    """
    kind = kind_of(entry)
    name = _check_name(kind, name)
    entry = kind.manager.select_for_update().get(pk=entry.pk)
    organization = Organization.objects.get(pk=entry.organization_id)
    changes: dict[str, object] = {}
    old = entry.name
    if name != old:
        if _clash(kind, organization, name, exclude=entry.pk):
            raise RosterError(
                f"Another {kind.singular} is already called “{name}”. "
                f"To make them one, merge this {kind.singular} into it."
            )
        entry.name = name
        changes["name"] = [old, name]
        if kind.text_column:
            changes["encounters_rewritten"] = Encounter.objects.filter(
                organization=organization, **{kind.text_column: old}
            ).update(**{kind.text_column: name})
        changes["saved_views_rewritten"] = _views_rewrite(
            organization=organization, key=kind.filter_key, old=old, new=name
        )
    if kind.person and display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > 200:
            raise RosterError("A display name has at most 200 characters.")
        current: str = getattr(entry, "display_name", "")
        if display_name != current:
            changes["display_name"] = [current, display_name]
            setattr(entry, "display_name", display_name)  # noqa: B010 (PersonEntry only)
    if not changes:
        return changes
    try:
        with transaction.atomic():
            entry.save(update_fields=["name", "display_name"] if kind.person else ["name"])
    except IntegrityError as exc:  # a concurrent rename took the name first
        raise RosterError(f"Another {kind.singular} is already called “{name}”.") from exc
    auditlog.log_write(
        organization=organization,
        actor=actor,
        action=f"{kind.obj_type}.update",
        obj_type=kind.obj_type,
        obj_id=entry.public_id,
        changes=changes,
        request=request,
    )
    return changes


@transaction.atomic
def roster_entry_retire(
    *, entry: RosterEntry, retired: bool, actor: User, request: HttpRequest | None = None
) -> bool:
    """Retire (hide from pickers and filters) or restore an entry; False when unchanged.

    History is untouched: a retired entry's encounters still count and show its name.
    """
    kind = kind_of(entry)
    entry = kind.manager.select_for_update().get(pk=entry.pk)
    if (entry.retired_at is not None) == retired:
        return False
    entry.retired_at = timezone.now() if retired else None
    entry.save(update_fields=["retired_at"])
    auditlog.log_write(
        organization=Organization.objects.get(pk=entry.organization_id),
        actor=actor,
        action=f"{kind.obj_type}.{'retire' if retired else 'restore'}",
        obj_type=kind.obj_type,
        obj_id=entry.public_id,
        changes={"name": entry.name, "retired": retired},
        request=request,
    )
    return True


def merge_preview(*, merged: RosterEntry, survivor: RosterEntry) -> dict[str, int]:
    """What merging `merged` into `survivor` would move: label → rows (non-zero only)."""
    kind = kind_of(merged)
    counts: dict[str, int] = {}
    for rel in references(kind.model):
        n = _related(rel)._base_manager.filter(**{rel.field.name: merged}).count()
        if n:
            counts[_rel_label(rel)] = n
    if kind.text_column:
        n = Encounter.objects.filter(
            organization_id=merged.organization_id, **{kind.text_column: merged.name}
        ).count()
        if n:
            counts[f"audits.encounter.{kind.text_column}"] = n
    views = sum(
        1
        for f in DashboardView.objects.filter(organization_id=merged.organization_id).values_list(
            "filters", flat=True
        )
        if isinstance(f, dict) and f.get(kind.filter_key) == merged.name
    )
    if views:
        counts["analytics.dashboardview.filters"] = views
    return counts


@transaction.atomic
def roster_entry_merge(
    *,
    merged: RosterEntry,
    survivor: RosterEntry,
    actor: User,
    request: HttpRequest | None = None,
) -> dict[str, int]:
    """Merge `merged` into `survivor` (same kind, same organization), then delete it.

    Every foreign key to the merged entry follows the survivor (found from the model's
    relations, so a new one cannot be forgotten); the names kept as text (encounters'
    payer and auditor, saved views' filters) are rewritten; a person's linked login moves
    to the survivor when the survivor has none. Returns the rows moved per place.
    """
    if type(merged) is not type(survivor):
        raise RosterError("Only entries of the same roster can be merged.")
    if merged.organization_id != survivor.organization_id:
        raise RosterError("Entries of another organization cannot be merged.")
    if merged.pk == survivor.pk:
        raise RosterError("An entry cannot be merged into itself.")
    kind = kind_of(merged)
    manager = kind.manager
    # Lock both, in pk order, so two merges of the same pair cannot deadlock.
    locked = {
        e.pk: e
        for e in manager.select_for_update().filter(pk__in=[merged.pk, survivor.pk]).order_by("pk")
    }
    if len(locked) != 2:
        raise RosterError("One of the entries no longer exists.")
    merged, survivor = locked[merged.pk], locked[survivor.pk]
    organization = Organization.objects.get(pk=merged.organization_id)
    moved: dict[str, int] = {}
    login_moved = False
    if kind.person:
        merged_user = getattr(merged, "user_id", None)
        if merged_user is not None and getattr(survivor, "user_id", None) is None:
            merged.user_id = None  # type: ignore[attr-defined]
            merged.save(update_fields=["user"])  # type: ignore[misc]
            survivor.user_id = merged_user  # type: ignore[attr-defined]
            survivor.save(update_fields=["user"])  # type: ignore[misc]
            login_moved = True
    try:
        with transaction.atomic():
            for rel in references(kind.model):
                n = (
                    _related(rel)
                    ._base_manager.filter(**{rel.field.name: merged})
                    .update(**{rel.field.name: survivor})
                )
                if n:
                    moved[_rel_label(rel)] = n
    except IntegrityError as exc:
        raise RosterError(
            f"These two {kind.title.lower()} cannot be merged: {exc.__class__.__name__} "
            "on a record that may exist once per entry."
        ) from exc
    if kind.text_column:
        updates: dict[str, object] = {kind.text_column: survivor.name}
        encounters = Encounter.objects.filter(organization=organization)
        n = encounters.filter(**{kind.text_column: merged.name}).update(**updates)
        if n:
            moved[f"audits.encounter.{kind.text_column}"] = n
        survivor_user = getattr(survivor, "user_id", None)
        if kind.model is Auditor and survivor_user is not None:
            encounters.filter(auditor_name=survivor.name).exclude(auditor_id=survivor_user).update(
                auditor_id=survivor_user
            )
    views = _views_rewrite(
        organization=organization, key=kind.filter_key, old=merged.name, new=survivor.name
    )
    if views:
        moved["analytics.dashboardview.filters"] = views
    merged_name, merged_id = merged.name, merged.public_id
    merged.delete()
    auditlog.log_write(
        organization=organization,
        actor=actor,
        action=f"{kind.obj_type}.merge",
        obj_type=kind.obj_type,
        obj_id=survivor.public_id,
        changes={
            "merged": merged_name,
            "merged_id": str(merged_id),
            "survivor": survivor.name,
            "moved": moved,
            "login_moved": login_moved,
        },
        request=request,
    )
    return moved
