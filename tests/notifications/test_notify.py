"""`notify`: one row per recipient, e-mail after commit to those who want it."""

from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from auditcoach.accounts.models import Organization, User
from auditcoach.notifications import selectors, services
from auditcoach.notifications.models import Kind, Notification, NotificationPreference
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_notify_writes_rows_and_mails_after_commit(
    org: Organization,
    auditor: User,
    coder_user: User,
    educator: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        count = services.notify(
            organization=org,
            recipients=[coder_user, educator, coder_user, auditor],
            kind=Kind.FINDING_RELEASED,
            title="3 findings released",
            body="Audit 2026-Q3",
            url="/o/north-health/",
            actor=auditor,
        )
        assert mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert count == 2  # duplicate and actor skipped
    rows = Notification.objects.filter(organization=org).order_by("recipient__username")
    assert [(n.recipient, n.kind, n.read_at) for n in rows] == [
        (coder_user, "finding_released", None),
        (educator, "finding_released", None),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [coder_user.email, educator.email]
    message = mail.outbox[0]
    assert "3 findings released" in message.subject
    assert "/o/north-health/" in message.body


def test_preferences_and_defaults_decide_who_gets_email(
    org: Organization, coder_user: User, educator: User, django_capture_on_commit_callbacks: Any
) -> None:
    NotificationPreference.objects.create(
        user=coder_user, kind=Kind.EDUCATION_ASSIGNED, email=False
    )
    no_address = UserFactory(username="noaddress", email="")
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            organization=org,
            recipients=[coder_user, educator, no_address],
            kind=Kind.EDUCATION_ASSIGNED,
            title="Education assigned",
        )
    assert [m.to for m in mail.outbox] == [[educator.email]]
    assert Notification.objects.count() == 3

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            organization=org, recipients=[educator], kind=Kind.FINDING_COMMENTED, title="Comment"
        )
    assert mail.outbox == []  # comments are in-app only unless chosen
    services.preferences_save(user=educator, email_kinds=[Kind.FINDING_COMMENTED])
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            organization=org, recipients=[educator], kind=Kind.FINDING_COMMENTED, title="Comment"
        )
    assert len(mail.outbox) == 1
    assert selectors.unread_count(user=educator) == 3


def test_no_mail_when_the_transaction_rolls_back(
    org: Organization, coder_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    def notify_then_fail() -> None:
        with transaction.atomic():
            services.notify(
                organization=org, recipients=[coder_user], kind=Kind.FINDING_DECIDED, title="x"
            )
            raise RuntimeError

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        notify_then_fail()
    assert callbacks == []
    assert mail.outbox == []
    assert Notification.objects.count() == 0


def test_bad_urls_and_empty_recipients(org: Organization, coder_user: User) -> None:
    with pytest.raises(ValueError, match="path"):
        services.notify(
            organization=org,
            recipients=[coder_user],
            kind=Kind.FINDING_RELEASED,
            title="x",
            url="https://evil.example/",
        )
    assert services.notify(organization=org, recipients=[], kind="finding_released", title="x") == 0


def test_smtp_is_configured_from_the_environment() -> None:
    """Console by default; EMAIL_BACKEND=…smtp… with EMAIL_HOST etc. gives an SMTP mailer."""
    import json
    import os
    import subprocess
    import sys

    code = "import json, auditcoach.settings as s; print(json.dumps(s.MAILERS))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    default = json.loads(subprocess.check_output([sys.executable, "-c", code], env=env))
    assert default == {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    env |= {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.org",
        "EMAIL_PORT": "465",
        "EMAIL_HOST_USER": "auditcoach",
        "EMAIL_HOST_PASSWORD": "secret",
        "EMAIL_USE_TLS": "1",
    }
    smtp = json.loads(subprocess.check_output([sys.executable, "-c", code], env=env))
    assert smtp["default"]["OPTIONS"] == {
        "host": "smtp.example.org",
        "port": 465,
        "username": "auditcoach",
        "password": "secret",
        "use_tls": True,
        "timeout": 20,
    }
