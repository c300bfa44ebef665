"""The sign-in throttle: per username with exponential backoff, per client address, atomic.

Every attempt is inserted and committed as a `LoginAttempt` *before* the password (or the
two-factor code) is checked, and only then are the attempts of the window counted. Of N
parallel attempts, the one whose insert committed last sees every other one, so at most
the limit of them reach the password check, on SQLite and PostgreSQL alike, with no lock
held across the check.

The numbers (see docs/signin.md):

- per username: `LOGIN_RATE_LIMIT` (10) failed attempts in `LOGIN_RATE_WINDOW_SECONDS`
  (15 minutes); past it the next attempt is allowed only 1, 2, 4, 8 then 15 minutes after
  the latest one, never a lock-out. Password and two-factor code failures share the budget.
- per client address: `LOGIN_ADDRESS_RATE_LIMIT` (30) failed attempts in the window, all
  usernames together (an IPv6 client counts by its /64 network).
- a browser where the user signed in before carries a signed "known device" cookie; its
  attempts are counted apart from everyone else's for that username, so a stranger's
  guesses never slow the real user down (the per-address limit still applies).
- password-reset requests: `PASSWORD_RESET_RATE_LIMIT` (3) e-mails per address per hour,
  `PASSWORD_RESET_ADDRESS_RATE_LIMIT` (20) requests per client address per hour.

A successful sign-in marks that username's failures cleared. Rows older than a day are
pruned on each insert for the same username and address (both indexed).
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.crypto import salted_hmac

from auditcoach.accounts.models import LoginAttempt

Kind = LoginAttempt.Kind
Outcome = LoginAttempt.Outcome

KEY_SALT: Final = "auditcoach.accounts.throttle.key"
KNOWN_DEVICE_COOKIE: Final = "auditcoach_known_device"
KNOWN_DEVICE_SALT: Final = "auditcoach.accounts.throttle.known-device"
KNOWN_DEVICE_MAX_USERS: Final = 5  # a shared workstation remembers its last five people
BACKOFF_FIRST_SECONDS: Final = 60
BACKOFF_CAP_SECONDS: Final = 15 * 60
RESET_WINDOW_SECONDS: Final = 60 * 60
PRUNE_AFTER: Final = timedelta(days=1)
IDENTITY_MAX_LENGTH: Final = 254  # longer than any username (150) or e-mail address (254)

# The rows that count against a limit: failures, and attempts still being checked (so a
# burst of parallel attempts counts itself). Refused attempts never reached a check.
_SIGN_IN_KINDS: Final = (Kind.PASSWORD, Kind.CODE)
_COUNTED: Final = (Outcome.PENDING, Outcome.FAILED)
_RESET_COUNTED: Final = (Outcome.PENDING, Outcome.SENT)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an attempt may go on to the check; `retry_after` seconds when it may not."""

    attempt_id: int
    allowed: bool
    retry_after: int = 0
    reason: str = ""  # "", "username" or "address"

    @property
    def wait_text(self) -> str:
        return wait_text(self.retry_after)


def wait_text(seconds: int) -> str:
    """ "40 seconds", "1 minute", "15 minutes": for the refusal message."""
    if seconds < 60:
        seconds = max(seconds, 1)
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def identity_key(identity: str) -> str:
    """A keyed hash of the normalized username or e-mail address: what was typed never
    sits in the table as text, and the hash cannot be looked up without SECRET_KEY."""
    normalized = identity.strip().casefold()[:IDENTITY_MAX_LENGTH]
    return salted_hmac(KEY_SALT, normalized, algorithm="sha256").hexdigest()


def client_network(request: HttpRequest | None) -> str | None:
    """The client address Django saw (REMOTE_ADDR; a proxy in front must set it), with an
    IPv6 client reduced to its /64 network, which one subscriber usually holds whole."""
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR")
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_RATE_WINDOW_SECONDS)


def _record(*, kind: str, key: str, ip: str | None, known_device: bool) -> LoginAttempt:
    now = timezone.now()
    # Its own transaction: committed before anything is counted or checked. (Called inside
    # an outer atomic block, as in tests, it is a savepoint and the proof is weaker; sign-in
    # views do not run inside one: ATOMIC_REQUESTS is off.)
    with transaction.atomic():
        attempt = LoginAttempt.objects.create(
            kind=kind, key=key, ip=ip, known_device=known_device, at=now
        )
        LoginAttempt.objects.filter(key=key, at__lt=now - PRUNE_AFTER).delete()
        if ip is not None:
            LoginAttempt.objects.filter(ip=ip, at__lt=now - PRUNE_AFTER).delete()
    return attempt


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _address_wait(
    qs: QuerySet[LoginAttempt], *, limit: int, window: timedelta, now: datetime
) -> int:
    """Seconds until enough of the counted rows leave the window to be under `limit`."""
    total = qs.count()
    oldest_to_leave = qs.order_by("at", "pk").values_list("at", flat=True)[
        max(total - limit - 1, 0) : max(total - limit, 1)
    ]
    moment = next(iter(oldest_to_leave), now)
    return _seconds_until(moment + window, now)


def _refuse(attempt: LoginAttempt, retry_after: int, reason: str) -> Decision:
    LoginAttempt.objects.filter(pk=attempt.pk).update(outcome=Outcome.REFUSED)
    return Decision(attempt_id=attempt.pk, allowed=False, retry_after=retry_after, reason=reason)


