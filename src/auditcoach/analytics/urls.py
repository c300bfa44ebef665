"""Routes of the analytics screens, under `o/<org_slug>/analytics/`."""

from django.urls import path

from auditcoach.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("views/", views.dashboard_save, name="view_save"),
    path("views/<uuid:view_id>/delete/", views.dashboard_delete, name="view_delete"),
    path("findings/", views.findings, name="findings"),
    path("encounters/", views.encounters, name="encounters"),
]
