"""`auditcoach two-factor-remove USERNAME`: for someone who lost their phone and codes."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from auditcoach.accounts import selectors, services
from auditcoach.accounts.models import User


class Command(BaseCommand):
    help = (
        "Remove a person's authenticator and recovery codes (they lost both). Check who "
        "they are first. A manager of an organization that requires two-factor is asked "
        "to set it up again at their next visit."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the login name, exactly")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        if selectors.two_factor_device(user=user) is None:
            self.stdout.write(f"{username} has no two-factor sign-in; nothing changed.")
            return
        services.two_factor_disable(user=user, by_command=True)
        self.stdout.write(self.style.SUCCESS(f"Removed two-factor sign-in of {username}."))
