"""`auditcoach demo` creates logins with a published password: not on a server with DEBUG off."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.accounts.models import Organization, User

pytestmark = pytest.mark.django_db


def test_demo_refuses_to_create_its_logins_with_debug_off(settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="published password 'demo-pass-2026'") as refused:
        call_command("demo", "--encounters-per-cycle", "2", stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert "--i-know" in str(refused.value)
    assert not Organization.objects.filter(slug="demo-health").exists()
    assert not User.objects.exists()


def test_demo_loads_with_debug_on_as_bin_demo_runs_it(settings: object) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    out = io.StringIO()
    call_command("demo", "--encounters-per-cycle", "2", stdout=out)
    assert Organization.objects.filter(slug="demo-health").exists()
    assert User.objects.get(username="manager").check_password("demo-pass-2026")


def test_demo_loads_with_debug_off_when_told_i_know(settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    call_command("demo", "--encounters-per-cycle", "2", "--i-know", stdout=io.StringIO())
    assert Organization.objects.filter(slug="demo-health").exists()
