"""Structured logs: one JSON line per request and per task run, with no PHI."""

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.lib.jsonlog import JsonFormatter
from tests.conftest import ClientFor
from tests.ops import tasks_for_tests

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the `auditcoach` loggers write, through the JSON formatter of the settings."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("auditcoach")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def _records(stream: io.StringIO, event: str) -> list[dict[str, object]]:
    out = []
    for line in stream.getvalue().splitlines():
        record = json.loads(line)  # every line is one whole JSON object
        if record.get("event") == event:
            out.append(record)
    return out


def test_settings_send_the_auditcoach_loggers_through_the_json_formatter() -> None:
    from django.conf import settings

    assert settings.LOGGING["formatters"]["json"]["()"] == "auditcoach.lib.jsonlog.JsonFormatter"
    handlers = logging.getLogger("auditcoach").handlers
    assert any(isinstance(h.formatter, JsonFormatter) for h in handlers)
    assert logging.getLogger("auditcoach.requests").getEffectiveLevel() == logging.INFO


def test_one_line_per_request_without_the_query_string(
    org: Organization, auditor: User, client_for: ClientFor, lines: io.StringIO
) -> None:
    url = reverse("audits:index", kwargs={"org_slug": org.slug})
    client_for(auditor).get(url + "?account=ACCT-0001&q=Jane+Doe")
    (record,) = _records(lines, "request")
    assert record["method"] == "GET"
    assert record["path"] == url
    assert record["status"] == 200
    assert record["user_id"] == auditor.pk
    assert record["org"] == org.slug
    assert record["client"] == "127.0.0.1"
    assert isinstance(record["duration_ms"], float)
    assert record["level"] == "INFO"
    assert record["logger"] == "auditcoach.requests"
    assert str(record["time"]).endswith("+00:00")
    assert "ACCT-0001" not in lines.getvalue()
    assert "Jane" not in lines.getvalue()


def test_anonymous_and_outsider_requests_log_no_organization(
    org: Organization, outsider: User, client_for: ClientFor, lines: io.StringIO
) -> None:
    client_for(None).get(reverse("accounts:login"))
    client_for(outsider).get(reverse("audits:index", kwargs={"org_slug": org.slug}))
    anonymous, refused = _records(lines, "request")
    assert anonymous["user_id"] is None
    assert anonymous["org"] is None
    assert refused["status"] == 404
    assert refused["org"] is None  # the slug was not theirs: nothing resolved


def test_successful_health_checks_are_not_logged(client_for: ClientFor, lines: io.StringIO) -> None:
    assert client_for(None).get("/healthz").status_code == 200
    assert _records(lines, "request") == []


def test_one_line_per_task_run_with_outcome_and_duration(lines: io.StringIO) -> None:
    result = tasks_for_tests.succeed.enqueue(21)
    assert result.return_value == 42
    (record,) = _records(lines, "task")
    assert record["task"] == "tests.ops.tasks_for_tests.succeed"
    assert record["task_id"] == result.id
    assert record["outcome"] == "successful"
    assert isinstance(record["duration_ms"], float)
    assert record["level"] == "INFO"
    assert "21" not in json.dumps({k: v for k, v in record.items() if k != "time"})


def test_a_failed_task_logs_its_error_class_but_not_its_message(lines: io.StringIO) -> None:
    result = tasks_for_tests.fail.enqueue("Jane Doe")
    (record,) = _records(lines, "task")
    assert record["task_id"] == result.id
    assert record["outcome"] == "failed"
    assert record["error"] == "builtins.ValueError"
    assert record["level"] == "ERROR"
    assert "Jane" not in lines.getvalue()


def test_djangos_own_task_lines_are_replaced_by_ours() -> None:
    # Django logs a failed task's traceback (which may quote patient data) on `django.tasks`.
    django_tasks = logging.getLogger("django.tasks")
    assert django_tasks.propagate is False
    assert not django_tasks.isEnabledFor(logging.ERROR)


def test_the_formatter_keeps_a_traceback_on_one_line() -> None:
    logger = logging.getLogger("auditcoach.test-formatter")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed"
    assert "RuntimeError: boom" in parsed["exception"]
