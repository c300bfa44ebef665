"""`auditcoach user-add USERNAME --email EMAIL [--first-name X] [--last-name Y] [--password-stdin]`:
create a login from the command line, so that a fresh install can make its first manager."""

import getpass
import sys
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from auditcoach.accounts import services_people
from auditcoach.accounts.models import User

NAME_MAX = 150


class Command(BaseCommand):
    help = (
        "Create a login. The password is read from standard input with --password-stdin, "
        "else asked twice. Exit 2, with nothing written, on a taken username or a bad password."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="the login's username, e.g. maria.manager")
        parser.add_argument("--email", required=True, help="e-mail address")
        parser.add_argument("--first-name", default="", help="first name")
        parser.add_argument("--last-name", default="", help="last name")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (its first line) instead of asking",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"].strip()
        email: str = options["email"].strip()
        first_name: str = options["first_name"].strip()
        last_name: str = options["last_name"].strip()
        problems = self._check(username, email, first_name, last_name)
        if problems:
            raise CommandError("\n".join(problems), returncode=2)
        password = self._password(options["password_stdin"])
        candidate = User(username=username, email=email, first_name=first_name, last_name=last_name)
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            reasons = "\n".join(f"  - {message}" for message in exc.messages)
            raise CommandError(f"The password was refused:\n{reasons}", returncode=2) from exc
        try:
            user = services_people.user_create(
                username=username,
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
            )
        except services_people.PeopleError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(self.style.SUCCESS(f"Created the login {user.username} ({user.email})."))

    def _check(self, username: str, email: str, first_name: str, last_name: str) -> list[str]:
        problems: list[str] = []
        if not username or len(username) > NAME_MAX:
            problems.append(f"The username must be 1 to {NAME_MAX} characters.")
        else:
            try:
                UnicodeUsernameValidator()(username)
            except ValidationError:
                problems.append("The username may hold letters, digits and @ . + - _ only.")
            if services_people.username_taken(username):
                problems.append(f"The username {username!r} is already taken.")
        try:
            validate_email(email)
        except ValidationError:
            problems.append(f"{email!r} is not a valid e-mail address.")
        if len(email) > 254:
            problems.append("The e-mail address must be at most 254 characters.")
        for label, value in (("first name", first_name), ("last name", last_name)):
            if len(value) > NAME_MAX:
                problems.append(f"The {label} must be at most {NAME_MAX} characters.")
        return problems

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            line = sys.stdin.readline()
            password = line.rstrip("\r\n")
            if not password:
                raise CommandError("No password on standard input.", returncode=2)
            return password
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password (again): ")
        if first != second:
            raise CommandError("The two passwords differ.", returncode=2)
        return first
