"""Benchmark: a 100k-row list export streams in bounded memory (issue 12, docs/exports.md).

Builds a fresh SQLite database (or `--database-url`) with one organization, a manager and
two audits of synthetic encounters: a small one (`--small`, default 10,000) and a large one
(`--rows`, default 100,000). Then, for each format (CSV, XLSX) and each audit, a FRESH
subprocess signs the manager in with Django's test Client, GETs the audit's encounter list
with `export=csv|xlsx&accounts=1` (the real view, selector, export module and response) and
reads the streamed body to the end in 64 kB pieces without keeping it. Each child reports:

- peak resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) before the request
  (Django loaded, database open) and after it: the export's own cost is the difference;
- with `--tracemalloc`, tracemalloc's peak of Python allocations during the request
  (several times slower);
- the file size, the row count and the wall time.

Bounded memory means the large export costs about what the small one does, although it has
ten times the rows. Prints a table; nothing is asserted (speed and memory live here, not
in the tests).

    uv run python bench/exports.py [--rows 100000] [--small 10000] [--tracemalloc]
                                   [--database-url postgres://postgres@127.0.0.1:5432/auditcoach_bench_exports]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    import django

    django.setup()


def build(small: int, large: int) -> None:
    """Migrate and fill the database of DATABASE_URL (runs in its own process)."""
    _django()
    import datetime as dt
    import random
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import transaction

    from auditcoach.accounts.models import Coder, Membership, Organization, Role, User
    from auditcoach.audits.models import Audit, Encounter

    call_command("migrate", verbosity=0)
    rng = random.Random(12)
    with transaction.atomic():
        org = Organization.objects.create(slug="bench", name="Bench Health")
        user = User.objects.create_user(username="manager", password="bench-password-1")
        Membership.objects.create(user=user, organization=org, role=Role.MANAGER)
        coders = [
            Coder.objects.create(organization=org, name=f"coder.{i:03}", display_name=f"Coder {i}")
            for i in range(50)
        ]
        for name, n in (("small", small), ("large", large)):
            audit = Audit.objects.create(organization=org, name=name)
            batch = []
            for i in range(n):
                drg = f"{rng.randint(1, 999):03}"
                batch.append(
                    Encounter(
                        organization=org,
                        audit=audit,
                        external_id=f"ACCT-{i:09}",
                        setting=rng.choice(["inpatient", "outpatient", "profee"]),
                        discharge_date=dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300)),
                        coder=rng.choice(coders),
                        original_drg=drg,
                        audited_drg=drg if rng.random() < 0.8 else f"{rng.randint(1, 999):03}",
                        finding_count=rng.randint(0, 4),
                        financial_impact=Decimal(rng.randint(-500000, 500000)) / 100,
                        review_status=rng.choice(["to_do", "in_progress", "done"]),
                    )
                )
                if len(batch) == 5000:
                    Encounter.objects.bulk_create(batch)
                    batch = []
            Encounter.objects.bulk_create(batch)


def export(audit_name: str, fmt: str, *, trace: bool) -> dict[str, Any]:
    """One export through the real view (runs in a fresh process); report its memory."""
    _django()
    import tracemalloc

    from django.test import Client
    from django.urls import reverse

    from auditcoach.accounts.models import User
    from auditcoach.audits.models import Audit

    audit = Audit.objects.get(name=audit_name)
    client = Client()
    client.force_login(User.objects.get(username="manager"))
    url = reverse("audits:encounters", kwargs={"org_slug": "bench", "audit_id": audit.public_id})
    # Warm up (imports, first queries) with an export of no rows: the peak before the
    # measured request must not already hold an export.
    client.get(url, {"export": fmt, "q": "no-such-encounter"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    response = client.get(url, {"export": fmt, "accounts": "1"})
    assert response.status_code == 200, response.status_code
    size = 0
    lines = 0
    for piece in response.streaming_content:  # type: ignore[attr-defined]  # a streaming response
        size += len(piece)
        lines += piece.count(b"\n") if fmt == "csv" else 0
    response.close()
    elapsed = time.perf_counter() - start
    _, peak_py = tracemalloc.get_traced_memory() if trace else (0, -(2**20))
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "audit": audit_name,
        "format": fmt,
        "rows": audit.encounters.count(),
        "bytes": size,
        "csv_lines": lines,
        "seconds": elapsed,
        "rss_before_mb": before / 1024,
        "rss_peak_mb": after / 1024,
        "tracemalloc_peak_mb": peak_py / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", choices=["build", "export"])
    parser.add_argument("--audit", default="large")
    parser.add_argument("--format", default="csv")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace Python allocations (several times slower; RSS then includes the tracer)",
    )
    args = parser.parse_args()
    if args.child == "build":
        build(args.small, args.rows)
        return
    if args.child == "export":
        result = export(args.audit, args.format, trace=args.tracemalloc)
        print("RESULT " + json.dumps(result), flush=True)
        return

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env["DEBUG"] = "0"
        env["AUDITCOACH_VAR_DIR"] = str(Path(tmp) / "var")
        env["CACHE_DIR"] = str(Path(tmp) / "cache")
        env["DATABASE_URL"] = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        start = time.perf_counter()
        base = [sys.executable, __file__, "--rows", str(args.rows), "--small", str(args.small)]
        if args.tracemalloc:
            base.append("--tracemalloc")
        subprocess.run([*base, "--child", "build"], env=env, check=True)
        print(
            f"built {args.small:,} + {args.rows:,} encounters in {time.perf_counter() - start:.1f} s"
        )
        results = []
        for fmt in ("csv", "xlsx"):
            for audit in ("small", "large"):
                done = subprocess.run(
                    [*base, "--child", "export", "--audit", audit, "--format", fmt],
                    env=env,
                    check=True,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
                results.append(json.loads(line.removeprefix("RESULT ")))
    print()
    print(
        "| format | rows | file | time | peak RSS before → after (export's share) | tracemalloc peak |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['format']} | {r['rows']:,} | {r['bytes'] / 2**20:.1f} MB | {r['seconds']:.1f} s "
            f"| {r['rss_before_mb']:.0f} → {r['rss_peak_mb']:.0f} MB "
            f"(+{r['rss_peak_mb'] - r['rss_before_mb']:.0f} MB) "
            + (
                f"| {r['tracemalloc_peak_mb']:.1f} MB |"
                if r["tracemalloc_peak_mb"] >= 0
                else "| — |"
            )
        )


if __name__ == "__main__":
    main()
