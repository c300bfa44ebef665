"""Each member lands where their work is (`accounts.landing.landing_url`), from the front
door, the organization chooser and (see test_invitations.py) an accepted invitation; and a
deactivated membership grants nothing."""

import pytest

from auditcoach.accounts import selectors
from auditcoach.accounts.landing import landing_url
from auditcoach.accounts.models import Membership, Organization, Role, User
from tests.conftest import ClientFor
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

LANDING = {
    Role.CODER: "/o/north-health/coaching/feedback/",
    Role.AUDITOR: "/o/north-health/?status=in_review",
    Role.EDUCATOR: "/o/north-health/education/",
    Role.VIEWER: "/o/north-health/analytics/",
    Role.MANAGER: "/o/north-health/analytics/",
}


@pytest.mark.parametrize("role", list(LANDING))
def test_the_front_door_sends_each_role_to_its_work(
    role: Role, org: Organization, client_for: ClientFor
) -> None:
    user = UserFactory(username=f"landing-{role}")
    membership = MembershipFactory(user=user, organization=org, role=role)
    assert landing_url(membership) == LANDING[role]
    client = client_for(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == LANDING[role]
    # The page is really there for that role (no 403 on arrival).
    assert client.get(LANDING[role]).status_code == 200


def test_the_chooser_links_each_organization_to_the_role_there(
    org: Organization, other_org: Organization, client_for: ClientFor
) -> None:
    user = UserFactory(username="firm.auditor")
    MembershipFactory(user=user, organization=org, role=Role.CODER)
    MembershipFactory(user=user, organization=other_org, role=Role.EDUCATOR)
    for url in ("/", "/accounts/switch/"):
        html = client_for(user).get(url).content.decode()
        assert 'href="/o/north-health/coaching/feedback/"' in html
        assert 'href="/o/south-clinic/education/"' in html


def test_a_deactivated_membership_grants_nothing(
    org: Organization, other_org: Organization, auditor: User, client_for: ClientFor
) -> None:
    MembershipFactory(user=auditor, organization=other_org, role=Role.VIEWER)
    Membership.objects.filter(user=auditor, organization=org).update(is_active=False)

    assert selectors.membership_for_request(user=auditor, org_slug=org.slug) is None
    assert [m.organization.slug for m in selectors.memberships_for_user(user=auditor)] == [
        "south-clinic"
    ]
    # The only active organization left counts as one: no switch link, straight there.
    remaining = selectors.membership_for_request(user=auditor, org_slug=other_org.slug)
    assert remaining is not None
    assert remaining.user_org_count == 1
    client = client_for(auditor)
    # The 404 an outsider gets, on every kind of page.
    for url in ("/o/north-health/", "/o/north-health/analytics/", "/o/north-health/people/"):
        assert client.get(url).status_code == 404, url
    response = client.get("/")
    assert response["Location"] == "/o/south-clinic/analytics/"
    html = client.get("/accounts/switch/").content.decode()
    assert "North Health" not in html


def test_a_member_with_only_deactivated_memberships_is_told_so(
    org: Organization, coder_user: User, client_for: ClientFor
) -> None:
    Membership.objects.filter(user=coder_user).update(is_active=False)
    response = client_for(coder_user).get("/")
    assert response.status_code == 200
    assert b"not a member of any organization" in response.content
