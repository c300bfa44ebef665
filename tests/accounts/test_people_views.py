"""The Members screen: the tenancy checklist for every view, what a manager sees, each
action through its POST, and hostile input that must give a form error, never a 500."""

from typing import Any

import pytest
from django.core import mail

from auditcoach.accounts.models import (
    Auditor,
    Coder,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
)
from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import AssertTenancy, ClientFor
from tests.factories import CoderFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/o/north-health/people/"


@pytest.fixture
def world(
    manager: User, auditor: User, coder_user: User, educator: User, viewer: User
) -> dict[str, User]:
    return {
        "manager": manager,
        "auditor": auditor,
        "coder": coder_user,
        "educator": educator,
        "viewer": viewer,
    }


def _others(world: dict[str, User]) -> list[User]:
    return [u for name, u in world.items() if name != "manager"]


def test_members_page_checklist(assert_tenancy: AssertTenancy, world: dict[str, User]) -> None:
    assert_tenancy(BASE, allowed=[world["manager"]], forbidden=_others(world))


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("invite/", {"email": "new.person@example.org", "role": "coder"}),
        ("members/coder/role/", {"role": "educator"}),
        ("members/coder/deactivate/", {}),
        ("members/coder/reactivate/", {}),
        ("members/coder/unlink/", {"roster": "coder:{linked}"}),
        ("members/coder/link/", {"roster": "coder:{free}"}),
    ],
)
def test_write_views_checklist(
    path: str,
    data: dict[str, str],
    assert_tenancy: AssertTenancy,
    world: dict[str, User],
    coder: Coder,
    org: Organization,
) -> None:
    free = CoderFactory(organization=org, name="coder.free")
    ids = {"linked": str(coder.public_id), "free": str(free.public_id)}
    data = {key: value.format(**ids) for key, value in data.items()}
    wrong = None if path.endswith("deactivate/") else "get"
    assert_tenancy(
        BASE + path,
        allowed=[world["manager"]],
        forbidden=_others(world),
        method="post",
        wrong_method=wrong,
        data=data,
    )
    # Refused requests (outsider, forbidden roles, wrong method) wrote nothing.
    assert not AuditLogEntry.objects.filter(actor__in=_others(world)).exists()


def test_deactivate_confirmation_checklist(
    assert_tenancy: AssertTenancy, world: dict[str, User]
) -> None:
    assert_tenancy(
        BASE + "members/coder/deactivate/",
        allowed=[world["manager"]],
        forbidden=_others(world),
        wrong_method="put",
    )


def test_revoke_checklist(
    assert_tenancy: AssertTenancy, world: dict[str, User], client_for: ClientFor
) -> None:
    client_for(world["manager"]).post(
        BASE + "invite/", {"email": "x@example.org", "role": "viewer"}
    )
    invitation = Invitation.objects.get(email="x@example.org")
    assert_tenancy(
        f"{BASE}invitations/{invitation.public_id}/revoke/",
        allowed=[world["manager"]],
        forbidden=_others(world),
        method="post",
        wrong_method="get",
    )
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None


def test_a_member_of_another_organization_is_a_404(
    client_for: ClientFor, manager: User, outsider: User
) -> None:
    client = client_for(manager)
    assert client.post(BASE + "members/outsider/role/", {"role": "viewer"}).status_code == 404
    assert client.get(BASE + "members/outsider/deactivate/").status_code == 404
    assert Membership.objects.get(user=outsider).role == Role.AUDITOR


def test_the_members_screen_shows_who_is_who(
    client_for: ClientFor, world: dict[str, User], coder: Coder, org: Organization
) -> None:
    Auditor.objects.create(organization=org, name="auditor.ali", display_name="Ali Auditor")
    User.objects.filter(pk=world["coder"].pk).update(email="casey@example.org")
    Membership.objects.filter(user=world["viewer"]).update(is_active=False)
    response = client_for(world["manager"]).get(BASE)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Casey Coder",  # display name
        ">coder<",  # username
        "casey@example.org",
        "Coder · <strong>Casey Coder</strong>",  # the linked roster entry
        "Deactivated",
        "Reactivate",
        "never",  # last sign-in
        "No invitations are waiting",
        "auditor.ali",  # an unlinked roster auditor offered for linking
        "What each role may do",
    ):
        assert text in html, text


