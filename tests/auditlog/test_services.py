from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.http import HttpResponse
from django.test import RequestFactory

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog import context, services
from auditcoach.auditlog.models import AuditLogEntry


def test_log_write_records_who_what_where(
    org: Organization, auditor: User, rf: RequestFactory
) -> None:
    request = rf.post("/", REMOTE_ADDR="10.1.2.3")
    entry = services.log_write(
        organization=org,
        actor=auditor,
        action="finding.update",
        obj_type="finding",
        obj_id=42,
        changes={"rationale": ["old", "new"]},
        request=request,
    )
    entry.refresh_from_db()
    assert (entry.organization, entry.actor, entry.actor_name) == (org, auditor, "auditor")
    assert (entry.action, entry.object_type, entry.object_id) == ("finding.update", "finding", "42")
    assert entry.changes == {"rationale": ["old", "new"]}
    assert entry.ip == "10.1.2.3"
    assert entry.at is not None


def test_log_view_without_request_or_actor(org: Organization) -> None:
    entry = services.log_view(
        organization=org,
        actor=AnonymousUser(),
        action="encounter.view",
        obj_type="encounter",
        obj_id=None,
    )
    assert (entry.actor, entry.actor_name, entry.ip, entry.object_id) == (None, "", None, "")
    assert entry.changes == {}


def test_unparseable_ip_is_dropped(org: Organization, rf: RequestFactory) -> None:
    request = rf.get("/", REMOTE_ADDR="not-an-ip")
    entry = services.log_view(
        organization=org, actor=None, action="x.view", obj_type="x", obj_id=1, request=request
    )
    assert entry.ip is None


def test_changes_accept_decimals_and_dates(org: Organization) -> None:
    import datetime
    import decimal

    entry = services.log_write(
        organization=org,
        actor=None,
        action="facility.update",
        obj_type="facility",
        obj_id=1,
        changes={"base_rate": [None, decimal.Decimal("6500.00")], "on": datetime.date(2026, 1, 2)},
    )
    entry.refresh_from_db()
    assert entry.changes == {"base_rate": [None, "6500.00"], "on": "2026-01-02"}


def test_bulk_log_inserts_in_one_statement(
    org: Organization, auditor: User, django_assert_num_queries: Any
) -> None:
    entries = [
        services.entry_build(
            organization=org,
            actor=auditor,
            action="encounter.import",
            obj_type="encounter",
            obj_id=f"E{i}",
        )
        for i in range(50)
    ]
    with django_assert_num_queries(1):
        services.bulk_log(entries)
    assert AuditLogEntry.objects.filter(organization=org, action="encounter.import").count() == 50


def test_entry_needs_an_action(org: Organization) -> None:
    with pytest.raises(ValueError, match="action"):
        services.entry_build(organization=org, actor=None, action="")


def test_organization_with_history_cannot_be_deleted(org: Organization) -> None:
    services.log_write(organization=org, actor=None, action="x.y", obj_type="x", obj_id=1)
    with pytest.raises(ProtectedError):
        org.delete()


def test_deleting_a_user_keeps_their_entries(org: Organization, auditor: User) -> None:
    entry = services.log_write(
        organization=org, actor=auditor, action="x.y", obj_type="x", obj_id=1
    )
    auditor.delete()
    entry.refresh_from_db()
    assert (entry.actor, entry.actor_name) == (None, "auditor")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is PostgreSQL's")
def test_postgresql_refuses_update_and_delete_of_entries(org: Organization) -> None:
    entry = services.log_write(organization=org, actor=None, action="x.y", obj_type="x", obj_id=1)
    for statement in (
        "UPDATE auditlog_auditlogentry SET action = 'x.z' WHERE id = %s",
        "UPDATE auditlog_auditlogentry SET ip = '10.0.0.9' WHERE id = %s",
        "DELETE FROM auditlog_auditlogentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(statement, [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLogEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.action == "x.y"


def test_entries_written_during_a_request_carry_its_client_address(
    org: Organization, auditor: User
) -> None:
    # Deep in a service nobody passed the request: the middleware's context supplies it.
    with context.client_address("203.0.113.7"):
        entry = services.log_write(
            organization=org, actor=auditor, action="x.y", obj_type="x", obj_id=1
        )
        built = services.entry_build(organization=org, actor=None, action="x.z")
    assert entry.ip == built.ip == "203.0.113.7"
    outside = services.log_write(organization=org, actor=None, action="x.y", obj_type="x", obj_id=2)
    assert outside.ip is None


def test_the_middleware_sets_the_address_for_the_whole_request(rf: RequestFactory) -> None:
    seen: list[str | None] = []

    def view(request: Any) -> HttpResponse:
        seen.append(context.current_client_address())
        return HttpResponse()

    request = rf.get("/", REMOTE_ADDR="198.51.100.4")
    context.AuditContextMiddleware(view)(request)
    assert seen == ["198.51.100.4"]
    assert context.current_client_address() is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is PostgreSQL's")
def test_the_demo_may_move_the_time_of_entries_and_nothing_else(org: Organization) -> None:
    entry = services.log_write(organization=org, actor=None, action="x.y", obj_type="x", obj_id=1)
    with transaction.atomic():
        services.backdating_allow()
        AuditLogEntry.objects.filter(pk=entry.pk).update(at=entry.at - timedelta(days=30))
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditLogEntry.objects.filter(pk=entry.pk).update(action="x.z")
    moved = AuditLogEntry.objects.get(pk=entry.pk)
    assert (moved.action, moved.at) == ("x.y", entry.at - timedelta(days=30))
    # (SET LOCAL: the permission ends with the outermost transaction, here the test's.)
