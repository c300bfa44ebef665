"""Request-wide middleware of operations: the request log line and the security headers."""

import ipaddress
import time
from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import empty

from auditcoach.ops.logs import request_logger

type GetResponse = Callable[[HttpRequest], HttpResponseBase]

# Powerful browser features this application never uses; nothing it serves may ask for them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
)
# Pages under these prefixes carry PHI or account details: never stored by a browser or proxy,
# whatever the view said.
PRIVATE_PREFIXES = ("/o/", "/accounts/", "/notifications/")
HEALTH_PATH = "/healthz"


class SecurityHeadersMiddleware:
    """`Permissions-Policy` on every page and `Cache-Control: no-store` on every dynamic one.

    Referrer-Policy, Cross-Origin-Opener-Policy, nosniff and HSTS come from Django's
    SecurityMiddleware (settings); static files are answered by WhiteNoise before this runs
    and keep their long-lived caching.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith(PRIVATE_PREFIXES) or "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
            if "Expires" in response:
                del response["Expires"]
        return response


def _user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    # A request that never looked at its user is not made to query for it just for a log line.
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    if not user.is_authenticated:
        return None
    pk = user.pk
    return pk if isinstance(pk, int) else None


def _client(request: HttpRequest) -> str | None:
    raw = request.META.get("REMOTE_ADDR")
    if not raw:
        return None
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


class RequestLogMiddleware:
    """One JSON line per request: method, path (never the query string), status, duration,
    user id, organization slug and client address. Successful health checks are not logged:
    a load balancer asks every few seconds.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        if request.path == HEALTH_PATH and response.status_code == 200:
            return response
        organization = getattr(request, "organization", None)
        request_logger.info(
            "request",
            extra={
                "fields": {
                    "event": "request",
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": _user_id(request),
                    "org": getattr(organization, "slug", None),
                    "client": _client(request),
                }
            },
        )
        return response