def test_invite_sends_one_email_and_lists_the_invitation(
    client_for: ClientFor, manager: User, org: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    entry = CoderFactory(organization=org, name="coder.new", display_name="Nia New")
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            BASE + "invite/",
            {"email": "Nia.New@Example.ORG", "role": "coder", "roster": f"coder:{entry.public_id}"},
            REMOTE_ADDR="198.51.100.4",
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "Nia.New@example.org"
    assert invitation.coder == entry
    assert invitation.invited_by == manager
    [message] = mail.outbox
    assert message.to == ["Nia.New@example.org"]
    assert "Maria Manager invited you to join North Health on AuditCoach as coder" in message.body
    assert "http://testserver/accounts/invitations/" in message.body
    entry_log = AuditLogEntry.objects.get(action="invitation.create")
    assert entry_log.actor == manager
    assert entry_log.ip == "198.51.100.4"
    page = client.get(BASE).content.decode()
    assert "Nia.New@example.org" in page
    assert "Invitation sent to Nia.New@example.org as coder" in page
    assert "Coder · Nia New" in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "not-an-address", "role": "coder"}, "Enter a valid email address."),
        ({"email": "a" * 250 + "@example.org", "role": "coder"}, "at most 254 characters"),
        ({"email": "ok@example.org", "role": "owner"}, "Select a valid choice"),
        (
            {"email": "ok@example.org", "role": "coder", "roster": "coder:nope"},
            "Select a valid choice",
        ),
        (
            {"email": "ok@example.org", "role": "coder", "roster": "x" * 5000},
            "Select a valid choice",
        ),
        ({"email": "", "role": ""}, "This field is required."),
    ],
)
def test_bad_invitations_are_form_errors(
    data: dict[str, str], error: str, client_for: ClientFor, manager: User
) -> None:
    response = client_for(manager).post(BASE + "invite/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_a_roster_coder_cannot_go_with_another_role(
    client_for: ClientFor, manager: User, org: Organization
) -> None:
    entry = CoderFactory(organization=org, name="coder.x")
    response = client_for(manager).post(
        BASE + "invite/",
        {"email": "x@example.org", "role": "viewer", "roster": f"coder:{entry.public_id}"},
    )
    assert response.status_code == 400
    assert "A roster coder can only be linked to a coder." in response.content.decode()


def test_an_active_member_is_not_invited_again(
    client_for: ClientFor, manager: User, auditor: User
) -> None:
    response = client_for(manager).post(
        BASE + "invite/", {"email": auditor.email.upper(), "role": "coder"}
    )
    assert response.status_code == 400
    assert "is already a member (auditor)" in response.content.decode()


def test_change_a_role_and_the_last_manager_error(
    client_for: ClientFor, manager: User, coder_user: User
) -> None:
    client = client_for(manager)
    response = client.post(BASE + "members/coder/role/", {"role": "educator"})
    assert response.status_code == 302
    assert Membership.objects.get(user=coder_user).role == Role.EDUCATOR
    response = client.post(BASE + "members/manager/role/", {"role": "viewer"})
    assert response.status_code == 400
    assert (
        "Maria Manager is the organization&#x27;s last active manager" in response.content.decode()
    )
    assert Membership.objects.get(user=manager).role == Role.MANAGER
    assert client.post(BASE + "members/coder/role/", {"role": "x" * 999}).status_code == 400


def test_deactivate_asks_first_then_deactivates(
    client_for: ClientFor, manager: User, coder_user: User
) -> None:
    client = client_for(manager)
    page = client.get(BASE + "members/coder/deactivate/")
    assert page.status_code == 200
    assert "Deactivate Casey Coder?" in page.content.decode()
    assert Membership.objects.get(user=coder_user).is_active  # a GET changes nothing
    response = client.post(BASE + "members/coder/deactivate/")
    assert response.status_code == 302
    assert not Membership.objects.get(user=coder_user).is_active
    assert client_for(coder_user).get("/o/north-health/coaching/feedback/").status_code == 404
    assert client.post(BASE + "members/coder/reactivate/").status_code == 302
    assert Membership.objects.get(user=coder_user).is_active


def test_a_manager_cannot_deactivate_themselves(client_for: ClientFor, manager: User) -> None:
    client = client_for(manager)
    assert (
        "You cannot deactivate yourself"
        in client.get(BASE + "members/manager/deactivate/").content.decode()
    )
    response = client.post(BASE + "members/manager/deactivate/")
    assert response.status_code == 400
    assert Membership.objects.get(user=manager).is_active


