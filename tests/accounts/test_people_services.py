"""The services of the Members screen: roles, deactivation, the last-manager rule (with its
race), roster links, and that each write leaves an audit-log row with actor and address."""

import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import RequestFactory

from auditcoach.accounts import selectors
from auditcoach.accounts.models import Auditor, Coder, Membership, Organization, Role, User
from auditcoach.accounts.services_people import (
    LastManagerError,
    PeopleError,
    membership_deactivate,
    membership_reactivate,
    membership_role_change,
    roster_link,
    roster_unlink,
    user_create,
)
from auditcoach.auditlog.models import AuditLogEntry
from tests.factories import CoderFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _request(user: User) -> Any:
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")
    request.user = user
    return request


def _membership(org: Organization, user: User) -> Membership:
    return Membership.objects.select_related("user", "organization").get(
        organization=org, user=user
    )


def test_role_change_is_logged_with_actor_and_address(
    org: Organization, manager: User, coder_user: User
) -> None:
    membership_role_change(
        membership=_membership(org, coder_user),
        role=Role.EDUCATOR,
        actor=manager,
        request=_request(manager),
    )
    assert _membership(org, coder_user).role == Role.EDUCATOR
    entry = AuditLogEntry.objects.get(action="membership.update")
    assert entry.actor == manager
    assert entry.ip == "203.0.113.7"
    assert entry.organization == org
    assert entry.changes == {"user": "coder", "role": ["coder", "educator"]}


def test_the_last_manager_cannot_be_demoted(org: Organization, manager: User) -> None:
    with pytest.raises(LastManagerError, match="last active manager"):
        membership_role_change(
            membership=_membership(org, manager), role=Role.VIEWER, actor=manager
        )
    assert _membership(org, manager).role == Role.MANAGER
    assert not AuditLogEntry.objects.filter(action="membership.update").exists()


def test_the_last_manager_cannot_be_deactivated(
    org: Organization, manager: User, auditor: User
) -> None:
    # Only another manager could do it, and there is none: promote, deactivate, then try back.
    membership_role_change(membership=_membership(org, auditor), role=Role.MANAGER, actor=manager)
    membership_deactivate(membership=_membership(org, manager), actor=auditor)
    assert not _membership(org, manager).is_active
    with pytest.raises(LastManagerError):
        membership_role_change(membership=_membership(org, auditor), role=Role.CODER, actor=auditor)
    # A deactivated manager does not count as a manager.
    other = UserFactory(username="m2")
    MembershipFactory(user=other, organization=org, role=Role.MANAGER, is_active=False)
    with pytest.raises(LastManagerError):
        membership_role_change(membership=_membership(org, auditor), role=Role.CODER, actor=other)


def test_a_manager_can_be_demoted_when_another_remains(
    org: Organization, manager: User, auditor: User
) -> None:
    membership_role_change(membership=_membership(org, auditor), role=Role.MANAGER, actor=manager)
    membership_role_change(membership=_membership(org, manager), role=Role.AUDITOR, actor=auditor)
    assert _membership(org, manager).role == Role.AUDITOR


def test_nobody_deactivates_themselves(org: Organization, manager: User, auditor: User) -> None:
    membership_role_change(membership=_membership(org, auditor), role=Role.MANAGER, actor=manager)
    with pytest.raises(PeopleError, match="cannot deactivate yourself"):
        membership_deactivate(membership=_membership(org, manager), actor=manager)


def test_deactivate_and_reactivate(
    org: Organization, manager: User, coder_user: User, client_for: Any
) -> None:
    membership_deactivate(
        membership=_membership(org, coder_user), actor=manager, request=_request(manager)
    )
    assert not _membership(org, coder_user).is_active
    assert selectors.membership_for_request(user=coder_user, org_slug=org.slug) is None
    assert client_for(coder_user).get(f"/o/{org.slug}/coaching/feedback/").status_code == 404
    membership_reactivate(
        membership=_membership(org, coder_user), actor=manager, request=_request(manager)
    )
    membership = _membership(org, coder_user)
    assert membership.is_active
    assert membership.role == Role.CODER
    actions = list(
        AuditLogEntry.objects.filter(object_type="membership")
        .order_by("pk")
        .values_list("action", "actor__username", "ip")
    )
    assert actions == [
        ("membership.deactivate", "manager", "203.0.113.7"),
        ("membership.reactivate", "manager", "203.0.113.7"),
    ]


def test_unknown_role_is_refused(org: Organization, manager: User, coder_user: User) -> None:
    with pytest.raises(PeopleError):
        membership_role_change(membership=_membership(org, coder_user), role="owner", actor=manager)


# --------------------------------------------------------------------------- the race


def _postgres_waiting_for_lock() -> bool:
    with connections["default"].cursor() as cursor:
        # Inside a transaction PostgreSQL keeps one statistics snapshot unless told otherwise.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


