"""`auditcoach user-add` and `auditcoach member-add`: a fresh install makes its first manager
without the demo; bad input exits 2 with the reasons and writes nothing."""

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.accounts.models import Membership, Organization, Role, User
from auditcoach.auditlog.models import AuditLogEntry

pytestmark = pytest.mark.django_db

PASSWORD = "Lantern-orchard-59-quietly"


def _user_add(*args: str, stdin: str = PASSWORD + "\n", monkeypatch: Any) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("user_add", *args, stdout=out)
    return out.getvalue()


def test_user_add_then_member_add_makes_a_first_manager(monkeypatch: Any) -> None:
    call_command("org_create", "acme", name="Acme Health", stdout=io.StringIO())
    out = _user_add(
        "maria",
        "--email",
        "maria@acme.example",
        "--first-name",
        "Maria",
        "--last-name",
        "Manager",
        "--password-stdin",
        monkeypatch=monkeypatch,
    )
    assert "Created the login maria" in out
    user = User.objects.get(username="maria")
    assert user.check_password(PASSWORD)
    assert user.get_full_name() == "Maria Manager"
    out = io.StringIO()
    call_command("member_add", "maria", org="acme", role="manager", stdout=out)
    assert "maria is manager of acme" in out.getvalue()
    assert Membership.objects.get(user=user).role == Role.MANAGER
    assert set(AuditLogEntry.objects.values_list("action", flat=True)) >= {
        "user.create",
        "membership.add",
    }


def test_user_add_prompts_twice_without_stdin(monkeypatch: Any) -> None:
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    call_command("user_add", "ana", email="ana@example.org", stdout=io.StringIO())
    assert User.objects.get(username="ana").check_password(PASSWORD)


def test_user_add_refuses_differing_prompts(monkeypatch: Any) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ") as exc:
        call_command("user_add", "ana", email="ana@example.org")
    assert exc.value.returncode == 2
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["ana", "--email", "ana@example.org"], "password\n", "too common"),
        (["ana", "--email", "ana@example.org"], "ana\n", "too short"),
        (["ana", "--email", "ana@example.org"], "\n", "No password"),
        (["ana", "--email", "ana@example.org"], "4815162342108\n", "entirely numeric"),
        (["ana", "--email", "not-an-address"], PASSWORD, "not a valid e-mail address"),
        (["bad name", "--email", "ana@example.org"], PASSWORD, "letters, digits"),
        (["a" * 151, "--email", "ana@example.org"], PASSWORD, "1 to 150 characters"),
        (["ana", "--email", "a@b.example", "--first-name", "F" * 151], PASSWORD, "first name"),
    ],
)
def test_user_add_exits_2_with_the_reasons(
    args: list[str], stdin: str, message: str, monkeypatch: Any
) -> None:
    with pytest.raises(CommandError, match=message) as exc:
        _user_add(*args, "--password-stdin", stdin=stdin, monkeypatch=monkeypatch)
    assert exc.value.returncode == 2
    assert not User.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_user_add_refuses_a_taken_username(monkeypatch: Any, manager: User) -> None:
    with pytest.raises(CommandError, match="already taken") as exc:
        _user_add(
            "Manager", "--email", "m@example.org", "--password-stdin", monkeypatch=monkeypatch
        )
    assert exc.value.returncode == 2
    assert User.objects.count() == 1


def test_member_add_changes_the_role_and_reactivates(org: Organization, coder_user: User) -> None:
    Membership.objects.filter(user=coder_user).update(is_active=False)
    out = io.StringIO()
    call_command("member_add", "coder", org=org.slug, role="AUDITOR", stdout=out)
    membership = Membership.objects.get(user=coder_user)
    assert membership.role == Role.AUDITOR
    assert membership.is_active
    assert "(reactivated)" in out.getvalue()
    assert AuditLogEntry.objects.filter(action="membership.reactivate").count() == 1
    # Again: nothing changes, nothing is logged.
    before = AuditLogEntry.objects.count()
    call_command("member_add", "coder", org=org.slug, role="auditor", stdout=io.StringIO())
    assert AuditLogEntry.objects.count() == before


@pytest.mark.parametrize(
    ("username", "slug", "role", "message"),
    [
        ("nobody", "north-health", "coder", "No login 'nobody'"),
        ("coder", "no-such-org", "coder", "No organization 'no-such-org'"),
        ("coder", "north-health", "owner", "Unknown role 'owner'"),
    ],
)
def test_member_add_exits_2_on_unknown_names(
    username: str, slug: str, role: str, message: str, coder_user: User
) -> None:
    before = AuditLogEntry.objects.count()
    with pytest.raises(CommandError, match=message) as exc:
        call_command("member_add", username, org=slug, role=role)
    assert exc.value.returncode == 2
    assert Membership.objects.get(user=coder_user).role == Role.CODER
    assert AuditLogEntry.objects.count() == before


def test_the_auditcoach_command_carries_them_with_dashes() -> None:
    from auditcoach.cli import _command_name

    assert _command_name(["auditcoach", "user-add", "x"])[1] == "user_add"
    assert _command_name(["auditcoach", "member-add", "x"])[1] == "member_add"
