"""An import job's lease: proof, renewed while it runs, that its worker is alive.

The import itself is one long transaction (on SQLite it holds the only write lock), so the
lease lives in the shared file cache, outside the database, like the job's progress. A
thread of the worker renews it every sixth of `IMPORT_LEASE_SECONDS`; a running job whose
lease is older than that was left by a worker that died (`services.import_jobs_reap`).
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache

from auditcoach.audits.models import ImportJob


class Lease(TypedDict):
    at: float  # time.time() of the last renewal
    host: str
    pid: int
    waiting: bool  # waiting its turn behind another import


def lease_key(job: ImportJob) -> str:
    return f"import-lease:{job.public_id}"


def lease_seconds() -> float:
    return float(settings.IMPORT_LEASE_SECONDS)


def lease_get(job: ImportJob) -> Lease | None:
    value = cache.get(lease_key(job))
    if isinstance(value, dict) and isinstance(value.get("at"), float):
        return Lease(
            at=value["at"],
            host=str(value.get("host", "")),
            pid=int(value.get("pid", 0)),
            waiting=bool(value.get("waiting")),
        )
    return None


def lease_alive(job: ImportJob, *, now: float | None = None) -> bool:
    """True while the job's worker renews its lease."""
    lease = lease_get(job)
    return lease is not None and (now or time.time()) - lease["at"] <= lease_seconds()


class Holder:
    """What the running import tells its lease (renewed with every beat)."""

    def __init__(self) -> None:
        self.waiting = False


@contextmanager
def import_lease(job: ImportJob) -> Iterator[Holder]:
    """Hold the job's lease while the block runs: renewed at once, then every sixth of the
    lease by a daemon thread (it dies with the process, which is the point), dropped after."""
    key = lease_key(job)
    every = max(lease_seconds() / 6, 0.2)
    holder = Holder()
    stop = threading.Event()
    host, pid = socket.gethostname(), os.getpid()

    def beat() -> None:
        lease: Lease = {"at": time.time(), "host": host, "pid": pid, "waiting": holder.waiting}
        cache.set(key, lease, timeout=int(lease_seconds() * 10) + 60)

    def renew() -> None:
        while not stop.wait(every):
            try:
                beat()
            except OSError:  # a full disk: the next beat tries again
                continue

    beat()
    thread = threading.Thread(target=renew, name=f"lease-{job.pk}", daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        stop.set()
        thread.join(timeout=every + 1)
        cache.delete(key)
