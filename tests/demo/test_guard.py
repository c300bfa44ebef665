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


# Past the guard, `--encounters-per-cycle 0` stops at the next check, before anything is
# written: a full load (with --i-know) is in test_generator.py, and loading more demos here
# would shift PostgreSQL's sequences under the demo tests that follow.
def test_demo_passes_the_guard_with_debug_on_as_bin_demo_runs_it(settings: object) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("demo", "--encounters-per-cycle", "0", stdout=io.StringIO())


def test_demo_passes_the_guard_with_debug_off_when_told_i_know(settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("demo", "--encounters-per-cycle", "0", "--i-know", stdout=io.StringIO())
    assert not User.objects.exists()
