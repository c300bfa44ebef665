"""The organization's settings and rosters, for managers."""

from django.urls import URLPattern

app_name = "orgsettings"

urlpatterns: list[URLPattern] = []
