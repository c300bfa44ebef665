"""Writing the audit log. Every service that changes data, and every view of PHI, calls these.

`log_write` and `log_view` run inside the caller's transaction, so an entry exists exactly
when the change it records was committed. `bulk_log` writes many entries in one statement
for imports and bulk roster creation.
"""

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection
from django.http import HttpRequest

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.context import client_address_of, current_client_address
from auditcoach.auditlog.models import AuditLogEntry

type ObjectId = str | int | uuid.UUID | None


def _client_ip(request: HttpRequest | None) -> str | None:
    # The request's own address where the caller passes one, else the current request's.
    return client_address_of(request) or current_client_address()


def _actor(actor: User | Any | None) -> User | None:
    # AnonymousUser and None both mean "nobody signed in".
    if isinstance(actor, User) and actor.pk is not None:
        return actor
    return None


def entry_build(
    *,
    organization: Organization | None,
    actor: User | Any | None,
    action: str,
    obj_type: str = "",
    obj_id: ObjectId = None,
    changes: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditLogEntry:
    """An unsaved entry, for `bulk_log`."""
    if not action:
        raise ValueError("an audit log entry needs an action")
    user = _actor(actor)
    return AuditLogEntry(
        organization=organization,
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action,
        object_type=obj_type,
        object_id="" if obj_id is None else str(obj_id),
        changes=dict(changes or {}),
        ip=_client_ip(request),
    )


def log_write(
    *,
    organization: Organization | None,
    actor: User | Any | None,
    action: str,
    obj_type: str,
    obj_id: ObjectId,
    changes: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditLogEntry:
    """Record a change. Call it inside the transaction that makes the change."""
    entry = entry_build(
        organization=organization,
        actor=actor,
        action=action,
        obj_type=obj_type,
        obj_id=obj_id,
        changes=changes,
        request=request,
    )
    entry.save(force_insert=True)
    return entry


def log_view(
    *,
    organization: Organization | None,
    actor: User | Any | None,
    action: str,
    obj_type: str,
    obj_id: ObjectId,
    request: HttpRequest | None = None,
    context: Mapping[str, Any] | None = None,
) -> AuditLogEntry:
    """Record that someone looked at PHI (an encounter's detail, an export)."""
    return log_write(
        organization=organization,
        actor=actor,
        action=action,
        obj_type=obj_type,
        obj_id=obj_id,
        changes=context,
        request=request,
    )


def bulk_log(entries: Iterable[AuditLogEntry], *, batch_size: int = 1000) -> list[AuditLogEntry]:
    """Insert entries built with `entry_build` in bulk (one statement per batch)."""
    return AuditLogEntry.objects.bulk_create(list(entries), batch_size=batch_size)


def backdating_allow() -> None:
    """Let this transaction move the `at` of entries (and nothing else): for the synthetic
    demo, which writes a year of history at once. PostgreSQL refuses every other UPDATE or
    DELETE of the log (migration 0002); elsewhere this does nothing."""
    if not connection.in_atomic_block:
        raise RuntimeError("backdating is allowed only inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL auditcoach.backdating = 'on'")
