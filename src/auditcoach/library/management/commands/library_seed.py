"""`auditcoach library-seed --org SLUG`: the demo topics, references and rationale templates."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcoach.accounts.models import Organization
from auditcoach.library.seed import library_seed


class Command(BaseCommand):
    help = "Add the demo coaching topics, references and rationale templates to an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the organization's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist as exc:
            raise CommandError(f"No organization with the slug {options['org']!r}.") from exc
        result = library_seed(organization=organization)
        self.stdout.write(
            self.style.SUCCESS(
                f"Library of {organization.slug}: {result.references} reference(s), "
                f"{result.templates} template(s) and {result.terms} taxonomy term(s) added."
            )
        )
