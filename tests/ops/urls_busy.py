"""The real URLs plus two that fail as a locked SQLite (and any other error) makes views fail."""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from auditcoach.urls import handler500
from auditcoach.urls import urlpatterns as real

__all__ = ["handler500", "urlpatterns"]


def locked(request: HttpRequest) -> HttpResponse:
    raise OperationalError("database is locked")


def broken(request: HttpRequest) -> HttpResponse:
    raise OperationalError("no such column: x")


urlpatterns = [*real, path("test-locked", locked), path("test-broken", broken)]
