"""Invitations: a hashed random token that expires, works once and can be revoked; a
re-invite replaces the pending one; accepting creates or reuses a login, adds or
reactivates the membership, links the roster entry and lands the person on their work."""

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone

from auditcoach.accounts.models import Coder, Invitation, Membership, Organization, Role, User
from auditcoach.accounts.services_people import (
    InvitationInvalid,
    LastManagerError,
    invitation_accept,
    invitation_create,
    invitation_revoke,
)
from auditcoach.auditlog.models import AuditLogEntry
from tests.conftest import ClientFor
from tests.factories import TEST_PASSWORD, CoderFactory, MembershipFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "Lantern-orchard-59-quietly"


def _request(ip: str = "192.0.2.10") -> Any:
    return RequestFactory().post("/", REMOTE_ADDR=ip)


def _invite(
    org: Organization, manager: User, email: str, role: str = Role.CODER, **kw: Any
) -> tuple[Invitation, str]:
    return invitation_create(
        organization=org, email=email, role=role, actor=manager, request=_request(), **kw
    )


def _url(token: str) -> str:
    return f"/accounts/invitations/{token}/"


def _signup(**overrides: str) -> dict[str, str]:
    data = {
        "username": "nia.new",
        "first_name": "Nia",
        "last_name": "New",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- the token


def test_only_the_tokens_hash_is_stored_and_the_email_carries_the_link(
    org: Organization, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = _invite(org, manager, "nia@example.org")
    assert len(token) >= 43  # secrets.token_urlsafe(32)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert (invitation.expires_at - timezone.now()).days == 6  # 7 days, less a moment
    [message] = mail.outbox
    assert _url(token) in message.body
    assert "North Health" in message.body
    assert "as coder" in message.body
    assert "Maria Manager" in message.body
    assert "expires on" in message.body
    entry = AuditLogEntry.objects.get(action="invitation.create")
    assert token not in str(entry.changes)
    assert entry.ip == "192.0.2.10"


def test_the_lifetime_comes_from_the_setting(
    org: Organization, manager: User, settings: Any
) -> None:
    settings.INVITATION_TTL_DAYS = 2
    invitation, _ = _invite(org, manager, "nia@example.org")
    assert abs((invitation.expires_at - invitation.created_at) - timedelta(days=2)) < timedelta(
        seconds=5
    )


def test_an_unknown_token_is_a_404_that_says_nothing(client: Client, db: None) -> None:
    for token in ("nope", "x" * 500, "A" * 43):
        response = client.get(_url(token))
        assert response.status_code == 404
        assert b"This invitation link is not valid" in response.content


def test_an_expired_invitation_is_gone(client: Client, org: Organization, manager: User) -> None:
    invitation, token = _invite(org, manager, "nia@example.org")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    response = client.get(_url(token))
    assert response.status_code == 410
    assert b"This invitation has expired" in response.content
    assert b"North Health" not in response.content
    assert client.post(_url(token), _signup()).status_code == 410
    assert not User.objects.filter(username="nia.new").exists()


def test_an_invitation_works_once(client_for: ClientFor, org: Organization, manager: User) -> None:
    invitation, token = _invite(org, manager, "nia@example.org")
    assert Client().post(_url(token), _signup()).status_code == 302
    response = Client().post(_url(token), _signup(username="someone.else"))
    assert response.status_code == 410
    assert b"already been used" in response.content
    assert not User.objects.filter(username="someone.else").exists()
    with pytest.raises(InvitationInvalid):
        invitation_accept(invitation=invitation, user=manager)


def test_a_revoked_invitation_is_gone(client: Client, org: Organization, manager: User) -> None:
    invitation, token = _invite(org, manager, "nia@example.org")
    assert invitation_revoke(invitation=invitation, actor=manager, request=_request())
    assert not invitation_revoke(invitation=invitation, actor=manager)  # once
    response = client.get(_url(token))
    assert response.status_code == 410
    assert b"withdrawn" in response.content


def test_reinviting_replaces_the_pending_invitation(
    client: Client, org: Organization, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first, first_token = _invite(org, manager, "nia@example.org")
        second, second_token = _invite(org, manager, "NIA@example.org", role=Role.AUDITOR)
    assert Invitation.objects.get(pk=first.pk).revoked_at is not None
    assert Invitation.objects.get(pk=second.pk).revoked_at is None
    assert client.get(_url(first_token)).status_code == 410
    assert client.get(_url(second_token)).status_code == 200
    assert len(mail.outbox) == 2
    revoke = AuditLogEntry.objects.get(action="invitation.revoke")
    assert revoke.changes["reason"] == "replaced"


# --------------------------------------------------------------------------- accepting


def test_a_newcomer_creates_a_login_and_lands_on_my_feedback(
    org: Organization, manager: User
) -> None:
    entry = CoderFactory(organization=org, name="coder.nia")
    invitation, token = _invite(org, manager, "nia.new@example.org", roster=entry)
    client = Client()
    page = client.get(_url(token))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Join North Health as coder" in html
    assert "Maria Manager" in html
    assert 'value="nia.new"' in html  # the username is prefilled from the address
    assert "I already have an AuditCoach login" in html
    assert "/accounts/login/?next=/accounts/invitations/" in html

    response = client.post(_url(token), _signup(), REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 302
    assert response["Location"] == "/o/north-health/coaching/feedback/"
    user = User.objects.get(username="nia.new")
    assert user.email == "nia.new@example.org"
    assert user.get_full_name() == "Nia New"
    assert user.check_password(GOOD_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)  # signed in
    assert Membership.objects.get(user=user, organization=org).role == Role.CODER
    assert Coder.objects.get(pk=entry.pk).user == user
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    assert invitation.accepted_at is not None
    assert client.get("/o/north-health/coaching/feedback/").status_code == 200
    actions = set(
        AuditLogEntry.objects.filter(actor=user, ip="192.0.2.99").values_list("action", flat=True)
    )
    assert {"user.create", "membership.add", "coder.link", "invitation.accept"} <= actions


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"password1": "password", "password2": "password"}, "This password is too common."),
        ({"password1": "short", "password2": "short"}, "too short"),
        ({"password2": "Something-else-entirely-77"}, "The two passwords differ."),
        ({"password1": "83920174655", "password2": "83920174655"}, "entirely numeric"),
        ({"password1": "nia.new.example", "password2": "nia.new.example"}, "too similar"),
        ({"username": "manager"}, "This username is taken."),
        ({"username": "MANAGER"}, "This username is taken."),
        ({"username": "bad name!"}, "Enter a valid username"),
        ({"username": "u" * 151}, "at most 150 characters"),
        ({"first_name": "F" * 151}, "at most 150 characters"),
        ({"last_name": ""}, "This field is required."),
        ({"password1": "p" * 5000, "password2": "p" * 5000}, "at most 4096 characters"),
    ],
)
def test_bad_sign_ups_are_form_errors(
    overrides: dict[str, str], error: str, org: Organization, manager: User
) -> None:
    _, token = _invite(org, manager, "nia.new@example.org")
    response = Client().post(_url(token), _signup(**overrides))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert User.objects.count() == 1  # the manager only
    assert not Membership.objects.filter(user__username="nia.new").exists()


