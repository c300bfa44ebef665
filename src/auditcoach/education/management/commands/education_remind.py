"""`auditcoach education-remind`: remind coders of overdue education (once a day each)."""

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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            result = tasks.education_overdue_remind.enqueue()
            self.stdout.write(f"Enqueued education reminders ({result.id}).")
            return
        count = services.education_overdue_remind()
        self.stdout.write(f"Reminded {count} overdue assignment{'s' if count != 1 else ''}.")
