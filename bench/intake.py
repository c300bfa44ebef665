"""Benchmark of the claims intake against the workbook import (DESIGN §11, claims intake).

Prints, from one run on the same encounters:
- the claims: N synthetic encounters from `auditcoach.demo.generator` (original lines only,
  as billed: not yet reviewed), written as one 837I file (005010X223A2; inpatient claims
  CLM05-1 11, the others 13; one ISA/GS/ST per 5,000 claims) and as a §9 CSV workbook of
  the same encounters (the fields an 837 carries; service line, coder, auditor and cycle
  left blank in both);
- the 837 import, the real path: `intake.x12.read_x12` (pyx12's validation of the whole
  file against its implementation-guide map, then the segment reader's extraction and
  `read_tables`' §9 validation) and `audit_import` into a freshly migrated database;
- the workbook import of the same encounters: `read_workbook` and `audit_import` into
  another freshly migrated database (each in its own process, the engine's code tables
  loaded before timing);
- the ratio: 837 import speed / workbook import speed (target ≥ 50%), and the same
  without pyx12's validation to show where the time goes.

    uv run python bench/intake.py [--encounters 100000] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/auditcoach_bench_intake"
CLAIMS_PER_ST = 5000


# --------------------------------------------------------------------------- the claims


def _birth(discharge: date, age: int | None) -> str:
    years = 40 if age is None else age
    try:
        born = discharge.replace(year=discharge.year - years)
    except ValueError:  # 29 February
        born = discharge.replace(year=discharge.year - years, day=28)
    return born.strftime("%Y%m%d")


def claim_segments(e: Any) -> list[str]:
    """The segments of one encounter as a 2000B subscriber loop with its 2300 claim."""
    from auditcoach.engine.codes import format_modifiers

    d8 = e.discharge_date.strftime("%Y%m%d")
    segs = [
        "SBR*P*18*******MB",
        f"NM1*IL*1*PATIENT*SYNTHETIC****MI*{e.encounter_id[-9:]}",
        f"DMG*D8*{_birth(e.discharge_date, e.age)}*{e.sex or 'U'}",
        f"NM1*PR*2*{e.payer or 'NO PAYER'}*****PI*PAYER1",
    ]
    bill = "11" if e.setting == "inpatient" else "13"
    segs.append(f"CLM*{e.encounter_id}*1000***{bill}:A:1**A*Y*Y")
    segs.append(f"DTP*434*RD8*{d8}-{d8}")
    segs.append(f"CL1*1*1*{e.discharge_disposition or '01'}")
    dx = [line for line in e.original if line.system == "ICD10CM"]
    px = [line for line in e.original if line.system == "ICD10PCS"]
    lines = [line for line in e.original if line.group == "LINE"]
    inpatient = e.setting == "inpatient"

    def poa(line: Any) -> str:
        return f":::::::{line.poa}" if inpatient and line.poa else ""

    if dx:
        segs.append(f"HI*ABK:{dx[0].code}{poa(dx[0])}")
        for i in range(1, len(dx), 12):
            segs.append("HI*" + "*".join(f"ABF:{x.code}{poa(x)}" for x in dx[i : i + 12]))
    if px:
        segs.append(f"HI*BBR:{px[0].code}:D8:{d8}")
        for i in range(1, len(px), 12):
            segs.append("HI*" + "*".join(f"BBQ:{x.code}:D8:{d8}" for x in px[i : i + 12]))
    if e.billed_drg:
        segs.append(f"HI*DR:{e.billed_drg}")
    if e.provider:
        segs.append(f"NM1*71*1*{e.provider}*****XX*1234567893")
    for n, line in enumerate(lines, start=1):
        mods = format_modifiers(line.modifiers).replace(";", ":")
        code = f"HC:{line.code}" + (f":{mods}" if mods else "")
        segs += [f"LX*{n}", f"SV2*0450*{code}*100*UN*{line.units}", f"DTP*472*D8*{d8}"]
    if not lines:  # a 2400 loop is required: room and board, a revenue code alone
        segs += ["LX*1", "SV2*0120**1000*DA*1"]
    return segs


def write_837i(encounters: list[Any], path: Path) -> None:
    with path.open("w", encoding="ascii", newline="") as out:
        for block, start in enumerate(range(0, len(encounters), CLAIMS_PER_ST), start=1):
            chunk = encounters[start : start + CLAIMS_PER_ST]
            isa = f"{block:09d}"
            out.write(
                f"ISA*00*          *00*          *ZZ*BENCHSUBMIT    *ZZ*BENCHRECEIVE   "
                f"*260105*1200*^*00501*{isa}*0*T*:~\n"
                f"GS*HC*BENCHSUBMIT*BENCHRECEIVE*20260105*1200*{block}*X*005010X223A2~\n"
            )
            body = [
                "BHT*0019*00*BENCH*20260105*1200*CH",
                "NM1*41*2*BENCH SUBMITTER*****46*SUB1",
                "PER*IC*DESK*TE*5555550100",
                "NM1*40*2*BENCH RECEIVER*****46*REC1",
            ]
            hl = 0
            facility = None
            parent = 0
            for e in chunk:
                if e.facility != facility:
                    facility = e.facility
                    hl += 1
                    parent = hl
                    body += [
                        f"HL*{hl}**20*1",
                        f"NM1*85*2*{facility}*****XX*1234567893",
                        "N3*1 MAIN STREET",
                        "N4*SPRINGFIELD*IL*627010001",
                        "REF*EI*123456789",
                    ]
                hl += 1
                body.append(f"HL*{hl}*{parent}*22*0")
                body += claim_segments(e)
            st = f"{block:04d}"
            out.write(f"ST*837*{st}*005010X223A2~\n")
            for seg in body:
                out.write(seg + "~\n")
            out.write(f"SE*{len(body) + 2}*{st}~\nGE*1*{block}~\nIEA*1*{isa}~\n")


def build(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path, int, int]:
    from auditcoach.demo.generator import generate
    from auditcoach.engine.workbook import write_workbook_csv

    made = generate(seed=args.seed, encounters_per_cycle=max(1, args.encounters // 4))
    encounters = []
    for e in made[: args.encounters]:
        setting = e.setting if e.setting != "profee" else "outpatient"
        encounters.append(
            replace(
                e,
                setting=setting,
                sex=e.sex or "U",
                age=e.age if e.age is not None else 40,
                discharge_disposition=e.discharge_disposition or "01",
                audited=(),
                audited_disposition=None,
                service_line="",
                coder="",
                auditor="",
                audit_cycle="",
                payer=e.payer or "NO PAYER",
            )
        )
    x12 = tmp / "claims.837"
    write_837i(encounters, x12)
    folder = tmp / "workbook"
    write_workbook_csv(encounters, folder)
    return x12, folder, len(encounters), sum(len(e.original) for e in encounters)


# --------------------------------------------------------------------------- one import


def child(args: argparse.Namespace) -> None:
    """In its own process, DATABASE_URL set: migrate, read the source, import it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from auditcoach.accounts.services import organization_create
    from auditcoach.audits.services import audit_import, encounter_derive
    from auditcoach.engine.workbook import read_workbook
    from auditcoach.intake.common import IntakeLimits
    from auditcoach.intake.x12 import read_x12, read_x12_text

    call_command("migrate", verbosity=0)
    organization, _ = organization_create(slug="bench", name="Bench Health")
    source = Path(args.source)
    limits = IntakeLimits(max_bytes=2**34)
    extra: dict[str, float] = {}
    gc.collect()
    start = time.perf_counter()
    workbook = read_x12(source, limits=limits) if args.kind == "x12" else read_workbook(source)
    t_read = time.perf_counter() - start
    if args.kind == "x12":
        # The extraction alone (pyx12 left out), to show where the time goes: not the path.
        import auditcoach.intake.x12 as x12

        saved = x12._validate
        x12._validate = lambda *a, **k: None
        start = time.perf_counter()
        read_x12_text(source.read_bytes(), label=source.name, limits=limits)
        extra["read_without_pyx12"] = time.perf_counter() - start
        x12._validate = saved
    encounter_derive(workbook.encounters[0], base_rate=None)  # code tables loaded first
    gc.collect()
    start = time.perf_counter()
    audit_import(organization=organization, workbook=workbook, name="Bench intake")
    t_import = time.perf_counter() - start
    result = {
        "read": t_read,
        "import": t_import,
        "encounters": len(workbook.encounters),
        "code_rows": workbook.code_rows,
        **extra,
    }
    print("RESULT " + json.dumps(result), flush=True)


