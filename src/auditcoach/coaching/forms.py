"""Forms of the coaching screens: they validate what people type and hand clean values to
the services; they never save themselves."""

from __future__ import annotations

from typing import Any

from django import forms

from auditcoach.accounts.models import Organization
from auditcoach.audits.forms import AuditedLineForm
from auditcoach.audits.models import Finding
from auditcoach.audits.services import AuditedLine
from auditcoach.coaching.selectors import references_for
from auditcoach.library.models import Reference

RATIONALE_MAX = 10000


class ReferenceChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.citation)


class DisputeForm(forms.Form):
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=RATIONALE_MAX, strip=True
    )
    references = ReferenceChoiceField(
        queryset=Reference.objects.none(),
        required=False,
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["references"]
        assert isinstance(field, ReferenceChoiceField)
        field.queryset = references_for(organization=organization)


class RationaleForm(forms.Form):
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=RATIONALE_MAX, strip=True
    )


DECISION_CHOICES = [
    (Finding.Status.UPHELD, "Upheld: the finding stands"),
    (Finding.Status.OVERTURNED, "Overturned: restore the coder's coding"),
    (Finding.Status.MODIFIED, "Modified: change the audited coding"),
]


class DecideForm(forms.Form):
    """A decision with its rationale; for `modified`, the decided code line (system, code,
    POA, modifiers, units, validated like the workspace's line form) or, for a disposition
    or DRG finding, the decided disposition."""

    decision = forms.ChoiceField(choices=DECISION_CHOICES, widget=forms.RadioSelect)
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=RATIONALE_MAX, strip=True
    )
    system = forms.CharField(required=False, max_length=8)
    code = forms.CharField(required=False, max_length=12)
    poa = forms.CharField(required=False, max_length=1)
    modifiers = forms.CharField(required=False, max_length=40)
    units = forms.IntegerField(required=False, min_value=1, max_value=9999)

    def __init__(self, *args: Any, finding: Finding, **kwargs: Any) -> None:
        self.finding = finding
        super().__init__(*args, **kwargs)
        self.new_line: AuditedLine | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") != Finding.Status.MODIFIED:
            return data
        code = (data.get("code") or "").strip()
        if not code:
            self.add_error("code", "A modified decision needs the code decided on.")
            return data
        if self.finding.group == "-":
            if not (len(code) == 2 and code.isdigit()):
                self.add_error("code", "Give the decided discharge disposition (2 digits).")
                return data
            self.new_line = AuditedLine(system="", code=code)
            return data
        line_form = AuditedLineForm(
            {
                "lock_version": 1,  # the decision reads the encounter's own lock version
                "system": data.get("system") or "",
                "code": code,
                "poa": data.get("poa") or "",
                "modifiers": data.get("modifiers") or "",
                "units": data.get("units") or 1,
            },
            inpatient=self.finding.encounter.setting == "inpatient",
        )
        if not line_form.is_valid():
            for errors in line_form.errors.values():
                for error in errors:
                    self.add_error(None, error)
            return data
        self.new_line = line_form.audited_line()
        return data


class CommentForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=RATIONALE_MAX, strip=True
    )
    parent = forms.UUIDField(required=False, widget=forms.HiddenInput)


class AttachmentForm(forms.Form):
    file = forms.FileField()


class ReleaseForm(forms.Form):
    coder = forms.UUIDField(required=False)