@pytest.mark.django_db(transaction=True)
def test_two_managers_demoting_each_other_at_once_cannot_both_succeed(
    org: Organization, manager: User, auditor: User
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs write transactions one at a time (IMMEDIATE): no race to lose")
    membership_role_change(membership=_membership(org, auditor), role=Role.MANAGER, actor=manager)
    results: dict[str, BaseException | None] = {}

    def demote_manager() -> None:
        try:
            membership_role_change(
                membership=_membership(org, manager), role=Role.CODER, actor=auditor
            )
            results["second"] = None
        except BaseException as exc:
            results["second"] = exc
        finally:
            connections.close_all()

    with transaction.atomic():
        # The first demotion holds its locks, uncommitted, while the second one starts.
        membership_role_change(membership=_membership(org, auditor), role=Role.CODER, actor=manager)
        second = threading.Thread(target=demote_manager)
        second.start()
        # Wait (without sleeping) until the second request is blocked on the managers' rows,
        # so it really ran its check while the first change was not yet committed.
        for _ in range(20_000):
            if _postgres_waiting_for_lock() or not second.is_alive():
                break
        assert second.is_alive(), "the second demotion did not wait for the first one's lock"
    second.join(timeout=30)
    assert isinstance(results["second"], LastManagerError)
    roles = dict(Membership.objects.filter(organization=org).values_list("user__username", "role"))
    assert roles == {"manager": "manager", "auditor": "coder"}


# --------------------------------------------------------------------------- roster links


def test_link_and_unlink_a_roster_coder(org: Organization, manager: User, coder_user: User) -> None:
    entry = CoderFactory(organization=org, name="coder.ana", display_name="Ana Lopez")
    roster_link(
        membership=_membership(org, coder_user),
        entry=entry,
        actor=manager,
        request=_request(manager),
    )
    assert Coder.objects.get(pk=entry.pk).user == coder_user
    assert selectors.coder_for_user(organization=org, user=coder_user) == entry
    roster_unlink(entry=Coder.objects.get(pk=entry.pk), actor=manager, request=_request(manager))
    assert Coder.objects.get(pk=entry.pk).user is None
    rows = list(
        AuditLogEntry.objects.filter(object_type="coder")
        .order_by("pk")
        .values_list("action", "actor__username", "ip", "object_id")
    )
    assert rows == [
        ("coder.link", "manager", "203.0.113.7", str(entry.public_id)),
        ("coder.unlink", "manager", "203.0.113.7", str(entry.public_id)),
    ]


def test_a_new_link_moves_the_login_from_its_old_entry(
    org: Organization, manager: User, coder_user: User, coder: Coder
) -> None:
    other = CoderFactory(organization=org, name="coder.casey2")
    roster_link(membership=_membership(org, coder_user), entry=other, actor=manager)
    assert Coder.objects.get(pk=coder.pk).user is None
    assert Coder.objects.get(pk=other.pk).user == coder_user


def test_an_entry_linked_to_someone_else_is_refused(
    org: Organization, manager: User, coder: Coder
) -> None:
    someone = UserFactory(username="coder2")
    MembershipFactory(user=someone, organization=org, role=Role.CODER)
    with pytest.raises(PeopleError, match="already linked"):
        roster_link(membership=_membership(org, someone), entry=coder, actor=manager)


def test_links_follow_the_role(org: Organization, manager: User, viewer: User) -> None:
    entry = CoderFactory(organization=org, name="coder.zed")
    with pytest.raises(PeopleError, match="Only a coder"):
        roster_link(membership=_membership(org, viewer), entry=entry, actor=manager)


def test_a_roster_entry_of_another_organization_is_refused(
    org: Organization, other_org: Organization, manager: User, coder_user: User
) -> None:
    foreign = CoderFactory(organization=other_org, name="coder.south")
    with pytest.raises(PeopleError):
        roster_link(membership=_membership(org, coder_user), entry=foreign, actor=manager)


def test_linking_an_auditor_takes_over_the_encounters_of_that_name(
    org: Organization, manager: User, auditor: User
) -> None:
    from pathlib import Path

    from auditcoach.audits.models import Encounter
    from auditcoach.audits.services import audit_import
    from auditcoach.engine.workbook import read_workbook

    worked = Path(__file__).resolve().parents[1] / "fixtures" / "worked"
    audit_import(organization=org, workbook=read_workbook(worked), name="Worked")
    names = set(Encounter.objects.filter(organization=org).values_list("auditor_name", flat=True))
    name = sorted(n for n in names if n)[0]
    entry = Auditor.objects.get(organization=org, name=name)
    roster_link(membership=_membership(org, auditor), entry=entry, actor=manager)
    mine = Encounter.objects.filter(organization=org, auditor_name=name)
    assert mine.exists()
    assert set(mine.values_list("auditor", flat=True)) == {auditor.pk}
    roster_unlink(entry=Auditor.objects.get(pk=entry.pk), actor=manager)
    assert set(mine.values_list("auditor", flat=True)) == {None}


# --------------------------------------------------------------------------- logins


def test_user_create_refuses_a_taken_username_whatever_its_case(db: None) -> None:
    user_create(username="ana", email="ana@example.org", password="a sturdy passphrase 42")
    with pytest.raises(PeopleError, match="already taken"):
        user_create(username="ANA", email="x@example.org", password="a sturdy passphrase 42")
    assert User.objects.count() == 1
    assert AuditLogEntry.objects.filter(action="user.create").count() == 1


def test_user_create_validates_the_password(db: None) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        user_create(username="bo", email="bo@example.org", password="password")
    assert not User.objects.filter(username="bo").exists()