def test_an_existing_login_joins_with_one_post(
    org: Organization, other_org: Organization, manager: User, outsider: User
) -> None:
    # An audit firm's auditor, already working for South Clinic, joins North Health.
    _, token = _invite(org, manager, "otto@firm.example", role=Role.AUDITOR)
    client = Client()
    response = client.get(_url(token))
    assert b"Sign in to accept" in response.content
    login = client.post(
        f"/accounts/login/?next={_url(token)}",
        {"username": "outsider", "password": TEST_PASSWORD, "next": _url(token)},
    )
    assert login["Location"] == _url(token)
    page = client.get(_url(token)).content.decode()
    assert "Join North Health as auditor" in page
    assert "Signed in as Otto Outsider" in page
    response = client.post(_url(token))
    assert response.status_code == 302
    assert response["Location"] == "/o/north-health/?status=in_review"
    roles = dict(Membership.objects.filter(user=outsider).values_list("organization__slug", "role"))
    assert roles == {"south-clinic": "auditor", "north-health": "auditor"}
    assert User.objects.filter(username="outsider").count() == 1


def test_accepting_reactivates_with_the_invited_role(
    org: Organization, manager: User, coder_user: User
) -> None:
    Membership.objects.filter(user=coder_user).update(is_active=False)
    invitation, _ = _invite(org, manager, "casey@example.org", role=Role.EDUCATOR)
    membership = invitation_accept(invitation=invitation, user=coder_user, request=_request())
    assert membership.is_active
    assert membership.role == Role.EDUCATOR
    entry = AuditLogEntry.objects.get(action="membership.update", actor=coder_user)
    assert entry.changes["role"] == ["coder", "educator"]
    assert entry.changes["is_active"] == [False, True]


def test_the_last_manager_cannot_accept_a_lesser_role(org: Organization, manager: User) -> None:
    invitation, _ = _invite(org, manager, "someone@example.org", role=Role.VIEWER)
    with pytest.raises(LastManagerError):
        invitation_accept(invitation=invitation, user=manager)
    assert Membership.objects.get(user=manager).role == Role.MANAGER
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_a_roster_entry_taken_meanwhile_is_left_alone(
    org: Organization, manager: User, coder_user: User
) -> None:
    entry = CoderFactory(organization=org, name="coder.taken")
    _, token = _invite(org, manager, "nia.new@example.org", roster=entry)
    Coder.objects.filter(pk=entry.pk).update(user=coder_user)
    response = Client().post(_url(token), _signup())
    assert response.status_code == 302
    assert Coder.objects.get(pk=entry.pk).user == coder_user
    assert Membership.objects.filter(user__username="nia.new", role=Role.CODER).exists()


def test_signed_in_members_see_the_join_button_not_the_sign_up_form(
    client_for: ClientFor, org: Organization, other_org: Organization, manager: User
) -> None:
    outsider_user = MembershipFactory(organization=other_org, role=Role.VIEWER).user
    _, token = _invite(org, manager, "v@example.org", role=Role.VIEWER)
    html = client_for(outsider_user).get(_url(token)).content.decode()
    assert "Join North Health as viewer" in html
    assert 'name="password1"' not in html
    assert re.search(r"<button[^>]*>Join North Health as viewer</button>", html)
