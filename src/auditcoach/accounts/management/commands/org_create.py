"""`auditcoach org-create SLUG --name NAME`: create an organization, idempotently."""

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from auditcoach.accounts import services


class Command(BaseCommand):
    help = "Create an organization. Running it again with the same slug changes nothing."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("slug", help="URL name of the organization, e.g. north-health")
        parser.add_argument("--name", required=True, help="display name, e.g. 'North Health'")

    def handle(self, *args: Any, **options: Any) -> None:
        slug: str = options["slug"]
        name: str = options["name"].strip()
        try:
            validate_slug(slug)
        except ValidationError as exc:
            raise CommandError(f"invalid slug {slug!r}: letters, digits, '-' and '_' only") from exc
        if len(slug) > 50:
            raise CommandError(f"invalid slug {slug!r}: at most 50 characters")
        if not name:
            raise CommandError("--name must not be blank")
        organization, created = services.organization_create(slug=slug, name=name)
        if created:
            message = f"Created organization {organization.slug} ({organization.name})."
            self.stdout.write(self.style.SUCCESS(message))
            return
        message = f"Organization {organization.slug} already exists; nothing changed."
        if organization.name != name:
            message += f" Its name stays {organization.name!r}."
        self.stdout.write(message)
