"""`auditcoach metrics --org SLUG --json`: the organization's §8 p-charts, findings and
repeats per cycle, for the organization and each coder (DESIGN §9)."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.accounts.models import Organization
from auditcoach.analytics.selectors import cycle_report


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = "Print an organization's per-cycle metrics (p-chart, findings, repeat findings)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--json", action="store_true", help="print the DESIGN §9 JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist as exc:
            raise CommandError(
                f"no organization with slug {options['org']!r}", returncode=2
            ) from exc
        report = cycle_report(organization=organization).as_json()
        if options["json"]:
            json.dump(report, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
        charts = [("Organization", report["center"], report["cycles"])] + [
            (c["coder"], c["center"], c["cycles"]) for c in report["coders"]
        ]
        for name, center, cycles in charts:
            self.stdout.write(f"{name}  (centre {_share(center)})")
            for c in cycles:
                flag = "  SIGNAL" if c["signal"] else ""
                self.stdout.write(
                    f"  {c['cycle'] or '-':<10} {c['encounters']:>6} enc  "
                    f"{c['code_errors']:>5}/{c['audited_codes']:<6} p {_share(c['p']):>6}  "
                    f"[{_share(c['lcl'])}, {_share(c['ucl'])}]  "
                    f"findings {c['findings']}, repeats {c['repeat_findings']} "
                    f"({_share(c['repeat_rate'])}){flag}"
                )
