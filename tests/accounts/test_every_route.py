"""Sweeps over every organization route of the URLconf, so a new view cannot forget them:

- an outsider (a member of another organization only) gets 404 on every route, any method;
- a viewer cannot write: every POST is refused (403, or 405 on read-only routes) and
  nothing is written.

Routes are read from the URLconf itself; path parameters get fresh UUIDs (no object), which
is enough: the role check runs before any lookup.
"""

import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db


def _routes(patterns: list[object], prefix: str = "") -> Iterator[str]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _fill(route: str, org_slug: str) -> str:
    path = route.replace("<slug:org_slug>", org_slug)
    while "<" in path:
        start = path.index("<")
        end = path.index(">", start)
        kind = path[start + 1 : end].split(":")[0]
        value = str(uuid.uuid4()) if kind == "uuid" else "1" if kind == "int" else "x"
        path = path[:start] + value + path[end + 1 :]
    return "/" + path


ORG_ROUTES = sorted({r for r in _routes(get_resolver().url_patterns) if "<slug:org_slug>" in r})


def test_the_sweep_sees_the_routes_of_every_area() -> None:
    areas = {r.split("/")[2] if r.count("/") > 2 else "" for r in ORG_ROUTES}
    assert {"coaching", "education", "library", "codes"} <= areas
    assert len(ORG_ROUTES) > 40


@pytest.mark.parametrize("route", ORG_ROUTES)
def test_outsiders_get_404_everywhere(
    route: str, org: Organization, outsider: User, client_for: ClientFor
) -> None:
    url = _fill(route, org.slug)
    client = client_for(outsider)
    assert client.get(url).status_code == 404, url
    assert client.post(url, {}).status_code == 404, url


@pytest.mark.parametrize("route", ORG_ROUTES)
def test_a_viewer_cannot_write(
    route: str, org: Organization, viewer: User, client_for: ClientFor
) -> None:
    url = _fill(route, org.slug)
    before = AuditLogEntry.objects.count()
    status = client_for(viewer).post(url, {}).status_code
    assert status in (403, 405), (url, status)
    assert AuditLogEntry.objects.count() == before
