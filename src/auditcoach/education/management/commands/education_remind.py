"""`auditcoach education-remind [--enqueue] [--every SECONDS]`: remind coders of overdue
education (at most once a day per assignment, so running it often is harmless).

Run it daily from cron, or leave `--enqueue --every 3600` running beside the worker (as
`bin/demo` does): each hour it hands the reminder task to the background worker.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from auditcoach.education import services, tasks


class Command(BaseCommand):
    help = "Notify coders of overdue education assignments (at most once a day each)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Enqueue the task for the worker instead of running it here.",
        )
        parser.add_argument(
            "--every",
            type=int,
            default=0,
            metavar="SECONDS",
            help="Keep running, once every SECONDS (at least 60); 0 runs once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["every"]
        if every and every < 60:
            every = 60
        while True:
            self._once(enqueue=options["enqueue"])
            if not every:
                return
            time.sleep(every)

    def _once(self, *, enqueue: bool) -> None:
        if enqueue:
            result = tasks.education_overdue_remind.enqueue()
            self.stdout.write(f"Enqueued education reminders ({result.id}).")
            return
        count = services.education_overdue_remind()
        self.stdout.write(f"Reminded {count} overdue assignment{'s' if count != 1 else ''}.")
