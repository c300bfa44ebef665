"""Forms of the organization settings and roster screens. They validate what a manager
types and hand clean values to `services_settings` / `services_rosters`; they never save."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from django import forms

from auditcoach.accounts.models import Organization, RosterEntry
from auditcoach.audits import score_settings
from auditcoach.engine.model import FINDING_KINDS, GROUPS
from auditcoach.engine.scoring import HEADLINES

NAME_MAX: Final = 200  # RosterEntry.name, PersonEntry.display_name, Organization.name
BASE_RATE_MAX: Final = Decimal("9999999999.99")  # Decimal(12, 2)

KIND_LABELS: Final = {
    "ADDED": "Added (missed code)",
    "DELETED": "Deleted (unsupported code)",
    "REVISED": "Revised",
    "RESEQUENCED": "Resequenced principal",
    "POA_CHANGED": "POA changed",
    "MODIFIER_CHANGED": "Modifier changed",
    "UNITS_CHANGED": "Units changed",
    "DRG_CHANGED": "DRG changed",
    "DISPOSITION_CHANGED": "Disposition changed",
}


def _weight_field(kind: str) -> str:
    return f"weight_{kind.lower()}"


class OrganizationSettingsForm(forms.Form):
    """Name, SLA, the score settings new audits copy, the default base rate, two-factor."""

    name = forms.CharField(max_length=NAME_MAX, strip=True, label="Organization name")
    response_sla_days = forms.IntegerField(
        min_value=1,
        max_value=365,
        label="Response SLA (days)",
        help_text="Coders are expected to answer a released finding within this many days.",
    )
    headline = forms.ChoiceField(
        choices=list(HEADLINES.items()),
        label="Headline score",
        help_text="The score the audit summary leads with, with its n and 95% Wilson interval.",
    )
    groups = forms.MultipleChoiceField(
        choices=[(g, g) for g in GROUPS],
        widget=forms.CheckboxSelectMultiple,
        label="Groups that count",
        help_text="Pooled headlines and the weighted error score count these code groups.",
    )
    default_base_rate = forms.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        # max_digits bounds it to BASE_RATE_MAX (one message, not two, for a huge number).
        error_messages={
            "max_digits": "Enter an amount under $10,000,000,000.",
            "max_whole_digits": "Enter an amount under $10,000,000,000.",
            "max_decimal_places": "Enter dollars and cents (at most 2 decimals).",
            "min_value": "Enter an amount above $0 (or leave it empty).",
            "invalid": "Enter an amount in dollars, like 6848.98.",
        },
        label="Default base rate (dollars)",
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"}
        ),
        help_text="For inpatient Δ$ where the facility has no base rate; empty for the "
        "national standardized amount. New imports store the rate in force.",
    )
    require_manager_two_factor = forms.BooleanField(
        required=False,
        label="Managers must sign in with two-factor authentication",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in FINDING_KINDS:
            self.fields[_weight_field(kind)] = forms.DecimalField(
                max_digits=4,
                decimal_places=2,
                min_value=Decimal(0),
                max_value=score_settings.WEIGHT_MAX,
                label=KIND_LABELS[kind],
                widget=forms.NumberInput(attrs={"step": "0.25", "class": "rate-input"}),
            )

    @property
    def weight_fields(self) -> list[forms.BoundField]:
        return [self[_weight_field(kind)] for kind in FINDING_KINDS]

    @staticmethod
    def initial_for(organization: Organization) -> dict[str, Any]:
        stored = score_settings.merged(
            organization.score_settings, default_base_rate=organization.default_base_rate
        )
        initial: dict[str, Any] = {
            "name": organization.name,
            "response_sla_days": organization.response_sla_days,
            "headline": score_settings.headline_of(stored),
            "groups": score_settings.groups_of(stored),
            "default_base_rate": organization.default_base_rate,
            "require_manager_two_factor": organization.require_manager_two_factor,
        }
        for kind, weight in score_settings.weights_of(stored).items():
            initial[_weight_field(kind)] = score_settings.weight_text(weight)
        return initial

    def score_settings(self) -> dict[str, Any]:
        """The editable score settings, as `Organization.score_settings` stores them."""
        data = self.cleaned_data
        return score_settings.clean(
            {
                "headline": data["headline"],
                "groups": data["groups"],
                "weights": {
                    kind: score_settings.weight_text(data[_weight_field(kind)])
                    for kind in FINDING_KINDS
                },
            }
        )


class RosterEditForm(forms.Form):
    """Rename an entry (the workbook key) and, for people, the display name people read."""

    name = forms.CharField(
        max_length=NAME_MAX,
        strip=True,
        label="Name (workbook key)",
        help_text="What an imported workbook's column must say to match this entry.",
    )
    display_name = forms.CharField(
        max_length=NAME_MAX,
        strip=True,
        required=False,
        label="Display name",
        help_text="The person's name as screens show it; empty to use the linked login's "
        "full name, else the workbook key.",
    )

    def __init__(self, *args: Any, person: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not person:
            del self.fields["display_name"]

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if any(ord(ch) < 32 for ch in name):
            raise forms.ValidationError("A name cannot contain control characters.")
        return name

    def clean_display_name(self) -> str:
        name: str = self.cleaned_data.get("display_name", "")
        if any(ord(ch) < 32 for ch in name):
            raise forms.ValidationError("A name cannot contain control characters.")
        return name


class RosterMergeForm(forms.Form):
    """Pick the survivor an entry is merged into (entries of the same kind and organization)."""

    into = forms.ChoiceField(label="Merge into (the entry that stays)")

    def __init__(self, *args: Any, candidates: list[RosterEntry], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = {str(c.public_id): c for c in candidates}
        self.fields["into"].choices = [  # type: ignore[attr-defined]
            ("", "Choose…"),
            *((key, _entry_text(c)) for key, c in self.candidates.items()),
        ]

    def survivor(self) -> RosterEntry:
        return self.candidates[self.cleaned_data["into"]]


def _entry_text(entry: RosterEntry) -> str:
    label = getattr(entry, "label", entry.name)
    text = entry.name if label == entry.name else f"{label} ({entry.name})"
    return f"{text} — retired" if entry.retired_at else text
