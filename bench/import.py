"""Benchmark of the workbook import against the database's own bulk load (DESIGN §11, import).

Prints, from one run per database on the same workbook:
- the workbook: N synthetic encounters from `auditcoach.demo.generator`, written as a CSV
  folder (`encounters.csv`, `codes.csv`) with `write_workbook_csv`;
- the import, the real path: `read_workbook` (parsing + validation) and then
  `audit_import` (engine derivation with DRG grouping, pricing and code checks; rosters;
  encounter, code-line and finding rows as tuples through `audits.bulk.RowWriter`:
  `executemany` on SQLite, `COPY` on PostgreSQL; one transaction)
  into a freshly migrated database; seconds and rows/s;
- the database's own bulk load of the same rows: the encounter, code-line and finding rows
  the import wrote, read back from the tables as plain tuples, the three tables emptied,
  and the tuples loaded again into the same (now empty) tables with the same indexes and
  constraints, in one transaction: SQLite `executemany` of plain tuples, PostgreSQL `COPY`
  (psycopg 3 `cursor.copy`, `write_row`); seconds and rows/s;
- the ratio: import speed / bulk-load speed on the same rows (target ≥ 50%).

What is compared: the same rows in the same tables. The import also reads and validates
the CSV, derives the findings (engine comparison, MS-DRG grouping of both versions of every
inpatient encounter, Table 5 pricing, code checks) and builds Django model objects; the
bulk load only writes tuples it is handed. The engine's code tables are loaded before the
timed import (as in a running server).

The generator codes about 7 lines per encounter (both versions). `--lines-per-encounter`
(default 12) tops every encounter up to about that many with secondary diagnoses that are
the same in both versions (common non-CC conditions, POA Y for inpatients): agreed lines,
which the engine still compares and groups. 0 keeps the generator's coding as it is.

    uv run python bench/import.py [--encounters 100000] [--database sqlite|postgres|both]
                                  [--lines-per-encounter 12] [--profile] [--keep]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/auditcoach_bench_import"

# Common chronic conditions coded as secondaries, none a CC/MCC: agreed lines for the top-up.
EXTRA_DX = (
    "I10", "E785", "K219", "E669", "G4733", "M1990", "F32A", "E039", "E559", "F419",
)  # fmt: skip


# --------------------------------------------------------------------------- workbook


def build_workbook(args: argparse.Namespace, folder: Path) -> tuple[int, int]:
    from auditcoach.demo.generator import generate
    from auditcoach.engine.model import CodeLine
    from auditcoach.engine.workbook import write_workbook_csv

    encounters = generate(seed=args.seed, encounters_per_cycle=args.encounters // 4)
    if args.lines_per_encounter:
        rng = random.Random(args.seed)
        topped = []
        for e in encounters:
            have = len(e.original) + len(e.audited)
            extra = max(0, round((args.lines_per_encounter - have) / 2))
            taken = {x.code for x in (*e.original, *e.audited)}
            free = [c for c in EXTRA_DX if c not in taken]
            add = rng.sample(free, min(extra, len(free)))
            poa = "Y" if e.setting == "inpatient" else ""

            def more(lines: tuple[CodeLine, ...], add: list[str], poa: str) -> tuple[CodeLine, ...]:
                last = max((x.seq for x in lines if x.system == "ICD10CM"), default=0)
                return lines + tuple(
                    CodeLine("ICD10CM", last + i, code, poa=poa)
                    for i, code in enumerate(add, start=1)
                )

            topped.append(
                replace(e, original=more(e.original, add, poa), audited=more(e.audited, add, poa))
            )
        encounters = topped
    write_workbook_csv(encounters, folder)
    lines = sum(len(e.original) + len(e.audited) for e in encounters)
    return len(encounters), lines


# --------------------------------------------------------------------------- databases


def recreate_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


TABLES = ("encounter", "codeline", "finding")


def table_columns() -> dict[str, tuple[str, list[str], list[bool]]]:
    """table key -> (db table, columns, is-JSON per column), in the models' field order."""
    from django.db import models

    from auditcoach.audits.models import CodeLine, Encounter, Finding

    out = {}
    for key, model in zip(TABLES, (Encounter, CodeLine, Finding), strict=True):
        fields = model._meta.concrete_fields
        out[key] = (
            model._meta.db_table,
            [str(f.column) for f in fields],
            [isinstance(f, models.JSONField) for f in fields],
        )
    return out


