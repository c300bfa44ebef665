"""Forms of the accounts interface."""

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from auditcoach.accounts import services
from auditcoach.auditlog import services as auditlog

LOCKED_MESSAGE = (
    "Too many failed sign-in attempts for this username. "
    "Wait 15 minutes and try again, or ask your manager to check your account."
)


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing a username after too many failures (settings.LOGIN_RATE_LIMIT).

    A locked username is refused even with the right password, so guessing cannot go on
    in the background; the lock lifts on its own when the 15-minute window ends.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "rate_limited": LOCKED_MESSAGE,
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and services.login_is_locked(username):
            auditlog.log_write(
                organization=None,
                actor=None,
                action="auth.login_locked",
                obj_type="user",
                obj_id=None,
                request=self.request,
            )
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if username and getattr(exc, "code", None) == "invalid_login":
                services.login_failure_record(username=username, request=self.request)
            raise
        if username:
            services.login_failures_clear(username)
        return cleaned

    @property
    def is_rate_limited(self) -> bool:
        return any(error.code == "rate_limited" for error in self.non_field_errors().as_data())
