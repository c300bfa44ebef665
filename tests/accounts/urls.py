"""A stand-in URLconf for accounts tests: the real routes plus two stub organization views.

It keeps these tests independent of the audits app while exercising the same middleware,
decorators and page shell (`audits:index` is what `home` redirects to).
"""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path
from django.views.decorators.http import require_POST, require_safe

from auditcoach.accounts import views as account_views
from auditcoach.accounts.permissions import AUDIT_WRITE_ROLES, READ_ROLES, OrgRequest, require_role


@require_role(*READ_ROLES)
@require_safe
def index(request: OrgRequest, org_slug: str) -> HttpResponse:
    return render(request, "base.html", {})


@require_role(*AUDIT_WRITE_ROLES)
@require_POST
def write(request: OrgRequest, org_slug: str) -> HttpResponse:
    return HttpResponse(f"{request.organization.slug}:{request.membership.role}")


audits_patterns = (
    [path("", index, name="index"), path("write/", write, name="write")],
    "audits",
)

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("auditcoach.accounts.urls")),
    path("o/<slug:org_slug>/", include(audits_patterns)),
]
