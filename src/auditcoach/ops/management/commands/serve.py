"""`auditcoach serve`: the production server, its background worker and the reminder loop.

Refuses to start without a fit SECRET_KEY (DEBUG off), applies migrations, collects the
static files (hashed and compressed, served by WhiteNoise), then supervises three children
(`auditcoach.lib.supervisor`): gunicorn with `auditcoach.ops.gunicorn_conf`, `auditcoach
worker`, and `auditcoach education-remind --enqueue --every 3600`. A child that dies is
restarted with a backoff; SIGTERM or Ctrl-C stops them all. `bin/serve` runs `bin/setup`
and then this.
"""

import logging
import sys
from argparse import ArgumentParser
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from auditcoach.lib.supervisor import Program, Supervisor
from auditcoach.ops.checks import refuse_to_serve_without_secret_key

logger = logging.getLogger("auditcoach.supervisor")


def programs(*, reminders_every: int) -> list[Program]:
    python = sys.executable
    command = [python, "-m", "auditcoach.cli"]
    return [
        Program(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "-c",
                "python:auditcoach.ops.gunicorn_conf",
                "auditcoach.wsgi:application",
            ],
        ),
        Program("worker", [*command, "worker", "--no-reload", "--interval", "1"]),
        Program(
            "reminders",
            [*command, "education_remind", "--enqueue", "--every", str(reminders_every)],
        ),
    ]


def _log(event: str, fields: Mapping[str, object]) -> None:
    logger.info(event, extra={"fields": {"event": f"supervisor.{event}", **fields}})


class Command(BaseCommand):
    help = (
        "Run AuditCoach in production: migrate, collect static files, then supervise "
        "gunicorn, the background worker and the hourly education reminders."
    )
    requires_system_checks = []  # the deploy checks are run below, with a clear refusal first

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--no-setup",
            action="store_true",
            help="skip migrate and collectstatic (they are already done)",
        )
        parser.add_argument(
            "--reminders-every",
            type=int,
            default=3600,
            metavar="SECONDS",
            help="how often the education reminders are handed to the worker (default 3600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DEBUG:
            raise CommandError(
                "auditcoach serve is the production server and needs DEBUG off (DEBUG=0); "
                "for development use bin/demo or `auditcoach runserver`",
                returncode=2,
            )
        try:
            refuse_to_serve_without_secret_key()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc), returncode=2) from exc
        # The other deploy checks (HTTPS off, console e-mail) are shown, not fatal: plain
        # HTTP on a private network or no e-mail may be the operator's deliberate choice.
        call_command("check", deploy=True, fail_level="CRITICAL")
        if not options["no_setup"]:
            call_command("migrate", interactive=False, verbosity=1)
            call_command("collectstatic", interactive=False, verbosity=0)
            self.stdout.write(f"Static files collected in {settings.STATIC_ROOT}.")
        self.stdout.write(
            "Starting the web server, the worker and the reminders (SIGTERM or Ctrl-C stops them)."
        )
        self.stdout.flush()
        supervisor = Supervisor(programs(reminders_every=options["reminders_every"]), log=_log)
        supervisor.run()
