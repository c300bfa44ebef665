"""Forms of the education screens: they validate and hand clean values to services."""

import re
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization
from auditcoach.audits.models import Finding
from auditcoach.education.models import MAX_RESOURCE_BYTES
from auditcoach.library.models import Reference

PATTERN_KEY_RE = re.compile(r"^[A-Z_]+:(DX|PX|LINE|-):[A-Z0-9-]{1,3}$")
DEFAULT_ATTESTATION = "I reviewed the assigned material and will apply it to my coding."


def validate_pattern_key(value: str) -> None:
    if value and not PATTERN_KEY_RE.match(value):
        raise ValidationError("A pattern key looks like ADDED:DX:J96 (kind:group:family).")


class CoderChoiceField(forms.ModelMultipleChoiceField[Coder]):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.label)


class ReferenceChoiceField(forms.ModelMultipleChoiceField[Reference]):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.citation)


class AssignForm(forms.Form):
    """Assign one piece of education to one or many coders of the organization."""

    coders = CoderChoiceField(
        queryset=Coder.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one coder."},
    )
    pattern_key = forms.CharField(
        max_length=40,
        required=False,
        help_text="kind:group:family, e.g. ADDED:DX:J96",
    )
    topic = forms.CharField(max_length=200, required=False)
    resource_title = forms.CharField(max_length=200, label="Resource title")
    resource_url = forms.URLField(
        max_length=500, required=False, label="Resource link (https)", assume_scheme="https"
    )
    resource_file = forms.FileField(required=False, label="Resource file (PDF, at most 10 MB)")
    references = ReferenceChoiceField(
        queryset=Reference.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    followup_encounters = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        label="Follow-up review after completion",
        help_text="Encounters to re-audit once completed (0 = no follow-up).",
    )
    findings = forms.ModelMultipleChoiceField(
        queryset=Finding.objects.none(),
        required=False,
        to_field_name="public_id",
        widget=forms.MultipleHiddenInput,
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        # Retired coders are not offered; their history stays where it is.
        self.fields["coders"].queryset = Coder.objects.filter(  # type: ignore[attr-defined]
            organization=organization, retired_at__isnull=True
        ).select_related("user")
        self.fields["references"].queryset = Reference.objects.filter(  # type: ignore[attr-defined]
            organization=organization, superseded_by__isnull=True
        )
        self.fields["findings"].queryset = Finding.objects.filter(  # type: ignore[attr-defined]
            organization=organization
        )
        if not self.is_bound and "due_date" not in self.initial:
            self.initial["due_date"] = timezone.localdate() + timedelta(days=14)

    def clean_pattern_key(self) -> str:
        value = str(self.cleaned_data["pattern_key"]).strip().upper()
        validate_pattern_key(value)
        return value

    def clean_resource_url(self) -> str:
        url = str(self.cleaned_data["resource_url"] or "")
        if url and not url.startswith("https://"):
            raise ValidationError("Use an https:// link.")
        return url

    def clean_resource_file(self) -> UploadedFile[bytes] | None:
        upload: UploadedFile[bytes] | None = self.cleaned_data.get("resource_file")
        if not upload:
            return None
        if (upload.size or 0) > MAX_RESOURCE_BYTES:
            raise ValidationError("The file is larger than 10 MB.")
        if not (upload.name or "").lower().endswith(".pdf"):
            raise ValidationError("Upload a PDF file.")
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise ValidationError("This file is not a PDF.")
        return upload

    def clean_due_date(self) -> Any:
        due = self.cleaned_data["due_date"]
        if due < timezone.localdate():
            raise ValidationError("The due date cannot be in the past.")
        return due

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("topic", "").strip() and not data.get("pattern_key"):
            raise ValidationError("Give a topic or a pattern key (or both).")
        if not data.get("resource_url") and not data.get("resource_file"):
            self.add_error("resource_url", "Give a link or upload a PDF.")
        return data


class CompleteForm(forms.Form):
    """The coder's completion: an attestation, and a quiz score when there was one."""

    attest = forms.BooleanField(
        label="I attest that I completed this education.",
        error_messages={"required": "Tick the attestation to complete."},
    )
    attestation_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, initial=DEFAULT_ATTESTATION
    )
    quiz_score = forms.IntegerField(
        min_value=0, max_value=100, required=False, label="Quiz score (0–100, optional)"
    )


class FollowupForm(forms.Form):
    n_encounters = forms.IntegerField(min_value=1, max_value=50, initial=5, label="Encounters")
