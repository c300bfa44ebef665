"""The dashboard's filter bar, read from the query string into `MetricFilters`."""

from __future__ import annotations

from typing import Any

from django import forms

from auditcoach.accounts.models import Coder, Facility, Organization, Provider, ServiceLine
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


def _names(qs: Any) -> list[tuple[str, str]]:
    return [("", "All"), *((n, n) for n in qs.order_by("name").values_list("name", flat=True))]


class FilterForm(forms.Form):
    """Facility, service line, provider, coder, auditor, payer, setting and a cycle range.
    Choices come from the organization's rosters and its encounters; a value that is not
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
        choices = {
            "facility": _names(Facility.objects.filter(organization=organization)),
            "service_line": _names(ServiceLine.objects.filter(organization=organization)),
            "provider": _names(Provider.objects.filter(organization=organization)),
            "coder": _names(Coder.objects.filter(organization=organization)),
        }
        for name, values in choices.items():
            self.fields[name].choices = values  # type: ignore[attr-defined]
        for name, column in (("auditor", "auditor_name"), ("payer", "payer")):
            values = sorted(v for v in encounters.values_list(column, flat=True).distinct() if v)
            self.fields[name].choices = [("", "All"), *((v, v) for v in values)]  # type: ignore[attr-defined]
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
