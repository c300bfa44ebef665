"""Where the current request comes from, for audit-log entries written deep in services.

Services take `request=` where a view has one, but many writes happen further down (a
notification, a follow-up topped up by a signal, an education reminder). The middleware
puts the client address in a context variable for the length of the request, and every
entry written meanwhile carries it; outside a request (the worker, a command) it is empty.
"""

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest
from django.http.response import HttpResponseBase

_client_address: ContextVar[str | None] = ContextVar("auditlog_client_address", default=None)


def client_address_of(request: HttpRequest | None) -> str | None:
    """The peer address Django saw. A proxy in front must set REMOTE_ADDR (not trusted XFF)."""
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR")
    if not raw:
        return None
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def current_client_address() -> str | None:
    return _client_address.get()


@contextmanager
def client_address(address: str | None) -> Iterator[None]:
    token = _client_address.set(address)
    try:
        yield
    finally:
        _client_address.reset(token)


class AuditContextMiddleware:
    """Sets the client address of the request for the audit-log entries it writes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with client_address(client_address_of(request)):
            return self.get_response(request)
