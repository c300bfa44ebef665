import re
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from auditcoach.accounts.middleware import LAST_ORG_SESSION_KEY
from auditcoach.accounts.models import Organization, User
from auditcoach.accounts.permissions import READ_ROLES, require_role
from tests.conftest import AssertTenancy, ClientFor
from tests.factories import MembershipFactory

pytestmark = pytest.mark.urls("tests.accounts.urls")

INDEX = "/o/north-health/"
WRITE = "/o/north-health/write/"


def test_read_view_checklist(
    assert_tenancy: AssertTenancy,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    assert_tenancy(INDEX, allowed=[manager, auditor, coder_user, educator, viewer])


def test_write_view_checklist(
    assert_tenancy: AssertTenancy,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    assert_tenancy(
        WRITE,
        allowed=[manager, auditor],
        forbidden=[coder_user, educator, viewer],
        method="post",
        wrong_method="get",
    )


def test_unknown_org_is_404_even_for_members_elsewhere(
    client_for: ClientFor, auditor: User
) -> None:
    assert client_for(auditor).get("/o/no-such-org/").status_code == 404


def test_outsider_gets_404_for_existing_org(
    client_for: ClientFor, outsider: User, org: Organization
) -> None:
    assert client_for(outsider).get(INDEX).status_code == 404


def test_anonymous_is_sent_to_login_with_next(client_for: ClientFor, org: Organization) -> None:
    response = client_for(None).get(INDEX)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/o/north-health/"


def test_request_carries_organization_and_membership(client_for: ClientFor, auditor: User) -> None:
    response = client_for(auditor).post(WRITE)
    assert response.content == b"north-health:auditor"


def test_last_used_org_is_remembered(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    client.get(INDEX)
    assert client.session[LAST_ORG_SESSION_KEY] == "north-health"


def test_membership_is_one_query(
    client_for: ClientFor, auditor: User, django_assert_num_queries: Any
) -> None:
    client = client_for(auditor)
    # Session, user, then ONE query for membership + organization + the user's org count;
    # the session save (this first visit records the last-used organization) is an UPDATE
    # inside a savepoint (3 statements).
    with django_assert_num_queries(6):
        client.post(WRITE)


def test_shell_shows_org_role_and_logout(client_for: ClientFor, auditor: User) -> None:
    response = client_for(auditor).get(INDEX)
    html = response.content.decode()
    assert "North Health" in html
    assert "Alex Auditor" in html
    assert "Auditor</span>" in html
    assert 'action="/accounts/logout/"' in html
    assert "Switch organization" not in html  # a member of one organization only
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert nonce is not None
    # htmx comes from django-htmx's static files (no CDN), allowed by the CSP nonce.
    assert re.search(rf'<script src="[^"]*htmx[^"]*" defer nonce="{nonce[1]}"', html)
    assert "style=" not in html


def test_shell_offers_switch_to_members_of_several(
    client_for: ClientFor, auditor: User, other_org: Organization
) -> None:
    MembershipFactory(user=auditor, organization=other_org, role="viewer")
    html = client_for(auditor).get(INDEX).content.decode()
    assert 'href="/accounts/switch/"' in html


def test_require_role_rejects_unknown_roles() -> None:
    with pytest.raises(ValueError, match="known roles"):
        require_role("admin")


def test_require_role_on_unscoped_view_is_a_wiring_error(rf: RequestFactory) -> None:
    @require_role(*READ_ROLES)
    def view(request: Any) -> Any:
        raise AssertionError("must not run")

    request = rf.get("/")
    request.membership = None  # type: ignore[attr-defined]
    with pytest.raises(ImproperlyConfigured):
        view(request)
