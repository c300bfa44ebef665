"""Gunicorn's configuration for AuditCoach (`gunicorn -c python:auditcoach.ops.gunicorn_conf`).

Sized for a small server (2 cores): 3 processes of 4 threads each by default. Threads suit
this application: most of a request is waiting on the database. `WEB_CONCURRENCY` sets the
processes, `GUNICORN_THREADS` the threads; `BIND` (host:port) or `PORT` where to listen.
"""

import os


def _count(name: str, default: int, high: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise SystemExit(f"{name} must be a whole number from 1 to {high}, got {raw!r}")
    return int(raw)


def _bind() -> str:
    if os.environ.get("BIND"):
        return os.environ["BIND"]
    port = os.environ.get("PORT") or "8000"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SystemExit(f"PORT must be a port number (1-65535), got {port!r}")
    return f"127.0.0.1:{port}"


bind = [_bind()]
workers = _count("WEB_CONCURRENCY", 3, 64)
worker_class = "gthread"
threads = _count("GUNICORN_THREADS", 4, 64)
# An upload is validated in the request before the worker imports it; a large workbook
# takes a while to read, so a minute is not enough.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Recycle each process now and then, at different times, so slow leaks never add up.
max_requests = 1000
max_requests_jitter = 100
# Requests are logged by the application, one JSON line each (auditcoach.ops.middleware);
# gunicorn's own access log would repeat them with the query strings.
accesslog = None
errorlog = "-"
loglevel = "info"
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "auditcoach"
