"""Forms of the Members screen and of accepting an invitation.

They validate what a person types (lengths within the database's limits, a real e-mail
address, a free username, a password Django's validators accept) and hand clean values to
`services_people`; they never save anything themselves.
"""

import uuid
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

from auditcoach.accounts import selectors
from auditcoach.accounts.models import Auditor, Coder, Organization, Role, User
from auditcoach.accounts.services_people import LINKABLE_ROLES, username_taken

NAME_MAX = 150  # Django's first_name / last_name / username columns


def roster_choices(organization: Organization) -> list[tuple[str, Any]]:
    """Grouped choices of the roster coders and auditors a login can be linked to."""
    coders, auditors = selectors.roster_people_unlinked(organization=organization)

    def label(entry: Coder | Auditor) -> str:
        # The workbook's key beside the person's name: the manager may know either.
        return f"{entry.label} ({entry.name})" if entry.label != entry.name else entry.name

    groups: list[tuple[str, Any]] = []
    if coders:
        groups.append(("Roster coders", [(f"coder:{c.public_id}", label(c)) for c in coders]))
    if auditors:
        groups.append(("Roster auditors", [(f"auditor:{a.public_id}", label(a)) for a in auditors]))
    return groups


def _roster_resolve(organization: Organization, value: str) -> Coder | Auditor | None:
    kind, _, raw = value.partition(":")
    try:
        public_id = uuid.UUID(raw)
    except ValueError:
        return None
    if kind == "coder":
        return Coder.objects.filter(organization=organization, public_id=public_id).first()
    if kind == "auditor":
        return Auditor.objects.filter(organization=organization, public_id=public_id).first()
    return None


def _role_check(entry: Coder | Auditor, role: str) -> None:
    allowed = LINKABLE_ROLES[type(entry)]
    if role not in allowed:
        kind = "coder" if isinstance(entry, Coder) else "auditor"
        roles = " or ".join(Role(r).label.lower() for r in allowed)
        raise ValidationError(f"A roster {kind} can only be linked to a {roles}.")


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.CODER)
    roster = forms.ChoiceField(
        label="Link to roster entry",
        required=False,
        help_text="The coder's or auditor's name in your workbooks; the new login is linked to it.",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        roster = self.fields["roster"]
        assert isinstance(roster, forms.ChoiceField)
        roster.choices = [("", "No link"), *roster_choices(organization)]
        self.fields["email"].widget.attrs.update(autocomplete="off", maxlength="254")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        value = cleaned.get("roster") or ""
        cleaned["roster_entry"] = None
        if value:
            entry = _roster_resolve(self.organization, value)
            if entry is None:
                self.add_error("roster", "Choose a roster entry from the list.")
            elif cleaned.get("role"):
                try:
                    _role_check(entry, cleaned["role"])
                except ValidationError as exc:
                    self.add_error("roster", exc)
                else:
                    cleaned["roster_entry"] = entry
        return cleaned


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class LinkForm(forms.Form):
    roster = forms.ChoiceField(label="Roster entry")

    def __init__(self, *args: Any, organization: Organization, role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.role = role
        roster = self.fields["roster"]
        assert isinstance(roster, forms.ChoiceField)
        roster.choices = [("", "Choose…"), *roster_choices(organization)]

    def clean_roster(self) -> Coder | Auditor:
        entry = _roster_resolve(self.organization, self.cleaned_data["roster"])
        if entry is None:
            raise ValidationError("Choose a roster entry from the list.")
        _role_check(entry, self.role)
        return entry


class UnlinkForm(forms.Form):
    roster = forms.CharField(max_length=60)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_roster(self) -> Coder | Auditor:
        entry = _roster_resolve(self.organization, self.cleaned_data["roster"])
        if entry is None:
            raise ValidationError("That roster entry does not exist.")
        return entry


class NewLoginForm(forms.Form):
    """Create a login while accepting an invitation (for someone without one yet)."""

    username = forms.CharField(
        label="Username",
        max_length=NAME_MAX,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ only; you sign in with it.",
    )
    first_name = forms.CharField(label="First name", max_length=NAME_MAX)
    last_name = forms.CharField(label="Last name", max_length=NAME_MAX)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=" ".join(password_validation.password_validators_help_texts()),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email
        self.fields["username"].widget.attrs.update(autocomplete="username", autofocus=True)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if username_taken(username):
            raise ValidationError(
                "This username is taken. Choose another, or sign in if it is yours."
            )
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            candidate = User(
                username=cleaned.get("username", ""),
                email=self.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned

    def as_new_user(self) -> dict[str, str]:
        return {
            "username": self.cleaned_data["username"],
            "first_name": self.cleaned_data["first_name"],
            "last_name": self.cleaned_data["last_name"],
            "password": self.cleaned_data["password1"],
            "email": self.email,
        }


def suggested_username(email: str) -> str:
    """The e-mail's local part, cut to what a username may hold; "" when that is taken."""
    validator = UnicodeUsernameValidator()
    local = email.partition("@")[0][:NAME_MAX]
    try:
        validator(local)
    except ValidationError:
        local = "".join(ch for ch in local if ch.isalnum() or ch in "@.+-_")
    if not local or username_taken(local):
        return ""
    return local
