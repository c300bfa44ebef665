"""The organization's settings and rosters, for managers."""

from django.urls import URLPattern, path

from auditcoach.accounts import views_settings as views

app_name = "orgsettings"

urlpatterns: list[URLPattern] = [
    path("", views.general, name="general"),
    path("rosters/", views.rosters, name="rosters"),
    path("rosters/<slug:kind>/", views.rosters, name="roster"),
    path("rosters/<slug:kind>/<uuid:entry_id>/edit/", views.roster_edit, name="roster_edit"),
    path("rosters/<slug:kind>/<uuid:entry_id>/merge/", views.roster_merge, name="roster_merge"),
    path("rosters/<slug:kind>/<uuid:entry_id>/retire/", views.roster_retire, name="roster_retire"),
    path(
        "rosters/<slug:kind>/<uuid:entry_id>/restore/", views.roster_restore, name="roster_restore"
    ),
]
