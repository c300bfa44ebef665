"""Waiting out a busy database: SQLite's one write lock, held for minutes by a large import.

`is_locked` recognizes the error; `when_unlocked` runs a short write again with backoff until
it gets through, which is what the background worker does for its own bookkeeping (claiming
a task, recording its outcome, an import job's state), so that a long import elsewhere never
makes it exit. Page requests do not wait here: they answer 503 (`ops.views.server_error`).
"""

import logging
import time
from collections.abc import Callable
from typing import Final

from django.db import OperationalError
from django_tasks_db.utils import is_locked_database_exception

logger = logging.getLogger("auditcoach.worker")

FIRST_WAIT: Final = 0.5
LONGEST_WAIT: Final = 30.0


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked"."""
    return isinstance(exc, OperationalError) and is_locked_database_exception(exc)


def backoff(attempt: int) -> float:
    """Seconds to wait before the attempt after `attempt` (1, 2, …): 0.5, 1, 2, … 30."""
    return min(FIRST_WAIT * 2.0 ** (attempt - 1), LONGEST_WAIT)


def when_unlocked[T](
    run: Callable[[], T],
    *,
    what: str,
    give_up_after: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`run()`, again after a backoff each time it meets a locked database, for at most
    `give_up_after` seconds (then the last error is raised). Each wait is logged."""
    started = time.monotonic()
    attempt, waited = 0, 0.0
    while True:
        try:
            return run()
        except OperationalError as exc:
            if not is_locked(exc):
                raise
            attempt += 1
            wait = backoff(attempt)
            if max(time.monotonic() - started, waited) + wait > give_up_after:
                raise
            logger.warning(
                "database is locked; waiting",
                extra={
                    "fields": {
                        "event": "worker.locked",
                        "what": what,
                        "attempt": attempt,
                        "wait_seconds": wait,
                    }
                },
            )
            sleep(wait)
            waited += wait
