"""Security headers on pages, account pages, downloads and the health check."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Finding
from auditcoach.audits.services import audit_import
from auditcoach.coaching.services import attachment_add
from auditcoach.engine.workbook import read_workbook
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def _assert_browser_policies(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in headers


def test_the_login_page_is_never_stored_and_carries_the_policies(client_for: ClientFor) -> None:
    response = client_for(None).get(reverse("accounts:login"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    _assert_browser_policies(response)


def test_organization_pages_are_never_stored(
    org: Organization, auditor: User, client_for: ClientFor
) -> None:
    response = client_for(auditor).get(reverse("audits:index", kwargs={"org_slug": org.slug}))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    _assert_browser_policies(response)
    # a 404 for an outsider is not stored either
    assert client_for(auditor).get("/o/no-such-org/")["Cache-Control"] == "no-store"


def test_a_download_is_never_stored(
    org: Organization, auditor: User, coder_user: User, client_for: ClientFor
) -> None:
    audit = audit_import(organization=org, workbook=read_workbook(WORKED), name="W", actor=auditor)
    finding = Finding.objects.filter(encounter__audit=audit).order_by("pk").first()
    assert finding is not None
    upload = SimpleUploadedFile("note.txt", b"Synthetic operative note.")
    attachment = attachment_add(finding=finding, actor=auditor, upload=upload)
    url = reverse(
        "coaching:attachment",
        kwargs={"org_slug": org.slug, "attachment_id": attachment.public_id},
    )
    response = client_for(auditor).get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "Content-Disposition" in response


def test_a_view_cannot_make_an_organization_page_cacheable(
    org: Organization, auditor: User, client_for: ClientFor, settings: object
) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from auditcoach.ops.middleware import SecurityHeadersMiddleware

    def cacheable(request: object) -> HttpResponse:
        response = HttpResponse("x")
        response["Cache-Control"] = "public, max-age=3600"
        response["Expires"] = "Thu, 01 Jan 2099 00:00:00 GMT"
        return response

    middleware = SecurityHeadersMiddleware(cacheable)  # type: ignore[arg-type]
    private = middleware(RequestFactory().get(f"/o/{org.slug}/audits/"))
    assert private["Cache-Control"] == "no-store"
    assert "Expires" not in private
    # outside the private areas a view's own caching choice stands
    public = middleware(RequestFactory().get("/healthz-like"))
    assert public["Cache-Control"] == "public, max-age=3600"
