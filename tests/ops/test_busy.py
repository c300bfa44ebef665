"""A locked SQLite database answers 503 "an import is running", never a 500 (handler500).

Here views raise the error SQLite raises; tests/ops/test_worker_survives.py holds the real
write lock of a real SQLite file while a page is signed in to.
"""

from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Audit, ImportJob
from auditcoach.ops.views import BUSY_MESSAGE, BUSY_MESSAGE_NO_IMPORT

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls_busy")]


def _client() -> Client:
    return Client(raise_request_exception=False)


def test_a_locked_database_is_a_503_that_says_the_database_is_busy() -> None:
    response = _client().get("/test-locked")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert "The database is busy" in text
    assert escape(BUSY_MESSAGE_NO_IMPORT) in text


def test_while_an_import_runs_the_503_says_an_import_is_running(org: Organization) -> None:
    ImportJob.objects.create(organization=org, name="Q3", path="x", status=ImportJob.Status.RUNNING)
    response = _client().get("/test-locked")
    assert response.status_code == 503
    assert "An import is running" in response.content.decode()
    assert escape(BUSY_MESSAGE) in response.content.decode()


def test_an_htmx_request_gets_the_message_for_the_messages_area() -> None:
    response = _client().get("/test-locked", headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response["HX-Retarget"] == "#messages"
    assert response["HX-Reswap"] == "innerHTML"
    assert response.content.decode().startswith('<div class="message message-warning">')


def test_other_database_errors_stay_a_plain_500(settings: Any) -> None:
    response = _client().get("/test-broken")
    assert response.status_code == 500
    assert "busy" not in response.content.decode()
    assert not Audit.objects.exists()
