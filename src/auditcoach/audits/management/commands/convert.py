"""`auditcoach convert PATH OUTDIR [--format x12|fhir|workbook] [--mapping FILE]`.

Reads an 837I/837P file, FHIR Claims or an audit workbook (detected unless `--format` is
given; with `--mapping FILE`, a spreadsheet through that column mapping) without touching
any database, and writes the §9 CSV workbook of its encounters into OUTDIR:
`encounters.csv` and `codes.csv`, original lines only (DESIGN §14, docs/intake.md). On a bad
file it writes nothing and exits 2 with every problem listed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.audits.uploads import read_upload, workbook_limits
from auditcoach.engine.workbook import WorkbookError, write_workbook_csv
from auditcoach.intake import FORMATS
from auditcoach.intake.mapping import MappingInvalid, read_mapped


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
        if options["mapping"] is not None and options["format"] is not None:
            raise CommandError(
                "--mapping reads a spreadsheet through a mapping file; leave out --format",
                returncode=2,
            )
        try:
            if options["mapping"] is not None:
                # the same limits as `auditcoach import --mapping` and the upload page
                workbook = read_mapped(path, options["mapping"], limits=workbook_limits())
            else:
                workbook = read_upload(path, format=options["format"])
        except MappingInvalid as exc:
            raise CommandError(
                f"the mapping file cannot be used; nothing was written:\n{exc}", returncode=2
            ) from exc
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
