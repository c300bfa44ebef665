"""`auditcoach load_table5 PATH --fiscal-year YYYY`: check and install a CMS Table 5.

The file is validated with `pricing.load_table5` (errors name the file, the line and the
column; exit 2), then copied into the user data folder (`knowledge.user_data_dir()`:
the `AUDITCOACH_DATA_DIR` setting, else `$AUDITCOACH_DATA_DIR`, else
`VAR_DIR/codesets`) as `table5_fy{YYYY}.tsv`, where `Table5Pricing` finds it: for a
year the project does not ship it adds one, for a year it ships it replaces the shipped
table (a correction notice, for example). Running processes see it after a restart;
this process (and `auditcoach score`) at once.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.codesets import knowledge
from auditcoach.codesets.pricing import (
    TABLE5_FILES,
    Table5Error,
    Table5Row,
    load_table5,
    user_table5_path,
)

SPOT_DRGS = ("470", "871", "291")
FIRST_YEAR, LAST_YEAR = 2008, 2100  # MS-DRGs began in FY2008


def fiscal_year_argument(raw: str) -> int:
    try:
        year = int(raw)
    except ValueError:
        raise CommandError(
            f"--fiscal-year must be a year such as 2027, got {raw!r}", returncode=2
        ) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise CommandError(
            f"--fiscal-year must be between {FIRST_YEAR} and {LAST_YEAR}, got {year}", returncode=2
        )
    return year


class Command(BaseCommand):
    help = "Check a CMS Table 5 (TSV) and install it as the relative weights of one fiscal year."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", type=Path, help="the Table 5 file: UTF-8, tab-separated, one header row"
        )
        parser.add_argument(
            "--fiscal-year",
            required=True,
            type=fiscal_year_argument,
            help="the federal fiscal year of the table (FY2027 = discharges from 2026-10-01)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path = options["path"]
        fy: int = options["fiscal_year"]
        try:
            table = load_table5(source)
        except Table5Error as exc:
            raise CommandError(
                f"the table was rejected; nothing was installed:\n{exc}", returncode=2
            ) from exc
        folder = knowledge.user_data_dir()
        if folder is None:  # pragma: no cover - the app always has VAR_DIR
            raise CommandError("no user data folder (set AUDITCOACH_DATA_DIR)", returncode=2)
        target = user_table5_path(folder, fy)
        replaced = target.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _copy_atomically(source, target)
        except OSError as exc:
            raise CommandError(f"could not write {target}: {exc}", returncode=2) from exc
        knowledge.pricing.cache_clear()  # this process sees the new table at once

        weighted = sum(row.weight is not None for row in table.values())
        self.stdout.write(
            f"Loaded Table 5 for FY{fy} from {source}: {len(table)} DRGs, {weighted} with a weight."
        )
        for row in _spot_rows(table):
            weight = f"{row.weight}" if row.weight is not None else "no weight"
            self.stdout.write(f"  DRG {row.drg}  {weight:>8}  {row.title}")
        shipped = TABLE5_FILES.get(fy)
        note = ""
        if shipped:
            note = f" It replaces the shipped {shipped} for FY{fy}."
        elif replaced:
            note = f" It replaces the table loaded before for FY{fy}."
        self.stdout.write(f"Installed as {target}.{note}")


def _spot_rows(table: dict[str, Table5Row]) -> list[Table5Row]:
    rows = [table[drg] for drg in SPOT_DRGS if drg in table]
    if len(rows) < 2:
        rows += [r for r in table.values() if r.weight is not None and r not in rows][
            : 2 - len(rows)
        ]
    return rows


def _copy_atomically(source: Path, target: Path) -> None:
    """Readers never see half a file: write beside the target, then rename over it."""
    data = source.read_bytes()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
