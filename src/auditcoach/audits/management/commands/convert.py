"""`auditcoach convert PATH OUTDIR [--format x12|fhir|workbook] [--mapping FILE]`.

Reads an 837I/837P file, FHIR Claims or an audit workbook (detected unless `--format` is
given; with `--mapping FILE`, a spreadsheet through that column mapping) without touching
any database, and writes the §9 CSV workbook of its encounters into OUTDIR:
`encounters.csv` and `codes.csv`, original lines only (DESIGN §14, docs/intake.md). On a bad
file it writes nothing and exits 2 with every problem listed.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.audits.uploads import read_upload
from auditcoach.engine.workbook import Workbook, WorkbookError, write_workbook_csv
from auditcoach.intake import FORMATS

MAPPING_MODULE = "auditcoach.intake.mapping"


class Command(BaseCommand):
    help = "Write an 837, FHIR or workbook file as a §9 CSV workbook (original lines only)."
    requires_system_checks: list[str] = []  # reads and writes files only, no database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("outdir", type=Path)
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default=None,
            help="the file's format (default: detected from its name and first bytes)",
        )
        parser.add_argument(
            "--mapping",
            type=Path,
            default=None,
            help="a column-mapping file for a spreadsheet with its own column names",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        outdir: Path = options["outdir"]
        try:
            if options["mapping"] is not None:
                workbook = _read_mapped(path, options["mapping"])
            else:
                workbook = read_upload(path, format=options["format"])
        except WorkbookError as exc:
            raise CommandError(
                f"the file was rejected; nothing was written:\n{exc}", returncode=2
            ) from exc
        if outdir.exists() and not outdir.is_dir():
            raise CommandError(f"{outdir} exists and is not a folder", returncode=2)
        original = [replace(e, audited=(), audited_disposition=None) for e in workbook.encounters]
        write_workbook_csv(original, outdir)
        lines = sum(len(e.original) for e in original)
        self.stdout.write(
            f"Wrote {outdir / 'encounters.csv'} and {outdir / 'codes.csv'}: "
            f"{len(original):,} encounters, {lines:,} code lines."
        )


def _read_mapped(path: Path, spec: Path) -> Workbook:
    if importlib.util.find_spec(MAPPING_MODULE) is None:
        raise CommandError(
            "--mapping is not available in this installation: the mapped-spreadsheet reader "
            f"({MAPPING_MODULE}) is not installed; nothing was written",
            returncode=2,
        )
    module = importlib.import_module(MAPPING_MODULE)
    workbook: Workbook = module.read_mapped(path, spec)
    return workbook
