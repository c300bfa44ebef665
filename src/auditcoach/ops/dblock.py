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


def with_backoff[T](
    run: Callable[[], T],
    *,
    waits_on: Callable[[Exception], bool],
    what: str,
    give_up_after: float,
    sleep: Callable[[float], None] = time.sleep,
    waiting: Callable[[bool], None] | None = None,
) -> T:
    """`run()`, again after a backoff (`backoff`) each time it raises an error `waits_on`
    accepts, for at most `give_up_after` seconds (then that error is raised); any other
    error passes at once. Each wait is logged; `waiting(True)` / `waiting(False)` bracket it."""
    started = time.monotonic()
    attempt, waited = 0, 0.0
    while True:
        try:
            return run()
        except Exception as exc:
            if not waits_on(exc):
                raise
            attempt += 1
            wait = backoff(attempt)
            if max(time.monotonic() - started, waited) + wait > give_up_after:
                raise
            logger.warning(
                "busy; waiting",
                extra={
                    "fields": {
                        "event": "worker.locked",
                        "what": what,
                        "attempt": attempt,
                        "wait_seconds": wait,
                    }
                },
            )
            if waiting is not None:
                waiting(True)
            sleep(wait)
            if waiting is not None:
                waiting(False)
            waited += wait


def when_unlocked[T](
    run: Callable[[], T],
    *,
    what: str,
    give_up_after: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`run()`, again after a backoff each time it meets a locked database, for at most
    `give_up_after` seconds (then the last error is raised). Each wait is logged."""
    return with_backoff(
        run, waits_on=is_locked, what=what, give_up_after=give_up_after, sleep=sleep
    )
