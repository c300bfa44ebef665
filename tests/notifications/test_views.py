"""The notification pages: one's own only, mark read, mark all read, preferences."""

import pytest

from auditcoach.accounts.models import Organization, User
from auditcoach.notifications import services
from auditcoach.notifications.models import Kind, Notification, NotificationPreference
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db


def _notify(org: Organization, user: User, title: str, url: str = "") -> Notification:
    services.notify(
        organization=org, recipients=[user], kind=Kind.FINDING_RELEASED, title=title, url=url
    )
    return Notification.objects.filter(recipient=user).latest("id")


def test_list_shows_own_notifications_and_the_bell_counts_them(
    org: Organization, coder_user: User, auditor: User, client_for: ClientFor
) -> None:
    _notify(org, coder_user, "Mine")
    _notify(org, auditor, "Not mine")
    response = client_for(coder_user).get("/notifications/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mine" in html
    assert "Not mine" not in html
    assert 'id="notifications-bell"' in html
    assert '<span class="count-pill">1</span>' in html


def test_open_marks_read_and_redirects_and_others_are_404(
    org: Organization, coder_user: User, auditor: User, client_for: ClientFor
) -> None:
    mine = _notify(org, coder_user, "Mine", url="/o/north-health/")
    theirs = _notify(org, auditor, "Theirs")
    client = client_for(coder_user)
    response = client.post(f"/notifications/{mine.pk}/open/")
    assert response.status_code == 302
    assert response["Location"] == "/o/north-health/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.post(f"/notifications/{theirs.pk}/open/").status_code == 404
    assert client.get(f"/notifications/{mine.pk}/open/").status_code == 405
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(org: Organization, coder_user: User, client_for: ClientFor) -> None:
    _notify(org, coder_user, "One")
    _notify(org, coder_user, "Two")
    client = client_for(coder_user)
    assert client.get("/notifications/read-all/").status_code == 405
    response = client.post("/notifications/read-all/")
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=coder_user, read_at__isnull=True).exists()


def test_preferences_page_saves_own_choices(coder_user: User, client_for: ClientFor) -> None:
    client = client_for(coder_user)
    response = client.get("/notifications/preferences/")
    assert response.status_code == 200
    response = client.post("/notifications/preferences/", {Kind.FINDING_RELEASED: "on"})
    assert response.status_code == 302
    prefs = dict(
        NotificationPreference.objects.filter(user=coder_user).values_list("kind", "email")
    )
    assert prefs[Kind.FINDING_RELEASED] is True
    assert prefs[Kind.EDUCATION_ASSIGNED] is False


def test_anonymous_is_sent_to_login(client_for: ClientFor) -> None:
    for url in ("/notifications/", "/notifications/preferences/"):
        response = client_for(None).get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
