"""`auditcoach import PATH --org SLUG --audit NAME [--cycle LABEL] [--released]
[--allow-duplicates] [--format workbook|x12|fhir] [--mapping NAME]`.

PATH is an audit workbook (.xlsx, a CSV folder, a .zip of the two CSV files), an X12 837I /
837P file (.x12, .837, .edi, .txt, or any file starting with ISA) or FHIR Claims (.json,
.ndjson); `--format` overrides the detection (docs/intake.md). With `--mapping NAME`, PATH
is a spreadsheet of the organization's own columns read through its saved column mapping of
that name (exit 2 when there is none).

Encounters whose id another audit of the organization already has are listed (the first
20 and a count) and nothing is imported (exit 2) unless `--allow-duplicates` is given.
While another import writes into the organization (on SQLite: anywhere), it exits 2 with
`IMPORT_BUSY_MESSAGE` and writes nothing.
"""

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Audit
from auditcoach.audits.selectors import (
    duplicate_encounters,
    import_mapping_list,
    import_mapping_named,
)
from auditcoach.audits.services import (
    DUPLICATES_SHOWN,
    IMPORT_RACE_MESSAGE,
    ImportBusy,
    audit_import,
    duplicates_summary,
)
from auditcoach.audits.uploads import read_upload, workbook_limits
from auditcoach.engine.workbook import Workbook, WorkbookError
from auditcoach.intake import FORMATS, detect_format
from auditcoach.intake.common import Format
from auditcoach.intake.mapping import MappingInvalid, read_mapped, spec_from_dict


class Command(BaseCommand):
    help = "Import an audit workbook into an organization as one audit (atomic: all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--audit", required=True, help="name of the new audit")
        parser.add_argument(
            "--cycle",
            default=None,
            help="cycle label, e.g. 2026-Q3 (default: the workbook's audit_cycle)",
        )
        parser.add_argument(
            "--released", action="store_true", help="mark the findings released (historical audits)"
        )
        parser.add_argument(
            "--mapping",
            default=None,
            metavar="NAME",
            help="a column mapping the organization saved: PATH is a spreadsheet (.csv or "
            ".xlsx) of its own columns, read through it",
        )
        parser.add_argument(
            "--allow-duplicates",
            action="store_true",
            help="import even when encounter ids repeat another audit of the organization",
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default=None,
            help="the file's format (default: detected from its name and first bytes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist as exc:
            raise CommandError(
                f"no organization with slug {options['org']!r}", returncode=2
            ) from exc
        if Audit.objects.filter(organization=organization, name=options["audit"]).exists():
            raise CommandError(
                f"an audit named {options['audit']!r} already exists in {organization.slug}",
                returncode=2,
            )
        started = time.monotonic()
        if options["mapping"] is not None:
            if options["format"] is not None:
                raise CommandError(
                    "--mapping reads a spreadsheet through a saved mapping; leave out --format",
                    returncode=2,
                )
            workbook = _read_mapped(Path(options["path"]), organization, options["mapping"])
        else:
            workbook = _read(Path(options["path"]), options["format"])
        duplicates = duplicate_encounters(
            organization=organization, external_ids=(e.encounter_id for e in workbook.encounters)
        )
        if duplicates:
            summary = duplicates_summary(duplicates)
            listed = "\n".join(
                f"  {row['external_id']}  in {row['audit']!r}"
                + (f" ({row['cycle']})" if row["cycle"] else "")
                for row in summary["rows"]
            )
            count = summary["count"]
            more = (
                f"\n  … and more: the first {DUPLICATES_SHOWN} are listed"
                if len(duplicates) > DUPLICATES_SHOWN
                else ""
            )
            head = (
                f"{count:,} encounter{'' if count == 1 else 's'} of the workbook "
                f"already exist{'s' if count == 1 else ''} in another audit of "
                f"{organization.slug}:\n{listed}{more}"
            )
            if not options["allow_duplicates"]:
                raise CommandError(
                    f"{head}\nnothing was imported; run again with --allow-duplicates to "
                    "import them anyway",
                    returncode=2,
                )
            self.stderr.write(f"{head}\nimporting them anyway (--allow-duplicates).")

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty() or total > 5000:
                sys.stderr.write(f"\r  {done:,} / {total:,} encounters")
                sys.stderr.flush()

        try:
            audit = audit_import(
                organization=organization,
                workbook=workbook,
                name=options["audit"],
                cycle=options["cycle"],
                released=options["released"],
                progress=progress,
            )
        except IntegrityError as exc:  # another import committed the same new names first
            raise CommandError(IMPORT_RACE_MESSAGE, returncode=2) from exc
        except ImportBusy as exc:  # another import holds the organization (or SQLite)
            raise CommandError(str(exc), returncode=2) from exc
        if len(workbook.encounters) > 5000 or sys.stderr.isatty():
            sys.stderr.write("\n")
        elapsed = time.monotonic() - started
        waiting = sum(1 for e in workbook.encounters if not e.reviewed)
        self.stdout.write(
            f"Imported audit {audit.name!r} ({audit.cycle or 'no cycle'}) into {organization.slug}: "
            f"{len(workbook.encounters):,} encounters, {workbook.code_rows:,} code lines "
            f"in {elapsed:.1f} s{'; findings released' if options['released'] else ''}"
            + (f"; {waiting:,} not reviewed yet (the coder's coding only)." if waiting else ".")
        )


def _read_mapped(path: Path, organization: Organization, name: str) -> Workbook:
    """The spreadsheet at `path` read through the organization's saved mapping `name`, or
    exit 2 (an unknown mapping, or every problem of the file)."""
    mapping = import_mapping_named(organization=organization, name=name)
    if mapping is None:
        known = ", ".join(repr(m.name) for m in import_mapping_list(organization=organization))
        raise CommandError(
            f"no saved column mapping {name!r} in {organization.slug}"
            + (f" (saved: {known})" if known else " (none is saved yet)"),
            returncode=2,
        )
    try:
        return read_mapped(path, spec_from_dict(mapping.spec), limits=workbook_limits())
    except MappingInvalid as exc:
        raise CommandError(
            f"the saved mapping {name!r} cannot be used: {exc}", returncode=2
        ) from exc
    except WorkbookError as exc:
        raise CommandError(
            f"the spreadsheet was rejected; nothing was imported:\n{exc}", returncode=2
        ) from exc


def _read(path: Path, format: Format | None = None) -> Workbook:
    """The workbook or claims file at `path`, validated, or exit 2 with every problem."""
    format = format or detect_format(path)  # once: the reader is told, and so is the message
    try:
        return read_upload(path, format=format)
    except WorkbookError as exc:
        what = "workbook" if format in ("workbook", None) else "file"
        raise CommandError(
            f"the {what} was rejected; nothing was imported:\n{exc}", returncode=2
        ) from exc
