"""The idle session timeout, beside the absolute one (`SESSION_COOKIE_AGE`).

The session keeps the time of the last activity (Unix seconds) and it is rewritten at most
once a minute: sessions are saved only when they change, so that a page load rarely waits on
the database's write lock (SQLite's is held by a long import), and a rewrite that finds the
lock taken is skipped rather than failing the page. A request that comes more
than `SESSION_IDLE_TIMEOUT_SECONDS` after the last activity flushes the session and sends
the person to the login page with a message; 0 turns the idle timeout off.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import UpdateError
from django.db import OperationalError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from auditcoach.ops import services
from auditcoach.ops.dblock import is_locked

ACTIVITY_KEY = "last_activity"
TOUCH_EVERY_SECONDS = 60


def activity_stamp_on_login(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Start the idle clock at sign-in (the login already saves the session)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[ACTIVITY_KEY] = int(time.time())


def _touch(request: HttpRequest, now: int) -> None:
    """Record the activity after the response is made. When nothing else of the session
    changed, it is saved here, and a database too busy to take it (SQLite's write lock held
    by a long import) leaves the old time: the page still answers, and the next request in
    a minute tries again. A session the view changed is saved by SessionMiddleware as usual."""
    if not request.user.is_authenticated:  # signed out by this request: nothing to keep
        return
    session = request.session
    changed = session.modified
    session[ACTIVITY_KEY] = now
    if changed:
        return
    try:
        session.save()
    except OperationalError as exc:
        if not is_locked(exc):
            raise
    except UpdateError:  # the session was deleted meanwhile (signed out elsewhere)
        pass
    session.modified = False  # saved (or skipped): SessionMiddleware has nothing to write


def idle_message(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"You were signed out after {minutes} {unit} of inactivity. Sign in again to continue."


class IdleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        timeout = int(settings.SESSION_IDLE_TIMEOUT_SECONDS)
        if (
            timeout > 0
            and settings.SESSION_COOKIE_NAME in request.COOKIES
            and request.user.is_authenticated
        ):
            now = int(time.time())
            last = request.session.get(ACTIVITY_KEY)
            if isinstance(last, int) and now - last > timeout:
                return self._sign_out(request, idle_seconds=now - last, timeout=timeout)
            if not isinstance(last, int) or now - last >= TOUCH_EVERY_SECONDS:
                response = self.get_response(request)
                _touch(request, now)
                return response
        return self.get_response(request)

    def _sign_out(
        self, request: HttpRequest, *, idle_seconds: int, timeout: int
    ) -> HttpResponseBase:
        # HtmxMiddleware runs later in the stack; read the request's htmx headers here.
        htmx = HtmxDetails(request)
        # After the timeout, come back to the page the person was on, not to a fragment.
        back_to = (htmx.current_url_abs_path if htmx else None) or (
            request.get_full_path() if request.method in ("GET", "HEAD") else request.path
        )
        services.session_expire(request=request, idle_seconds=idle_seconds)
        messages.info(request, idle_message(timeout))
        if htmx:
            login = resolve_url(settings.LOGIN_URL)
            return HttpResponseClientRedirect(redirect_to_login(back_to, login)["Location"])
        return redirect_to_login(back_to)
