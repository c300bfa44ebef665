"""Structured log lines: one per request (the middleware) and one per task run (a signal).

Both go through `logging` with `auditcoach.lib.jsonlog.JsonFormatter` (settings' LOGGING),
so each is one JSON object on one line. They carry no PHI: paths without query strings,
ids rather than names, no request or task arguments.
"""

import logging
from typing import Any

request_logger = logging.getLogger("auditcoach.requests")
task_logger = logging.getLogger("auditcoach.tasks")


def task_finished_log(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """One line per task run: name, id, outcome and duration (never its arguments)."""
    started = getattr(task_result, "last_attempted_at", None) or getattr(
        task_result, "started_at", None
    )
    finished = getattr(task_result, "finished_at", None)
    duration_ms = (
        round((finished - started).total_seconds() * 1000, 1)
        if started is not None and finished is not None
        else None
    )
    status = str(getattr(task_result.status, "value", task_result.status))
    task = task_result.task
    fields: dict[str, Any] = {
        "event": "task",
        "task": task.module_path,
        "task_id": str(task_result.id),
        "outcome": status.lower(),
        "duration_ms": duration_ms,
    }
    errors = getattr(task_result, "errors", None) or []
    if status == "FAILED" and errors:
        # The exception's class only: its message may quote the data the task worked on.
        fields["error"] = errors[-1].exception_class_path
    task_logger.log(
        logging.ERROR if status == "FAILED" else logging.INFO,
        "task",
        extra={"fields": fields},
    )
