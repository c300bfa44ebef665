"""`auditcoach score PATH --json [--base-rate DOLLARS]`: compare and score a workbook.

Touches no database: the workbook is read, compared and scored by the engine with the
coding knowledge shipped in the project (DESIGN §9).
"""

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.codesets.knowledge import checker, grouper, pricing
from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.report import score_json
from auditcoach.engine.workbook import WorkbookError, read_workbook


def parse_dollars(raw: str) -> Decimal:
    try:
        value = Decimal(raw.replace(",", "").replace("$", ""))
    except InvalidOperation as exc:
        raise CommandError(
            f"--base-rate must be an amount in dollars, got {raw!r}", returncode=2
        ) from exc
    if not value.is_finite() or value <= 0:
        raise CommandError(f"--base-rate must be a positive amount, got {raw!r}", returncode=2)
    return value


class Command(BaseCommand):
    help = "Compare and score an audit workbook (.xlsx or a folder of CSVs) without a database."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            type=Path,
            help="an .xlsx workbook or a folder with encounters.csv and codes.csv",
        )
        parser.add_argument("--json", action="store_true", help="print the DESIGN §9 JSON object")
        parser.add_argument(
            "--base-rate",
            type=parse_dollars,
            default=None,
            help="base rate in dollars for every encounter (default: the fiscal year's national standardized amount)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workbook = read_workbook(options["path"])
        except WorkbookError as exc:
            raise CommandError(f"the workbook was rejected:\n{exc}", returncode=2) from exc
        base_rate: Decimal | None = options["base_rate"]
        results = [
            compare_encounter(
                e, grouper=grouper(), pricing=pricing(), base_rate=base_rate, checker=checker()
            )
            for e in workbook.encounters
        ]
        report = score_json(results)
        if options["json"]:
            json.dump(report, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        self._print_table(report)

    def _print_table(self, report: dict[str, Any]) -> None:
        for e in report["encounters"]:
            if not e["reviewed"]:
                self.stdout.write(f"{e['encounter_id']}: not reviewed (left out of the summary)")
                continue
            drg = ""
            if e["original_drg"]:
                drg = f"  DRG {e['original_drg']} → {e['audited_drg']}"
            self.stdout.write(f"{e['encounter_id']}: {len(e['findings'])} finding(s){drg}")
            for f in e["findings"]:
                self.stdout.write(
                    f"    {f['kind']:<20} {f['original'] or '-':>8} → {f['audited'] or '-':<8} {f['pattern']}"
                )
            for w in e["warnings"]:
                self.stdout.write(f"    warning: {w}")
        self.stdout.write("")
        for key, value in report["summary"].items():
            shown = (
                "n/a" if value is None else (f"{value:.1%}" if key.endswith("accuracy") else value)
            )
            self.stdout.write(f"{key:<22} {shown}")
