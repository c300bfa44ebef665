"""The organization's people: members, invitations and their links to the roster."""

from django.urls import URLPattern

app_name = "people"

urlpatterns: list[URLPattern] = []
