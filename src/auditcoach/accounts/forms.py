"""Forms of the accounts interface: signing in (password, two-factor code), passwords.

Every field is bounded (a password is hashed with Argon2: an unbounded one is a cheap way to
burn a server's CPU), and the forms only validate: writes go through `accounts.services`.
"""

import logging
import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from auditcoach.accounts import services, throttle
from auditcoach.accounts.models import LoginAttempt, User

logger = logging.getLogger(__name__)

PASSWORD_MAX_LENGTH = 1024
REFUSED_MESSAGE = (
    "Too many sign-in attempts. Wait %(wait)s and try again. If you have forgotten your "
    "password, use “Forgot your password?” below."
)
CODE_HELP = "The 6-digit code from your authenticator app, or one of your recovery codes."
_TOTP_RE = re.compile(r"^\d{6}$")
_RECOVERY_RE = re.compile(r"^[a-z2-7]{8,16}$")


def _bound_passwords(form: forms.Form, *names: str, autocomplete: str) -> None:
    for name in names:
        field = form.fields[name]
        assert isinstance(field, forms.CharField)
        field.max_length = PASSWORD_MAX_LENGTH
        field.validators.append(MaxLengthValidator(PASSWORD_MAX_LENGTH))
        field.widget.attrs.update({"autocomplete": autocomplete, "maxlength": PASSWORD_MAX_LENGTH})


class SignInForm(auth_forms.AuthenticationForm):
    """Django's login form behind the throttle (`accounts.throttle`).

    The attempt is recorded and counted before the password is checked; a refused attempt
    says how long to wait and nothing about whether the username exists. `decision` is
    left for the view, which finishes the attempt (signed in, or code still due).
    """

    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": (
            "The username or password is not right. Check both and try again "
            "(the password is case-sensitive)."
        ),
        "rate_limited": REFUSED_MESSAGE,
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.decision: throttle.Decision | None = None
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        _bound_passwords(self, "password", autocomplete="current-password")

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data  # the field errors say what is missing
        known = self.request is not None and throttle.is_known_device(self.request, username)
        decision = throttle.sign_in_attempt_begin(
            kind=LoginAttempt.Kind.PASSWORD,
            username=username,
            request=self.request,
            known_device=known,
        )
        self.decision = decision
        if not decision.allowed:
            services.login_throttled_record(
                username=username,
                reason=decision.reason,
                retry_after=decision.retry_after,
                request=self.request,
            )
            raise ValidationError(
                self.error_messages["rate_limited"],
                code="rate_limited",
                params={"wait": decision.wait_text},
            )
        try:
            return super().clean()
        except ValidationError:
            throttle.attempt_finish(decision, LoginAttempt.Outcome.FAILED)
            services.login_failure_record(
                username=username,
                failures=throttle.failures_in_window(username),
                request=self.request,
            )
            raise

    @property
    def is_rate_limited(self) -> bool:
        return any(error.code == "rate_limited" for error in self.non_field_errors().as_data())


def normalize_code(raw: str) -> str:
    """What people type: spaces and hyphens dropped, recovery codes in lower case."""
    return re.sub(r"[\s-]+", "", raw).lower()


class SignInCodeForm(forms.Form):
    """The second step: a code from the authenticator app or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text=CODE_HELP,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if not (_TOTP_RE.match(code) or _RECOVERY_RE.match(code)):
            raise ValidationError(
                "Enter the 6 digits your authenticator app shows, or a recovery code.",
                code="format",
            )
        return code

    @property
    def is_recovery_code(self) -> bool:
        return not _TOTP_RE.match(self.cleaned_data.get("code", ""))


class TwoFactorConfirmForm(forms.Form):
    """Enrolment: the first code from the app, which proves it holds the key."""

    code = forms.CharField(
        label="Code from the app",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if not _TOTP_RE.match(code):
            raise ValidationError("Enter the 6 digits your authenticator app shows.", code="format")
        return code


class PasswordConfirmForm(forms.Form):
    """Asks for the signed-in user's password before a sensitive change."""

    password = forms.CharField(label="Your password", strip=False, widget=forms.PasswordInput)

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        _bound_passwords(self, "password", autocomplete="current-password")

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.", code="wrong_password")
        return password


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form (old password, new one twice, the validators), bounded; saves nothing."""

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        _bound_passwords(self, "old_password", autocomplete="current-password")
        _bound_passwords(self, "new_password1", "new_password2", autocomplete="new-password")


class SetPasswordForm(auth_forms.SetPasswordForm[User]):
    """The reset link's form (new password twice, the validators), bounded; saves nothing."""

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        _bound_passwords(self, "new_password1", "new_password2", autocomplete="new-password")


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Asks for an e-mail address; `send` mails one message with a link per account."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "E-mail address"

    def send(self, *, request: HttpRequest) -> int:
        """Send one plain-text e-mail to the address when accounts have it; returns how
        many accounts the message covers (0: nothing sent). The message names the account
        and carries the link, nothing else (no organization, no patient data)."""
        email: str = self.cleaned_data["email"]
        users = list(self.get_users(email))
        if not users:
            return 0
        site = get_current_site(request)
        base = f"{'https' if request.is_secure() else 'http'}://{site.domain}"
        accounts = [
            {
                "username": user.get_username(),
                "url": base
                + reverse(
                    "accounts:password_reset_confirm",
                    kwargs={
                        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                        "token": default_token_generator.make_token(user),
                    },
                ),
            }
            for user in sorted(users, key=lambda u: u.pk)
        ]
        context = {
            "accounts": accounts,
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            "login_url": base + reverse("accounts:login"),
        }
        body = render_to_string("registration/password_reset_email.txt", context)
        subject = "Reset your AuditCoach password"
        # To the address as the account has it (the form matched it case-insensitively).
        to = users[0].email
        try:
            EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()
        except Exception:
            # The person sees the same page as for any address (a failure must not tell
            # them the address has an account); operators see the error in the logs.
            logger.exception("could not send the password reset e-mail")
            return 0
        return len(accounts)
