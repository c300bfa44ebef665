"""Routes of the analytics screens, under `o/<org_slug>/analytics/`."""

from django.urls import path

from auditcoach.analytics import views
from auditcoach.analytics import views_people as people

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("views/", views.dashboard_save, name="view_save"),
    path("views/<uuid:view_id>/delete/", views.dashboard_delete, name="view_delete"),
    path("findings/", views.findings, name="findings"),
    path("encounters/", views.encounters, name="encounters"),
    path("coders/", people.coders, name="coders"),
    path("coders/<uuid:coder_id>/", people.scorecard, name="scorecard"),
    path("me/", people.my_scorecard, name="my_scorecard"),
    path("documentation/", people.documentation, name="documentation"),
]
