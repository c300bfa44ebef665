"""The dashboard's filter bar, read from the query string into `MetricFilters`."""

from __future__ import annotations

from typing import Any

from django import forms

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Facility,
    Organization,
    Payer,
    Provider,
    ServiceLine,
)
from auditcoach.analytics.selectors import MetricFilters
from auditcoach.audits.models import Encounter

FILTER_FIELDS = (
    "facility",
    "service_line",
    "provider",
    "coder",
    "auditor",
    "payer",
    "setting",
    "cycle_from",
    "cycle_to",
)


def _names(qs: Any, *, current: str = "", person: bool = False) -> list[tuple[str, str]]:
    """("", "All") and the roster's active entries, value = roster name, text = what people
    read (a person's display name). A retired entry is offered only while it is the
    current choice (a bookmark or saved view), marked as retired."""
    if person:
        qs = qs.select_related("user")
    choices = [("", "All")]
    for entry in qs.order_by("name"):
        if entry.retired_at is not None and entry.name != current:
            continue
        text = entry.label if person else entry.name
        choices.append((entry.name, f"{text} (retired)" if entry.retired_at else text))
    return choices


class FilterForm(forms.Form):
    """Facility, service line, provider, coder, auditor, payer, setting and a cycle range.
    Choices come from the organization's rosters (active entries; people shown by their
    display names, matched by roster name) and its encounters' cycles; a value that is not
    among them is dropped (a stale bookmark shows everything rather than an error)."""

    facility = forms.ChoiceField(required=False)
    service_line = forms.ChoiceField(required=False, label="Service line")
    provider = forms.ChoiceField(required=False)
    coder = forms.ChoiceField(required=False)
    auditor = forms.ChoiceField(required=False)
    payer = forms.ChoiceField(required=False)
    setting = forms.ChoiceField(required=False, choices=[("", "All"), *Encounter.Setting.choices])
    cycle_from = forms.ChoiceField(required=False, label="From cycle")
    cycle_to = forms.ChoiceField(required=False, label="To cycle")

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        encounters = Encounter.objects.filter(
            organization=organization, released_at__isnull=False
        ).order_by()

        def current(name: str) -> str:
            value = self.data.get(name, "") if self.is_bound else ""
            return value if isinstance(value, str) else ""

        rosters: dict[str, tuple[Any, bool]] = {
            "facility": (Facility, False),
            "service_line": (ServiceLine, False),
            "provider": (Provider, False),
            "coder": (Coder, True),
            "auditor": (Auditor, True),
            "payer": (Payer, False),
        }
        for name, (model, person) in rosters.items():
            self.fields[name].choices = _names(  # type: ignore[attr-defined]
                model.objects.filter(organization=organization),
                current=current(name),
                person=person,
            )
        cycles = sorted(c for c in encounters.values_list("cycle", flat=True).distinct() if c)
        self.cycles = cycles
        for name in ("cycle_from", "cycle_to"):
            self.fields[name].choices = [("", "Any"), *((c, c) for c in cycles)]  # type: ignore[attr-defined]

    def metric_filters(self) -> MetricFilters:
        """The valid part of the submitted filters (invalid values are ignored)."""
        if not self.is_bound:
            return MetricFilters()
        values = {}
        for name in FILTER_FIELDS:
            field = self.fields[name]
            raw = self.data.get(name, "")
            try:
                values[name] = field.clean(raw) or ""
            except forms.ValidationError:
                values[name] = ""
        return MetricFilters(**values)


def filter_query(filters: MetricFilters, **extra: str) -> str:
    """The query string of `filters` plus `extra` (empty values left out)."""
    from urllib.parse import urlencode

    values = {name: getattr(filters, name) for name in FILTER_FIELDS}
    values.update(extra)
    return urlencode({k: v for k, v in values.items() if v})
