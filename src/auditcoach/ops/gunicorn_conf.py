"""Gunicorn's configuration for AuditCoach (`gunicorn -c python:auditcoach.ops.gunicorn_conf`).

Sized for a small server (2 cores): 3 processes of 4 threads each by default. Threads suit
this application: most of a request is waiting on the database. `WEB_CONCURRENCY` sets the
processes, `GUNICORN_THREADS` the threads; `BIND` (host:port) or `PORT` where to listen.
"""

import os

bind = [os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT') or '8000'}"]
workers = int(os.environ.get("WEB_CONCURRENCY") or "3")
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or "4")
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