def test_link_and_unlink_through_the_screen(
    client_for: ClientFor, manager: User, coder_user: User, org: Organization
) -> None:
    entry = CoderFactory(organization=org, name="coder.casey", display_name="Casey C.")
    client = client_for(manager)
    response = client.post(BASE + "members/coder/link/", {"roster": f"coder:{entry.public_id}"})
    assert response.status_code == 302
    assert Coder.objects.get(pk=entry.pk).user == coder_user
    assert "Casey Coder is linked to Casey C." in client.get(BASE).content.decode()
    response = client.post(BASE + "members/coder/unlink/", {"roster": f"coder:{entry.public_id}"})
    assert response.status_code == 302
    assert Coder.objects.get(pk=entry.pk).user is None


def test_bad_links_are_form_errors(
    client_for: ClientFor, manager: User, viewer: User, org: Organization, coder: Coder
) -> None:
    client = client_for(manager)
    entry = CoderFactory(organization=org, name="coder.v")
    # A viewer's login cannot be linked to a roster coder.
    response = client.post(BASE + "members/viewer/link/", {"roster": f"coder:{entry.public_id}"})
    assert response.status_code == 400
    assert "A roster coder can only be linked to a coder." in response.content.decode()
    # An entry linked to somebody else is not offered, and refused when forced.
    other = UserFactory(username="coder2")
    MembershipFactory(user=other, organization=org, role=Role.CODER)
    response = client.post(BASE + "members/coder2/link/", {"roster": f"coder:{coder.public_id}"})
    assert response.status_code == 400
    # Unlinking an entry that is not this login's.
    response = client.post(BASE + "members/coder2/unlink/", {"roster": f"coder:{coder.public_id}"})
    assert response.status_code == 400
    assert Coder.objects.get(pk=coder.pk).user is not None
    for junk in ("", "coder:", "auditor:not-a-uuid", "x" * 5000):
        assert client.post(BASE + "members/coder2/link/", {"roster": junk}).status_code == 400
        assert client.post(BASE + "members/coder2/unlink/", {"roster": junk}).status_code == 400


def test_revoke_removes_the_invitation_from_the_list(client_for: ClientFor, manager: User) -> None:
    client = client_for(manager)
    client.post(BASE + "invite/", {"email": "gone@example.org", "role": "viewer"})
    invitation = Invitation.objects.get()
    response = client.post(f"{BASE}invitations/{invitation.public_id}/revoke/")
    assert response.status_code == 302
    page = client.get(BASE).content.decode()
    assert "The invitation to gone@example.org was revoked." in page
    assert "No invitations are waiting" in page
    entry = AuditLogEntry.objects.get(action="invitation.revoke")
    assert entry.actor == manager
    assert entry.ip == "127.0.0.1"


def test_the_members_screen_costs_the_same_queries_for_many_members(
    client_for: ClientFor, manager: User, org: Organization
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(BASE).status_code == 200
        return len(queries)

    count()  # the first visit also remembers the organization in the session
    few = count()
    for n in range(12):
        user = UserFactory(username=f"many{n}")
        MembershipFactory(user=user, organization=org, role=Role.CODER)
        CoderFactory(organization=org, name=f"coder.many{n}", user=user if n % 2 else None)
        client_for(manager).post(BASE + "invite/", {"email": f"p{n}@example.org", "role": "viewer"})
    assert count() == few


def test_each_row_offers_only_the_roster_its_role_may_link(
    client_for: ClientFor, world: dict[str, User], org: Organization
) -> None:
    CoderFactory(organization=org, name="coder.free")
    Auditor.objects.create(organization=org, name="auditor.free")
    html = client_for(world["manager"]).get(BASE).content.decode()

    def row(username: str) -> str:
        start = html.index(f'data-username="{username}"')
        return html[start : html.index("</tr>", start)]

    assert "coder.free" in row("coder")
    assert "auditor.free" not in row("coder")
    for username in ("auditor", "manager"):
        assert "auditor.free" in row(username)
        assert "coder.free" not in row(username)
    for username in ("educator", "viewer"):
        assert 'name="roster"' not in row(username)
        assert "Not linked" in row(username)
