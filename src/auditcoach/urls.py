from django.urls import include, path

from auditcoach.accounts import views as account_views
from auditcoach.ops import views as ops_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("accounts/", include("auditcoach.accounts.urls")),
    path("o/<slug:org_slug>/", include("auditcoach.audits.urls")),
    path("o/<slug:org_slug>/codes/", include("auditcoach.codesets.urls")),
    path("o/<slug:org_slug>/library/", include("auditcoach.library.urls")),
    path("o/<slug:org_slug>/education/", include("auditcoach.education.urls")),
    path("notifications/", include("auditcoach.notifications.urls")),
    path("o/<slug:org_slug>/coaching/", include("auditcoach.coaching.urls")),
    path("o/<slug:org_slug>/analytics/", include("auditcoach.analytics.urls")),
    path("o/<slug:org_slug>/overreads/", include("auditcoach.overreads.urls")),
    path("o/<slug:org_slug>/people/", include("auditcoach.accounts.urls_people")),
    path("o/<slug:org_slug>/settings/", include("auditcoach.accounts.urls_settings")),
]

# A locked SQLite database (a long import writing) answers 503 "an import is running".
handler500 = "auditcoach.ops.views.server_error"
