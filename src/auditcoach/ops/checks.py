"""The SECRET_KEY rule: serving pages needs a real key from the environment.

Management commands that never serve (score, import, metrics) keep working without one,
on a fallback key; the WSGI application, `auditcoach serve` and `check --deploy` refuse it.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_KEY_LENGTH = 50


def secret_key_problem() -> str | None:
    """Why the configured SECRET_KEY may not serve pages, or None when it may."""
    if settings.DEBUG:
        return None
    key = str(settings.SECRET_KEY)
    if not getattr(settings, "SECRET_KEY_FROM_ENVIRONMENT", False):
        return "SECRET_KEY is not set: with DEBUG off it must come from the environment"
    if key == settings.DEV_SECRET_KEY:
        return "SECRET_KEY is the published development key"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return (
            f"SECRET_KEY is {len(key)} characters long; it needs at least {MIN_SECRET_KEY_LENGTH}"
        )
    if len(set(key)) < 5:
        return "SECRET_KEY has fewer than 5 different characters"
    return None


HINT = (
    "Set SECRET_KEY to a random string of at least 50 characters, e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`, and keep it secret."
)


def refuse_to_serve_without_secret_key() -> None:
    """Raise ImproperlyConfigured, with a message an operator can act on, if the key is unfit."""
    problem = secret_key_problem()
    if problem is not None:
        raise ImproperlyConfigured(f"AuditCoach will not serve pages: {problem}. {HINT}")


def check_secret_key(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[checks.CheckMessage]:
    problem = secret_key_problem()
    if problem is None:
        return []
    return [checks.Error(problem, hint=HINT, id="auditcoach.E001")]


def register() -> None:
    checks.register(check_secret_key, checks.Tags.security, deploy=True)