def run_one(kind: str, source: Path, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["AUDITCOACH_VAR_DIR"] = str(tmp / f"var-{kind}")
    env["CACHE_DIR"] = str(tmp / f"cache-{kind}")
    env["DEBUG"] = "0"
    if args.database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp / f'{kind}.sqlite3'}"
    else:
        _recreate_postgres(args.database_url)
        env["DATABASE_URL"] = args.database_url
    command = [sys.executable, __file__, "--child", "--kind", kind, "--source", str(source)]
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def _recreate_postgres(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="auditcoach-bench-intake-") as name:
        tmp = Path(name)
        print(f"generating {args.encounters:,} synthetic claims ...", flush=True)
        x12, folder, n, lines = build(args, tmp)
        size = x12.stat().st_size
        print(f"  {n:,} claims, {lines:,} code lines; 837I {size / 1e6:.1f} MB")
        print("importing the 837I ...", flush=True)
        a = run_one("x12", x12, args, tmp)
        print("importing the workbook of the same encounters ...", flush=True)
        b = run_one("workbook", folder, args, tmp)
    if a["encounters"] != b["encounters"] or a["code_rows"] != b["code_rows"]:
        raise SystemExit(f"the two imports differ: {a} vs {b}")
    t_a, t_b = a["read"] + a["import"], b["read"] + b["import"]
    print()
    print(f"{args.database}: {n:,} encounters, {lines:,} code lines")
    print(f"  837I: read_x12 (pyx12 validation + extraction + §9 checks) {a['read']:8.2f} s")
    print(
        f"        of which without pyx12                               {a['read_without_pyx12']:8.2f} s"
    )
    print(f"        audit_import                                         {a['import']:8.2f} s")
    print(
        f"        total                                                {t_a:8.2f} s  {n / t_a:,.0f} claims/s"
    )
    print(
        f"  workbook: read_workbook {b['read']:.2f} s + audit_import {b['import']:.2f} s = {t_b:.2f} s  {n / t_b:,.0f} encounters/s"
    )
    print(
        f"  ratio: the 837 import runs at {t_b / t_a:.1%} of the speed of the workbook import (target ≥ 50%)"
    )
    no_pyx12 = a["read_without_pyx12"] + a["import"]
    print(f"         without pyx12's validation it would run at {t_b / no_pyx12:.1%}")


if __name__ == "__main__":
    main()
