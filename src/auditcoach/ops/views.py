"""The health check (no login, no organization, never cached) and the server-error page."""

import logging
import sys

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.views import defaults
from django.views.decorators.http import require_safe

from auditcoach.ops.dblock import is_locked

logger = logging.getLogger("auditcoach.health")


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 `{"status": "ok"}` when the database answers a trivial query, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure to reach the database is "unavailable", never a 500
        logger.warning(
            "health check failed",
            extra={"fields": {"event": "health", "error": type(exc).__name__}},
        )
        response = JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    else:
        response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


BUSY_MESSAGE = (
    "An import is running, and it holds the database's write lock until it has written "
    "everything. Pages that only show work as usual; this request needed to save something "
    "(signing in and opening an encounter do, for the audit log), so nothing was saved. Try "
    "again in a minute."
)
BUSY_MESSAGE_NO_IMPORT = (
    "The database is busy with a long write (a backup or a restore, or an import from the "
    "command line), so nothing was saved from this request. Try again in a minute."
)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a locked SQLite database (a long import writing) is a 503 that says so,
    with Retry-After; anything else is Django's plain 500. For htmx requests the message
    goes into the page's messages area (htmx-config in base.html swaps 503s)."""
    exc = sys.exc_info()[1]
    if exc is None or not is_locked(exc):
        return defaults.server_error(request)
    try:
        from auditcoach.audits.models import ImportJob

        running = ImportJob.objects.filter(status=ImportJob.Status.RUNNING).exists()
    except Exception:  # the page must answer whatever the database says
        running = True
    message = BUSY_MESSAGE if running else BUSY_MESSAGE_NO_IMPORT
    title = "An import is running" if running else "The database is busy"
    logger.warning(
        "database is locked: 503",
        extra={"fields": {"event": "busy", "path": request.path, "import": running}},
    )
    htmx = request.headers.get("HX-Request") == "true"
    try:
        if htmx:
            response = HttpResponse(
                format_html('<div class="message message-warning">{}</div>', message), status=503
            )
            response["HX-Retarget"] = "#messages"
            response["HX-Reswap"] = "innerHTML"
        else:
            response = render(
                request, "busy.html", {"title": title, "message": message}, status=503
            )
    except Exception:  # rendering needs nothing from the database, but never fail here
        response = HttpResponse(f"{title}. {message}", content_type="text/plain", status=503)
    response["Retry-After"] = "30"
    response["Cache-Control"] = "no-store"
    return response
