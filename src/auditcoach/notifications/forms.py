"""The e-mail preferences form: one checkbox per notification kind."""

from typing import Any

from django import forms

from auditcoach.notifications.models import Kind


class PreferencesForm(forms.Form):
    def __init__(self, *args: Any, current: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in Kind.choices:
            self.fields[kind] = forms.BooleanField(
                required=False, label=label, initial=current.get(kind, False)
            )

    def email_kinds(self) -> list[str]:
        return [kind for kind in Kind.values if self.cleaned_data.get(kind)]
