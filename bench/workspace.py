"""Benchmark of the review workspace under 20 concurrent users (DESIGN §11, workspace).

Prints, from one run on PostgreSQL:
- the data: the demo organization (`auditcoach demo`: four quarterly audits of synthetic
  encounters from `auditcoach.demo.generator` through the import service, with a coaching
  history) in a fresh database, plus `--users` auditor logins;
- a real server: `auditcoach runserver --noreload` (Django's threaded dev server, DEBUG
  off, persistent database connections per HTTP/1.1 keep-alive connection) in a
  subprocess, `--servers` of them on consecutive ports (the GIL: one process uses one core);
- each user signs in through the login form and then, in its own thread with its own
  keep-alive connection, repeats `--rounds` times: GET the encounter workspace
  (`audits:encounter`) of one of its own in-review inpatient encounters, then POST the
  workspace's line change (`audits:line_change`, as htmx sends it) flipping the POA of a
  secondary diagnosis (Y <-> N) with the lock version the page carried; the answer is the
  fresh workspace partial with the re-derived findings;
- response times measured by the client (send to last byte, loopback), median / P95 / P99
  for GET and POST: first one user alone (the service time), then all users at once with no
  think time (every user always has a request in flight: the worst case of 20 users);
- the query count of one GET and one POST and the top of a cProfile of one of each,
  in-process through Django's test client (`--diagnose`, on by default).

Method, honestly: client and server share the same 2-core machine and the client's threads
take CPU from the server; the dev server is not a production server (no pre-forked workers).

    uv run python bench/workspace.py [--users 20] [--rounds 10] [--encounters-per-cycle 1000]
                                     [--servers 1] [--think 0] [--keep] [--no-diagnose]
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/auditcoach_bench_workspace"
PASSWORD = "bench-pass-2026-workspace"
SLUG = "demo-health"
PER_USER = 5  # encounters each user works on (nobody else touches them)
AUDITCOACH = (sys.executable, "-m", "auditcoach.cli")
LOCK = re.compile(rb'name="lock_version" value="(\d+)"')
CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


# --------------------------------------------------------------------------- setup


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def django_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": args.database_url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-workspace-not-secret",
            "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
    )
    return env


def auditcoach(*argv: str, env: dict[str, str]) -> None:
    subprocess.run([*AUDITCOACH, *argv], env=env, check=True, stdout=subprocess.PIPE)


def setup_users(args: argparse.Namespace) -> None:
    """Child: the bench auditors and, for each, encounters of the in-review audit (JSON)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password

    from auditcoach.accounts.models import Organization, Role, User
    from auditcoach.accounts.services import membership_add
    from auditcoach.audits.models import Audit, CodeLine, Encounter

    organization = Organization.objects.get(slug=SLUG)
    audit = Audit.objects.filter(organization=organization, status=Audit.Status.IN_REVIEW).latest(
        "cycle"
    )
    candidates = []
    for e in Encounter.objects.filter(
        audit=audit, setting=Encounter.Setting.INPATIENT, review_status=Encounter.ReviewStatus.TO_DO
    ).order_by("id"):
        line = (
            CodeLine.objects.filter(
                encounter=e, version="audited", system="ICD10CM", seq__gte=2, poa__in=("Y", "N")
            )
            .order_by("seq")
            .first()
        )
        if line is not None:
            candidates.append(
                {"encounter": str(e.public_id), "seq": line.seq, "code": line.code, "poa": line.poa}
            )
        if len(candidates) >= args.users * PER_USER:
            break
    password = make_password(PASSWORD)
    users = []
    for i in range(args.users):
        username = f"bench.auditor{i + 1:02d}"
        user = User.objects.create(username=username, password=password)
        membership_add(organization=organization, user=user, role=Role.AUDITOR)
        users.append({"username": username, "work": candidates[i * PER_USER : (i + 1) * PER_USER]})
    print("RESULT " + json.dumps(users), flush=True)


# --------------------------------------------------------------------------- client


