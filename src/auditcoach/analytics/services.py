"""Writes of the analytics area: saved dashboard views. Each one logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from auditcoach.accounts.models import Organization, User
from auditcoach.analytics.dashboard import WIDGETS
from auditcoach.analytics.forms import FILTER_FIELDS
from auditcoach.analytics.models import DashboardView
from auditcoach.auditlog.services import log_write


class DashboardViewError(ValueError):
    pass


def _clean(
    name: str, widgets: Sequence[str], filters: Mapping[str, Any]
) -> tuple[str, list[str], dict[str, str]]:
    name = name.strip()
    if not name:
        raise DashboardViewError("Give the view a name.")
    if len(name) > 100:
        raise DashboardViewError("A view's name has at most 100 characters.")
    chosen: list[str] = []
    for key in widgets:
        if key not in WIDGETS:
            raise DashboardViewError(f"Unknown widget {key!r}.")
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise DashboardViewError("Choose at least one widget.")
    kept = {k: str(v)[:100] for k, v in filters.items() if k in FILTER_FIELDS and v}
    return name, chosen, kept


@transaction.atomic
def dashboard_view_save(
    *,
    organization: Organization,
    owner: User,
    name: str,
    widgets: Sequence[str],
    filters: Mapping[str, Any],
    shared: bool,
    view: DashboardView | None = None,
) -> DashboardView:
    """Create a view, or change `view` (its owner's only). Widgets keep the given order."""
    name, chosen, kept = _clean(name, widgets, filters)
    if view is not None and (view.owner_id != owner.pk or view.organization_id != organization.pk):
        raise DashboardViewError("Only its owner can change a view.")
    clash = DashboardView.objects.filter(organization=organization, owner=owner, name=name)
    if view is not None:
        clash = clash.exclude(pk=view.pk)
    if clash.exists():
        raise DashboardViewError(f"You already have a view named “{name}”.")
    if view is None:
        view = DashboardView.objects.create(
            organization=organization,
            owner=owner,
            name=name,
            widgets=chosen,
            filters=kept,
            shared=shared,
        )
        action = "dashboard_view.create"
    else:
        view.name, view.widgets, view.filters, view.shared = name, chosen, kept, shared
        view.save(update_fields=["name", "widgets", "filters", "shared", "updated_at"])
        action = "dashboard_view.update"
    log_write(
        organization=organization,
        actor=owner,
        action=action,
        obj_type="dashboard_view",
        obj_id=str(view.public_id),
        changes={"name": name, "widgets": chosen, "filters": kept, "shared": shared},
    )
    return view


@transaction.atomic
def dashboard_view_delete(*, view: DashboardView, actor: User) -> None:
    if view.owner_id != actor.pk:
        raise DashboardViewError("Only its owner can delete a view.")
    log_write(
        organization=view.organization,
        actor=actor,
        action="dashboard_view.delete",
        obj_type="dashboard_view",
        obj_id=str(view.public_id),
        changes={"name": view.name},
    )
    view.delete()
