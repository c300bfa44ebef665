"""Forms of the overread screens: they validate what a person types and hand clean values
to the services. A blind line is validated exactly like a workspace line
(`audits.forms.AuditedLineForm`), without the workspace's optimistic lock."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.forms import AuditedLineForm, DispositionForm
from auditcoach.audits.models import Audit, Encounter
from auditcoach.overreads.selectors import auditing_members
from auditcoach.overreads.services import MIN_CALIBRATION_AUDITORS, BlindLine


class MemberChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class MembersChoiceField(forms.ModelMultipleChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name


class PlanForm(forms.Form):
    auditor = MemberChoiceField(queryset=User.objects.none(), label="Auditor to overread")
    cycle = forms.CharField(max_length=40, help_text="The encounters' cycle label, e.g. 2026-Q3.")
    share = forms.IntegerField(
        min_value=1, max_value=100, label="Share (%)", help_text="1 to 100 percent."
    )
    reviewer = MemberChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Second auditor",
        empty_label="The auditor with the fewest open overreads",
    )
    seed = forms.IntegerField(
        min_value=0,
        max_value=2**31 - 1,
        required=False,
        help_text="Makes the pick reproducible; left blank, one is drawn at random.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = auditing_members(organization)
        self.fields["auditor"].queryset = members  # type: ignore[attr-defined]
        self.fields["reviewer"].queryset = members  # type: ignore[attr-defined]

    def clean_cycle(self) -> str:
        return str(self.cleaned_data["cycle"]).strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        auditor, reviewer = cleaned.get("auditor"), cleaned.get("reviewer")
        if auditor is not None and reviewer is not None and auditor.pk == reviewer.pk:
            self.add_error("reviewer", "The second auditor must be someone else.")
        return cleaned


class BlindLineForm(AuditedLineForm):
    """One line of the blind version: the workspace's validation, no lock version."""

    lock_version = None  # type: ignore[assignment]  # removes the workspace's lock field

    def blind_line(self) -> BlindLine:
        line = self.audited_line()
        return BlindLine(
            system=line.system,
            code=line.code,
            poa=line.poa,
            modifiers=line.modifiers,
            units=line.units,
        )


class BlindDispositionForm(DispositionForm):
    lock_version = None  # type: ignore[assignment]


_IDS = re.compile(r"[\s,;]+")


class CalibrationForm(forms.Form):
    name = forms.CharField(max_length=200)
    audit = forms.ModelChoiceField(queryset=Audit.objects.none(), label="Audit")
    external_ids = forms.CharField(
        label="Encounter ids",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The encounters' ids in that audit, separated by commas or new lines.",
    )
    auditors = MembersChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=f"At least {MIN_CALIBRATION_AUDITORS}.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["audit"].queryset = Audit.objects.filter(  # type: ignore[attr-defined]
            organization=organization
        ).order_by("name")
        self.fields["auditors"].queryset = auditing_members(organization)  # type: ignore[attr-defined]

    def clean_auditors(self) -> list[User]:
        auditors = list(self.cleaned_data["auditors"])
        if len(auditors) < MIN_CALIBRATION_AUDITORS:
            raise ValidationError(f"Choose at least {MIN_CALIBRATION_AUDITORS} auditors.")
        return auditors

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        audit = cleaned.get("audit")
        raw = cleaned.get("external_ids") or ""
        if audit is None or not raw:
            return cleaned
        ids = list(dict.fromkeys(i for i in _IDS.split(raw.strip()) if i))
        found = {
            e.external_id: e
            for e in Encounter.objects.filter(
                organization=self.organization, audit=audit, external_id__in=ids
            )
        }
        missing = [i for i in ids if i not in found]
        if missing:
            self.add_error("external_ids", f"Not in {audit.name}: {', '.join(missing[:10])}.")
        cleaned["encounters"] = [found[i] for i in ids if i in found]
        return cleaned
