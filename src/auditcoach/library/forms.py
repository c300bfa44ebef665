"""Forms of the library pages: they validate what people type and hand clean values to a
service; they never save themselves (STYLE.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import RootCause
from auditcoach.library import selectors
from auditcoach.library.models import Reference, Source, TaxonomyKind
from auditcoach.library.services import REFERENCE_FIELDS


class ReferenceForm(forms.ModelForm[Reference]):
    """The citation fields; the model's `clean()` applies the per-source rules
    (`validators.validate_reference_fields`) so the messages are the same everywhere."""

    class Meta:
        model = Reference
        fields: ClassVar = list(REFERENCE_FIELDS)
        widgets: ClassVar = {"summary": forms.Textarea(attrs={"rows": 4})}
        help_texts: ClassVar = {
            "year": "Coding Clinic / CPT Assistant year, or the guidelines' fiscal year.",
            "section": "Guidelines: I.C.1.d.4, I.B.14, Section II, Section III, Appendix I.",
            "summary": "In your own words: what the advice says and when it applies.",
            "url": "Optional; https only.",
        }

    def _post_clean(self) -> None:
        # Clear what the chosen source does not use before the model validates, as the
        # service will, so a stray quarter on a guidelines reference is no error.
        from auditcoach.library.services import FREE_TEXT_FIELDS, SOURCE_FIELDS, SOURCE_SPECIFIC

        data = self.cleaned_data
        keep = SOURCE_FIELDS.get(data.get("source", ""), FREE_TEXT_FIELDS)
        for name in SOURCE_SPECIFIC:
            if name not in keep and name in data:
                data[name] = (
                    None if name in {"year", "quarter", "month", "volume", "issue", "page"} else ""
                )
        super()._post_clean()  # type: ignore[misc]  # django-stubs omit ModelForm._post_clean


class ReferenceSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    source = forms.ChoiceField(choices=[("", "All sources"), *Source.choices], required=False)
    superseded = forms.BooleanField(required=False, label="Include superseded")


class SupersedeForm(forms.Form):
    replacement = forms.ModelChoiceField(
        queryset=Reference.objects.none(), label="Replaced by", to_field_name="public_id"
    )

    def __init__(self, *args: Any, reference: Reference, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["replacement"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.reference_choices(organization=reference.organization).exclude(
            pk=reference.pk
        )


class TemplateForm(forms.Form):
    title = forms.CharField(max_length=200)
    topic = forms.ChoiceField(required=False)
    error_category = forms.ChoiceField(required=False)
    root_cause = forms.ChoiceField(required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=10_000)
    references = forms.ModelMultipleChoiceField(
        queryset=Reference.objects.none(),
        required=False,
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
        help_text="Superseded references are not offered (unless the template cites one).",
    )
    active = forms.BooleanField(required=False, initial=True)

    def __init__(
        self, *args: Any, organization: Organization, keep: tuple[int, ...] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        terms = selectors.taxonomy_terms(organization=organization, active_only=False)
        chosen = {k: str(self.initial.get(k) or "") for k in ("topic", "error_category")}

        def choices(kind: str, name: str) -> list[tuple[str, str]]:
            return [("", "—")] + [
                (t.code, t.label + ("" if t.active else " (inactive)"))
                for t in terms
                if t.kind == kind and (t.active or t.code == chosen.get(name))
            ]

        self._set_choices("topic", choices(TaxonomyKind.TOPIC, "topic"))
        self._set_choices("error_category", choices(TaxonomyKind.ERROR_CATEGORY, "error_category"))
        labels = {t.code: t.label for t in terms if t.kind == TaxonomyKind.ROOT_CAUSE}
        self._set_choices(
            "root_cause",
            [("", "—")] + [(v, labels.get(v, str(lbl))) for v, lbl in RootCause.choices],
        )
        refs = self.fields["references"]
        assert isinstance(refs, forms.ModelMultipleChoiceField)
        refs.queryset = selectors.reference_choices(organization=organization, keep=keep)

    def _set_choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_title(self) -> str:
        return " ".join(str(self.cleaned_data["title"]).split())

    def clean_body(self) -> str:
        body = str(self.cleaned_data["body"]).strip()
        if not body:
            raise forms.ValidationError("The rationale text is required.")
        return body


class TermCreateForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (TaxonomyKind.ERROR_CATEGORY, TaxonomyKind.ERROR_CATEGORY.label),
            (TaxonomyKind.TOPIC, TaxonomyKind.TOPIC.label),
        ]
    )
    label = forms.CharField(max_length=100)


class TermUpdateForm(forms.Form):
    label = forms.CharField(max_length=100)
    active = forms.BooleanField(required=False)
    position = forms.IntegerField(min_value=0, max_value=32767)


class ApplyTemplateForm(forms.Form):
    template = forms.UUIDField()
    notes_version = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class TopicForm(forms.Form):
    topic = forms.CharField(max_length=60, required=False)
    notes_version = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
