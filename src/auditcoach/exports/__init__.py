"""Exports of the lists: the screen's own rows, as CSV or XLSX, logged (docs/exports.md).

Every list view asks `export_format(request)` first; when the request carries `export=csv`
or `export=xlsx` it hands the very rows it would paginate on screen (the same selector, the
same filter parsing, every page) to `export_response`, which

- decides whether account numbers are shown (`accounts=1` ticked AND a role in
  `ACCOUNT_ROLES`; a role outside asking for them is a 403), else masks them;
- writes the audit-log entry (`list.export`: the list, the filters, the row count, the
  format, whether account numbers were included);
- streams the file: CSV through a `StreamingHttpResponse` line by line, XLSX through a
  write-only workbook spooled to a temporary file and sent with a `FileResponse`.

The screens show the export control with `export_control(request)` and `_export.html`: a
GET form that carries the screen's current filters as hidden fields.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from auditcoach.accounts.models import Membership, Role
from auditcoach.accounts.permissions import OrgRequest, has_role
from auditcoach.auditlog.services import log_view
from auditcoach.lib.exports import Column, csv_lines, filename, xlsx_write

FORMATS: Final = ("csv", "xlsx")
ACCOUNT_ROLES: Final = (Role.MANAGER, Role.AUDITOR)
"""Who may include account numbers (encounter ids) in an export: the people who review the
encounters anyway. Educators, viewers and coders always get them masked (docs/security.md)."""
CONTROL_PARAMS: Final = ("export", "accounts", "page")
"""The export's own parameters: never part of the screen's filters."""
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK: Final = 2000
"""Rows read from the database at a time (the bench's 100k rows in 50 round trips)."""


def export_format(request: OrgRequest) -> str | None:
    """`csv` or `xlsx` when the request asks for an export, else None (show the screen)."""
    wanted = request.GET.get("export", "")
    return wanted if wanted in FORMATS else None


def may_include_accounts(membership: Membership | None) -> bool:
    return has_role(membership, ACCOUNT_ROLES)


def screen_filters(request: OrgRequest) -> dict[str, str | list[str]]:
    """The screen's query string without the export's own parameters, as logged."""
    out: dict[str, str | list[str]] = {}
    for key in request.GET:
        if key in CONTROL_PARAMS:
            continue
        values = [v[:200] for v in request.GET.getlist(key)]
        if any(values):
            out[key[:60]] = values[0] if len(values) == 1 else values
    return out


def export_control(request: OrgRequest) -> dict[str, Any]:
    """What `_export.html` needs: the form's target, the filters to carry, the tick."""
    keep = [
        (key, value)
        for key in request.GET
        if key not in CONTROL_PARAMS
        for value in request.GET.getlist(key)
        if value
    ]
    return {
        "action": request.path,
        "keep": keep,
        "accounts_allowed": may_include_accounts(request.membership),
    }


def export_response[T](
    request: OrgRequest,
    *,
    list_name: str,
    title: str,
    columns: list[Column[T]],
    rows: Iterable[T],
    count: int,
    obj_type: str = "organization",
    obj_id: str | None = None,
) -> HttpResponseBase:
    """The file of `rows` in the format the request asks for (see the module docstring).

    `count` is the number of rows (the queryset's `count()` or the list's length); it goes
    into the log entry before the CSV streams."""
    fmt = export_format(request)
    if fmt is None:
        raise ValueError("export_response needs a request with export=csv or export=xlsx")
    asked = request.GET.get("accounts") == "1"
    if asked and not may_include_accounts(request.membership):
        raise PermissionDenied("Your role may not export account numbers.")
    organization = request.organization
    tz = timezone.get_current_timezone()
    name = filename(list_name, organization.slug, timezone.localdate(), fmt)

    def log(rows_written: int) -> None:
        log_view(
            organization=organization,
            actor=request.user,
            action="list.export",
            obj_type=obj_type,
            obj_id=obj_id if obj_id is not None else organization.slug,
            request=request,
            context={
                "list": list_name,
                "filters": screen_filters(request),
                "rows": rows_written,
                "format": fmt,
                "accounts": asked,
            },
        )

    if fmt == "csv":
        log(count)
        lines: Iterator[str] = csv_lines(columns, rows, accounts=asked, tz=tz)
        response: HttpResponseBase = StreamingHttpResponse(
            (line.encode("utf-8") for line in lines), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    else:
        # Spooled to disk past 1 MB: the workbook never sits in memory whole.
        # FileResponse closes (and so deletes) it once sent.
        target = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - outlives the view
        written = xlsx_write(columns, rows, target, title=title, accounts=asked, tz=tz)
        target.seek(0)
        with transaction.atomic():
            log(written)
        response = FileResponse(target, as_attachment=True, filename=name, content_type=XLSX_TYPE)
    response["Cache-Control"] = "no-store"  # PHI: never kept by a proxy or the browser cache
    return response


def in_chunks(
    rows: Iterable[Any],
    decorate: Callable[[list[Any]], Iterable[Any]] | None = None,
    size: int = CHUNK,
) -> Iterator[Any]:
    """Rows of a queryset `size` at a time, each chunk passed to `decorate(list)` first (the
    screen's own decoration of a page), so a 100k-row export never holds them all."""
    iterator = rows.iterator(chunk_size=size) if hasattr(rows, "iterator") else iter(rows)
    chunk: list[Any] = []
    for row in iterator:
        chunk.append(row)
        if len(chunk) == size:
            yield from decorate(chunk) if decorate else chunk
            chunk = []
    if chunk:
        yield from decorate(chunk) if decorate else chunk
