"""Writes of operations; each logs."""

from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest

from auditcoach.auditlog import services as auditlog


def session_expire(*, request: HttpRequest, idle_seconds: int) -> None:
    """Sign out an idle session: the log entry first (it names the user), then the flush."""
    user = request.user
    with transaction.atomic():
        auditlog.log_write(
            organization=None,
            actor=user,
            action="auth.session_expired",
            obj_type="user",
            obj_id=user.pk,
            changes={"idle_seconds": idle_seconds},
            request=request,
        )
    logout(request)
