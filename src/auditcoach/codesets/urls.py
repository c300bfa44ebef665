"""Routes of the coding-knowledge screens, under `o/<org_slug>/codes/` (see the project URLconf)."""

from django.urls import path

from auditcoach.codesets import views

app_name = "codesets"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("cpt/", views.cpt, name="cpt"),
    path("facilities/", views.facilities, name="facilities"),
    path("facilities/<uuid:facility_id>/rate/", views.facility_rate, name="facility_rate"),
]
