from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from auditcoach.accounts import services
from auditcoach.accounts.models import Coder, Facility, Membership, Organization, Role, User
from auditcoach.auditlog.models import AuditLogEntry
from tests.factories import CoderFactory, FacilityFactory, OrganizationFactory, UserFactory


def _org_create(*args: str) -> str:
    out = StringIO()
    call_command("org_create", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_org_create_command_is_idempotent() -> None:
    assert "Created organization acme (Acme Health)" in _org_create("acme", "--name", "Acme Health")
    org = Organization.objects.get(slug="acme")
    assert org.name == "Acme Health"
    assert org.response_sla_days == 7

    again = _org_create("acme", "--name", "Acme Renamed")
    assert "already exists; nothing changed" in again
    assert "Its name stays 'Acme Health'" in again
    assert Organization.objects.get(slug="acme").name == "Acme Health"
    assert Organization.objects.count() == 1
    assert AuditLogEntry.objects.filter(action="organization.create").count() == 1


@pytest.mark.django_db
def test_org_create_command_rejects_bad_slug() -> None:
    with pytest.raises(CommandError, match="invalid slug"):
        _org_create("not a slug", "--name", "X")


def test_cli_translates_hyphenated_command_names() -> None:
    from auditcoach.cli import _command_name

    assert _command_name(["auditcoach", "org-create", "x"]) == ["auditcoach", "org_create", "x"]
    assert _command_name(["auditcoach", "no-such-thing"]) == ["auditcoach", "no-such-thing"]
    assert _command_name(["auditcoach", "--help"]) == ["auditcoach", "--help"]
    assert _command_name(["auditcoach"]) == ["auditcoach"]


@pytest.mark.django_db
def test_organization_create_service_logs_once() -> None:
    org, created = services.organization_create(slug="acme", name="Acme")
    assert created
    same, created_again = services.organization_create(slug="acme", name="Other")
    assert (same.pk, created_again) == (org.pk, False)
    entry = AuditLogEntry.objects.get()
    assert (entry.organization, entry.action, entry.object_id) == (
        org,
        "organization.create",
        str(org.public_id),
    )


def test_membership_add_creates_updates_and_logs(org: Organization, manager: User) -> None:
    user = UserFactory(username="newbie")
    membership = services.membership_add(
        organization=org, user=user, role=Role.CODER, actor=manager
    )
    assert membership.role == Role.CODER
    services.membership_add(organization=org, user=user, role=Role.CODER, actor=manager)
    services.membership_add(organization=org, user=user, role=Role.AUDITOR, actor=manager)

    assert Membership.objects.get(organization=org, user=user).role == Role.AUDITOR
    entries = list(
        AuditLogEntry.objects.filter(object_type="membership")
        .order_by("pk")
        .values_list("action", "changes", "actor_id")
    )
    assert entries == [
        ("membership.add", {"user": "newbie", "role": "coder"}, manager.pk),
        ("membership.update", {"user": "newbie", "role": ["coder", "auditor"]}, manager.pk),
    ]


def test_membership_add_rejects_unknown_role(org: Organization) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        services.membership_add(organization=org, user=UserFactory(), role="admin")


def test_membership_role_checked_by_database(org: Organization) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(organization=org, user=UserFactory(), role="admin")


def test_roster_get_or_create_many_bulk(
    org: Organization, other_org: Organization, django_assert_num_queries: Any
) -> None:
    existing = CoderFactory(organization=org, name="Ann")
    CoderFactory(organization=other_org, name="Bob")  # same name elsewhere: not reused
    names = {"Ann", "Bob", "Cy", "", "  "} | {f"Coder {i:03}" for i in range(200)}

    # Savepoint + read + bulk insert of coders + bulk insert of log entries + release.
    with django_assert_num_queries(5):
        result = services.roster_get_or_create_many(organization=org, model=Coder, names=names)

    assert set(result) == names - {"", "  "}
    assert result["Ann"].pk == existing.pk
    assert all(coder.organization_id == org.pk for coder in result.values())
    assert Coder.objects.filter(organization=org).count() == 203
    logged = AuditLogEntry.objects.filter(organization=org, action="coder.create")
    assert logged.count() == 202
    assert set(logged.values_list("object_id", flat=True)) == {
        str(c.public_id) for c in result.values() if c.pk != existing.pk
    }

    # Second run: one read, nothing created, nothing logged.
    with django_assert_num_queries(3):
        again = services.roster_get_or_create_many(organization=org, model=Coder, names=names)
    assert {k: v.pk for k, v in again.items()} == {k: v.pk for k, v in result.items()}
    assert AuditLogEntry.objects.filter(action="coder.create").count() == 202


def test_roster_get_or_create_many_large_set_reads_whole_roster(org: Organization) -> None:
    FacilityFactory(organization=org, name="Main")
    names = {f"Site {i}" for i in range(1200)} | {"Main"}
    result = services.roster_get_or_create_many(organization=org, model=Facility, names=names)
    assert len(result) == 1201
    assert Facility.objects.filter(organization=org).count() == 1201


def test_roster_get_or_create_many_empty(org: Organization, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2):  # the savepoint only
        assert services.roster_get_or_create_many(organization=org, model=Coder, names=[]) == {}


def test_roster_names_unique_per_org(org: Organization, other_org: Organization) -> None:
    FacilityFactory(organization=org, name="Main")
    FacilityFactory(organization=other_org, name="Main")
    with pytest.raises(IntegrityError), transaction.atomic():
        FacilityFactory(organization=org, name="Main")


def test_coder_links_to_at_most_one_user_per_org(org: Organization, coder_user: User) -> None:
    CoderFactory(organization=org, user=coder_user)
    CoderFactory(organization=org, user=None)
    CoderFactory(organization=org, user=None)  # unlinked entries are not limited
    with pytest.raises(IntegrityError), transaction.atomic():
        CoderFactory(organization=org, user=coder_user)


@pytest.mark.django_db
def test_facility_base_rate_must_be_positive() -> None:
    org = OrganizationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        FacilityFactory(organization=org, base_rate=0)