def bulk_sqlite(path: str, tables: dict[str, tuple[str, list[str], list[bool]]]) -> dict[str, Any]:
    """Read the rows back as tuples, empty the tables, time executemany of the tuples."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for key, (table, cols, _) in tables.items():
        quoted = ", ".join(f'"{c}"' for c in cols)
        rows[key] = conn.execute(f'SELECT {quoted} FROM "{table}" ORDER BY id').fetchall()
    conn.execute("BEGIN IMMEDIATE")
    for key in reversed(TABLES):
        conn.execute(f'DELETE FROM "{tables[key][0]}"')
    conn.execute("COMMIT")
    gc.collect()
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for key in TABLES:
        table, cols, _ = tables[key]
        quoted = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        conn.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows[key])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return {"seconds": elapsed, "rows": {k: len(v) for k, v in rows.items()}}


def bulk_postgres(url: str, tables: dict[str, tuple[str, list[str], list[bool]]]) -> dict[str, Any]:
    """Read the rows back as tuples, empty the tables, time COPY of the tuples."""
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(url) as conn:
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for key, (table, cols, json_cols) in tables.items():
            quoted = ", ".join(f'"{c}"' for c in cols)
            fetched = conn.execute(f'SELECT {quoted} FROM "{table}" ORDER BY id').fetchall()
            if any(json_cols):
                fetched = [
                    tuple(
                        Jsonb(v) if is_json and v is not None else v
                        for v, is_json in zip(row, json_cols, strict=True)
                    )
                    for row in fetched
                ]
            rows[key] = fetched
        names = ", ".join(f'"{tables[k][0]}"' for k in TABLES)
        conn.execute(f"TRUNCATE {names} CASCADE")
        conn.commit()
        gc.collect()
        start = time.perf_counter()
        with conn.cursor() as cur:
            for key in TABLES:
                table, cols, _ = tables[key]
                quoted = ", ".join(f'"{c}"' for c in cols)
                with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                    for row in rows[key]:
                        copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rows": {k: len(v) for k, v in rows.items()}}


# --------------------------------------------------------------------------- one database


def child(args: argparse.Namespace) -> None:
    """Runs in its own process, DATABASE_URL already set: migrate, import, bulk load."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from auditcoach.accounts.models import Facility
    from auditcoach.accounts.services import organization_create, roster_get_or_create_many
    from auditcoach.audits.models import CodeLine, Encounter, Finding
    from auditcoach.audits.services import audit_import, encounter_derive
    from auditcoach.demo.generator import FACILITIES
    from auditcoach.engine.workbook import read_workbook

    call_command("migrate", verbosity=0)
    organization, _ = organization_create(slug="bench", name="Bench Health")
    for name, facility in roster_get_or_create_many(
        organization=organization, model=Facility, names=FACILITIES.keys()
    ).items():
        facility.base_rate = FACILITIES[name][1]
        facility.save(update_fields=["base_rate"])

    folder = Path(args.folder)
    profiler = cProfile.Profile() if args.profile else None
    gc.collect()
    if profiler:
        profiler.enable()
    start = time.perf_counter()
    workbook = read_workbook(folder)
    t_read = time.perf_counter() - start
    if profiler:
        profiler.disable()
    # The engine's code tables (MCE, grouper, Table 5) load once per process: load them
    # before timing, as a running server has them.
    first = workbook.encounters[0]
    encounter_derive(first, base_rate=None)
    gc.collect()
    if profiler:
        profiler.enable()
    start = time.perf_counter()
    audit = audit_import(organization=organization, workbook=workbook, name="Bench import")
    t_import = time.perf_counter() - start
    if profiler:
        profiler.disable()
    counts = {
        "encounter": Encounter.objects.filter(audit=audit).count(),
        "codeline": CodeLine.objects.filter(encounter__audit=audit).count(),
        "finding": Finding.objects.filter(encounter__audit=audit).count(),
    }
    tables = table_columns()
    vendor = connections["default"].vendor
    settings_db = connections["default"].settings_dict
    del workbook
    connections.close_all()
    gc.collect()
    if vendor == "sqlite":
        bulk = bulk_sqlite(str(settings_db["NAME"]), tables)
    else:
        bulk = bulk_postgres(os.environ["DATABASE_URL"], tables)
    if bulk["rows"] != counts:
        raise SystemExit(f"bulk load rows {bulk['rows']} differ from the import's {counts}")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    result = {
        "vendor": vendor,
        "read": t_read,
        "import": t_import,
        "bulk": bulk["seconds"],
        "rows": counts,
    }
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- driver


def run_one(database: str, args: argparse.Namespace, folder: Path, tmp: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["AUDITCOACH_VAR_DIR"] = str(tmp / f"var-{database}")
    env["CACHE_DIR"] = str(tmp / f"cache-{database}")
    env["DEBUG"] = "0"
    if database == "sqlite":
        path = tmp / "bench.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        recreate_postgres(args.database_url)
        env["DATABASE_URL"] = args.database_url
    command = [sys.executable, __file__, "--child", "--folder", str(folder)]
    if args.profile:
        command.append("--profile")
    try:
        done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    finally:
        if database == "postgres" and not args.keep:
            drop_postgres(args.database_url)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def report(database: str, r: dict[str, Any], lines_in_workbook: int) -> None:
    rows = r["rows"]
    total = sum(rows.values())
    t_real = r["read"] + r["import"]
    name = "SQLite executemany" if database == "sqlite" else "PostgreSQL COPY"
    print()
    print(
        f"{database}: {rows['encounter']:,} encounters + {rows['codeline']:,} code lines "
        f"+ {rows['finding']:,} findings = {total:,} rows"
    )
    print(
        f"  read_workbook (parse + validate)  {r['read']:8.2f} s"
        f"   ({lines_in_workbook / r['read']:,.0f} code lines/s)"
    )
    print(f"  audit_import (derive + write)     {r['import']:8.2f} s")
    print(f"  import, real path                 {t_real:8.2f} s  {total / t_real:12,.0f} rows/s")
    print(f"  {name:<33} {r['bulk']:8.2f} s  {total / r['bulk']:12,.0f} rows/s")
    print(
        f"  ratio: the import runs at {r['bulk'] / t_real:.1%} of the speed of the "
        f"{name} of the same rows (target ≥ 50%); "
        f"without read_workbook {r['bulk'] / r['import']:.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--lines-per-encounter", type=int, default=12)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile read + import (timings inflate)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory(prefix="auditcoach-bench-import-") as name:
        tmp = Path(name)
        folder = tmp / "workbook"
        print(f"generating {args.encounters:,} synthetic encounters ...", flush=True)
        encounters, lines = build_workbook(args, folder)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(
            f"  {encounters:,} encounters, {lines:,} code lines "
            f"({lines / encounters:.1f} per encounter, both versions), "
            f"CSV folder {size / 1e6:.0f} MB"
        )
        for database in databases:
            print(f"importing into {database} ...", flush=True)
            result = run_one(database, args, folder, tmp)
            report(database, result, lines)


if __name__ == "__main__":
    main()
