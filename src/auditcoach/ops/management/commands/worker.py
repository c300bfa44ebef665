"""`auditcoach worker`: django-tasks-db's `db_worker`, made to survive a busy database.

The library's worker exits on "database is locked" outside the few places it expects one:
beginning the exclusive transaction that claims a task, or recording a task's outcome after
its own three quick retries. On SQLite a large import holds the write lock for minutes, so
this worker waits those out with backoff instead (`auditcoach.ops.dblock`) and records the
outcome once the lock is free. It also runs the import-job reaper beside its loop: a job
whose lease has lapsed (its worker died) is marked stalled and its upload removed
(`audits.services.import_jobs_reap`). Same options as `db_worker`.
"""

import logging
import os
import threading
import time
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from auditcoach.ops.dblock import backoff, is_locked, when_unlocked

logger = logging.getLogger("auditcoach.worker")


class PatientWorker(Worker):
    """A `Worker` whose loop and bookkeeping wait out a locked database."""

    def run(self) -> None:
        attempt, last = 0, 0.0
        while self.running:
            try:
                super().run()
                return
            except OperationalError as exc:
                if not is_locked(exc):
                    raise
                now = time.monotonic()
                attempt = 1 if now - last > 60 else attempt + 1
                last = now
                wait = backoff(attempt)
                logger.warning(
                    "database is locked; the worker waits",
                    extra={
                        "fields": {
                            "event": "worker.locked",
                            "attempt": attempt,
                            "wait_seconds": wait,
                        }
                    },
                )
                self.startup_delay = False
                time.sleep(wait)

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        for name in ("set_successful", "set_failed"):
            setattr(db_task_result, name, _patient(getattr(db_task_result, name), name))
        super().run_task(db_task_result)


def _patient(method: Any, what: str) -> Any:
    @wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        return when_unlocked(lambda: method(*args, **kwargs), what=f"task.{what}")

    return run


def _reap_forever(stop: threading.Event) -> None:
    """Every half lease, mark the import jobs of dead workers stalled; never raises."""
    from auditcoach.audits.services import import_jobs_reap

    every = max(settings.IMPORT_LEASE_SECONDS / 2, 0.5)
    while not stop.wait(every):
        try:
            import_jobs_reap()
        except Exception:  # a failed sweep is tried again at the next one
            logger.exception("import job reaper failed", extra={"fields": {"event": "worker.reap"}})
        finally:
            connection.close()  # this thread's own connection: never held between sweeps


class Command(DbWorkerCommand):
    help = (
        "Run the background worker (django-tasks-db's db_worker that waits out a locked "
        "database and marks the import jobs of dead workers stalled)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.configure_logging(options["verbosity"])
        queues = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queues:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = PatientWorker(
            queue_names=queues,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        stop = threading.Event()
        reaper = threading.Thread(target=_reap_forever, args=(stop,), name="reaper", daemon=True)
        reaper.start()
        try:
            if options["reload"] and not options["batch"]:
                if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                    worker.configure_signals()  # only the reloaded child
                run_with_reloader(worker.run)
            else:
                worker.configure_signals()
                worker.run()
        finally:
            stop.set()