def sign_in_attempt_begin(
    *, kind: str, username: str, request: HttpRequest | None, known_device: bool = False
) -> Decision:
    """Record a password or code attempt for `username`, then decide whether it may be
    checked. The message shown for a refusal must not depend on whether the user exists."""
    if kind not in _SIGN_IN_KINDS:
        raise ValueError(f"not a sign-in kind: {kind!r}")
    key = identity_key(username)
    ip = client_network(request)
    attempt = _record(kind=kind, key=key, ip=ip, known_device=known_device)
    now = attempt.at
    window = _window()
    since = now - window

    if ip is not None:
        limit = settings.LOGIN_ADDRESS_RATE_LIMIT
        by_address = LoginAttempt.objects.filter(
            ip=ip, kind__in=_SIGN_IN_KINDS, outcome__in=_COUNTED, at__gte=since
        )
        if by_address.count() > limit:
            wait = _address_wait(by_address, limit=limit, window=window, now=now)
            return _refuse(attempt, wait, "address")

    limit = settings.LOGIN_RATE_LIMIT
    tally = LoginAttempt.objects.filter(
        key=key,
        kind__in=_SIGN_IN_KINDS,
        known_device=known_device,
        outcome__in=_COUNTED,
        at__gte=since,
    ).aggregate(n=Count("pk"), latest=Max("at", filter=~Q(pk=attempt.pk)))
    counted: int = tally["n"]
    if counted > limit:
        # Backoff, not a lock-out: `earlier` failures beyond the limit came before this one.
        earlier = min(counted - 1 - limit, 10)
        delay = min(BACKOFF_FIRST_SECONDS * 2**earlier, BACKOFF_CAP_SECONDS)
        latest: datetime | None = tally["latest"]
        if latest is not None and now < latest + timedelta(seconds=delay):
            return _refuse(
                attempt, _seconds_until(latest + timedelta(seconds=delay), now), "username"
            )
    return Decision(attempt_id=attempt.pk, allowed=True)


def attempt_finish(decision: Decision, outcome: str) -> None:
    """Record how an allowed attempt ended (failed, passed, succeeded, sent)."""
    LoginAttempt.objects.filter(pk=decision.attempt_id).update(outcome=outcome)


def failures_in_window(username: str) -> int:
    """Failed attempts for `username` in the window, from any browser (for the audit log)."""
    return LoginAttempt.objects.filter(
        key=identity_key(username),
        kind__in=_SIGN_IN_KINDS,
        outcome=Outcome.FAILED,
        at__gte=timezone.now() - _window(),
    ).count()


def failures_clear(username: str) -> int:
    """A successful sign-in: that username's failures no longer count, from any browser."""
    return LoginAttempt.objects.filter(
        key=identity_key(username), kind__in=_SIGN_IN_KINDS, outcome=Outcome.FAILED
    ).update(outcome=Outcome.CLEARED)


def reset_attempt_begin(*, email: str, request: HttpRequest | None) -> Decision:
    """Record a password-reset request; refused past the per-address or per-client limit.

    The caller answers a refusal by `email` exactly as it answers an unknown address (no
    e-mail, the same page), and a refusal by client address with HTTP 429.
    """
    key = identity_key(email)
    ip = client_network(request)
    attempt = _record(kind=Kind.RESET, key=key, ip=ip, known_device=False)
    now = attempt.at
    window = timedelta(seconds=RESET_WINDOW_SECONDS)
    since = now - window
    if ip is not None:
        limit = settings.PASSWORD_RESET_ADDRESS_RATE_LIMIT
        by_address = LoginAttempt.objects.filter(
            ip=ip, kind=Kind.RESET, outcome__in=_RESET_COUNTED, at__gte=since
        )
        if by_address.count() > limit:
            wait = _address_wait(by_address, limit=limit, window=window, now=now)
            return _refuse(attempt, wait, "address")
    limit = settings.PASSWORD_RESET_RATE_LIMIT
    by_key = LoginAttempt.objects.filter(
        key=key, kind=Kind.RESET, outcome__in=_RESET_COUNTED, at__gte=since
    )
    if by_key.count() > limit:
        wait = _address_wait(by_key, limit=limit, window=window, now=now)
        return _refuse(attempt, wait, "username")
    return Decision(attempt_id=attempt.pk, allowed=True)


# --- The known-device cookie -------------------------------------------------------------


def _known_keys(request: HttpRequest) -> list[str]:
    raw = request.COOKIES.get(KNOWN_DEVICE_COOKIE)
    if not raw or len(raw) > 4096:
        return []
    try:
        value = signing.loads(
            raw, salt=KNOWN_DEVICE_SALT, max_age=timedelta(days=settings.KNOWN_DEVICE_DAYS)
        )
    except signing.BadSignature:
        return []
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)][:KNOWN_DEVICE_MAX_USERS]


def is_known_device(request: HttpRequest, username: str) -> bool:
    """True when this browser carries our signed cookie for `username`."""
    return identity_key(username) in _known_keys(request)


def known_device_remember(request: HttpRequest, response: HttpResponseBase, username: str) -> None:
    """After a full sign-in: remember this browser for `username` (newest first, five at
    most), signed so nobody can forge it, HttpOnly and SameSite=Lax; re-signed on every
    sign-in, so it lasts KNOWN_DEVICE_DAYS from the latest one."""
    key = identity_key(username)
    keys = [key, *(k for k in _known_keys(request) if k != key)][:KNOWN_DEVICE_MAX_USERS]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        signing.dumps(keys, salt=KNOWN_DEVICE_SALT),
        max_age=settings.KNOWN_DEVICE_DAYS * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