class Session:
    """One signed-in user on one keep-alive connection, with its cookies."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None, htmx: bool = False
    ) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        if htmx:
            headers["HX-Request"] = "true"
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - start
        for raw in response.headers.get_all("Set-Cookie") or []:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(raw)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return response.status, content, elapsed

    def sign_in(self, username: str) -> None:
        status, page, _ = self.request("GET", "/accounts/login/")
        match = CSRF_FIELD.search(page)
        if status != 200 or match is None:
            raise SystemExit(f"login page: HTTP {status}")
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": match.group(1).decode(),
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"sign-in of {username}: HTTP {status}")


def work(
    session: Session,
    items: list[dict[str, Any]],
    rounds: int,
    think: float,
    start: threading.Barrier,
    gets: list[float],
    posts: list[float],
) -> None:
    start.wait()
    for r in range(rounds):
        item = items[r % len(items)]
        base = f"/o/{SLUG}/encounters/{item['encounter']}/"
        status, page, elapsed = session.request("GET", base)
        match = LOCK.search(page)
        if status != 200 or match is None:
            raise SystemExit(f"GET {base}: HTTP {status}")
        gets.append(elapsed)
        if think:
            time.sleep(think)
        item["poa"] = "N" if item["poa"] == "Y" else "Y"
        status, page, elapsed = session.request(
            "POST",
            f"{base}lines/DX/{item['seq']}/",
            {
                "lock_version": match.group(1).decode(),
                "system": "ICD10CM",
                "code": item["code"],
                "poa": item["poa"],
                "modifiers": "",
                "units": "1",
            },
            htmx=True,
        )
        if status != 200 or b"Saved." not in page:
            raise SystemExit(f"POST line change on {base}: HTTP {status}, not saved")
        posts.append(elapsed)
        if think:
            time.sleep(think)


def load(
    sessions: list[Session], users: list[dict[str, Any]], rounds: int, think: float
) -> tuple[list[float], list[float], float]:
    gets: list[float] = []
    posts: list[float] = []
    barrier = threading.Barrier(len(sessions))
    threads = [
        threading.Thread(
            target=work, args=(s, u["work"], rounds, think, barrier, gets, posts), daemon=True
        )
        for s, u in zip(sessions, users, strict=True)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return gets, posts, time.perf_counter() - started


def summary(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return (
        f"{label:<34} n={len(ms):4d}  median {statistics.median(ms):7.1f} ms  "
        f"P95 {q[94]:7.1f} ms  P99 {q[98]:7.1f} ms  max {ms[-1]:7.1f} ms"
    )


def p95(times: list[float]) -> float:
    return statistics.quantiles([t * 1000 for t in times], n=100, method="inclusive")[94]


# --------------------------------------------------------------------------- diagnosis


def diagnose(args: argparse.Namespace) -> None:
    """Child: query count and cProfile of one GET and one POST, through the test client."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from auditcoach.accounts.models import User
    from auditcoach.audits.models import Encounter

    item = json.loads(args.item)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=args.user))
    url = f"/o/{SLUG}/encounters/{item['encounter']}/"
    client.get(url)  # warm: templates, code tables

    def post() -> Any:
        lock = Encounter.objects.get(public_id=item["encounter"]).lock_version
        item["poa"] = "N" if item["poa"] == "Y" else "Y"
        return client.post(
            f"{url}lines/DX/{item['seq']}/",
            {"lock_version": lock, "system": "ICD10CM", "code": item["code"], "poa": item["poa"]},
            HTTP_HX_REQUEST="true",
        )

    post()
    for label, call in (("GET workspace", lambda: client.get(url)), ("POST line change", post)):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = call()
            elapsed = time.perf_counter() - start
        print(
            f"{label}: HTTP {response.status_code}, {len(queries)} queries "
            f"({sum(float(q['time']) for q in queries) * 1000:.1f} ms in the database "
            f"as Django times it), {elapsed * 1000:.1f} ms in-process"
        )
        for q in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"  {float(q['time']) * 1000:6.1f} ms  {q['sql'][:150]}")
        profiler = cProfile.Profile()
        profiler.enable()
        call()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())


# --------------------------------------------------------------------------- driver


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited ({process.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/accounts/login/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not start")


def child_result(command: list[str], env: dict[str, str]) -> Any:
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="GET + POST pairs per user")
    parser.add_argument("--encounters-per-cycle", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=1, help="server processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--think", type=float, default=0.0, help="seconds between requests")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--no-diagnose", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="cProfile lines in the diagnosis")
    parser.add_argument("--setup-users", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--diagnose", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    parser.add_argument("--item", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_users:
        setup_users(args)
        return
    if args.diagnose:
        diagnose(args)
        return

    env = django_env(args)
    print(f"loading the demo organization into {args.database_url} ...", flush=True)
    start = time.perf_counter()
    recreate_database(args.database_url)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        auditcoach("migrate", env=env)
        auditcoach("demo", "--encounters-per-cycle", str(args.encounters_per_cycle), env=env)
        users: list[dict[str, Any]] = child_result(
            [sys.executable, __file__, "--setup-users", "--users", str(args.users)], env
        )
        if any(len(u["work"]) < PER_USER for u in users):
            raise SystemExit("not enough in-review inpatient encounters for every user")
        print(
            f"  {4 * args.encounters_per_cycle:,} encounters in 4 audits, {args.users} auditors "
            f"with {PER_USER} in-review inpatient encounters each "
            f"({time.perf_counter() - start:.0f} s)"
        )
        ports = [args.port + i for i in range(args.servers)]
        for port in ports:
            servers.append(
                subprocess.Popen(
                    [*AUDITCOACH, "runserver", f"127.0.0.1:{port}", "--noreload"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, process in zip(ports, servers, strict=True):
            wait_for(port, process)
        sessions = [Session(ports[i % len(ports)]) for i in range(args.users)]
        for session, user in zip(sessions, users, strict=True):
            session.sign_in(user["username"])
        print(f"  {len(servers)} runserver process(es), {args.users} users signed in", flush=True)

        # Warm-up: every server thread's first request loads templates and code tables.
        load(sessions, users, 1, 0.0)
        print()
        one_get, one_post, _ = load(sessions[:1], users[:1], args.rounds * 2, args.think)
        print(summary("1 user,  GET workspace", one_get))
        print(summary("1 user,  POST line change", one_post))
        gets, posts, wall = load(sessions, users, args.rounds, args.think)
        print(summary(f"{args.users} users, GET workspace", gets))
        print(summary(f"{args.users} users, POST line change", posts))
        both = gets + posts
        print(summary(f"{args.users} users, all requests", both))
        print(
            f"  {len(both):,} requests in {wall:.1f} s = {len(both) / wall:.1f} requests/s "
            f"(think time {args.think:g} s)"
        )
        print()
        for label, times in (("GET", gets), ("POST", posts)):
            value = p95(times)
            verdict = "holds" if value <= 150 else "misses"
            print(
                f"target ≤ 150 ms at P95 with {args.users} concurrent users, {label}: "
                f"{value:.1f} ms, {verdict}"
            )
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)

    try:
        if not args.no_diagnose:
            print()
            print("one request of each, in-process (Django test client):", flush=True)
            item = users[0]["work"][0]
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--diagnose",
                    "--user",
                    users[0]["username"],
                    "--item",
                    json.dumps(item),
                    "--top",
                    str(args.top),
                ],
                env=env,
                check=True,
            )
    finally:
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
