"""`auditcoach member-add USERNAME --org SLUG --role ROLE`: give a login a role in an
organization (changing the role of an existing membership, reactivating a deactivated one)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from auditcoach.accounts import selectors, services
from auditcoach.accounts.models import Membership, Role, User
from auditcoach.auditlog import services as auditlog


class Command(BaseCommand):
    help = (
        "Give USERNAME the ROLE in the organization SLUG; an existing membership gets the new "
        "role and is reactivated. Exit 2 on an unknown user, organization or role."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--role", required=True, help=", ".join(Role.values))

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        slug: str = options["org"]
        role: str = options["role"].strip().lower()
        problems: list[str] = []
        user = User.objects.filter(username=username).first()
        if user is None:
            problems.append(f"No login {username!r}; create it with `auditcoach user-add`.")
        organization = selectors.organization_get(slug=slug)
        if organization is None:
            problems.append(f"No organization {slug!r}; create it with `auditcoach org-create`.")
        if role not in Role.values:
            problems.append(f"Unknown role {options['role']!r}: one of {', '.join(Role.values)}.")
        if problems or user is None or organization is None:
            raise CommandError("\n".join(problems), returncode=2)
        with transaction.atomic():
            membership = services.membership_add(organization=organization, user=user, role=role)
            reactivated = self._reactivate(membership)
        state = " (reactivated)" if reactivated else ""
        self.stdout.write(
            self.style.SUCCESS(f"{user.username} is {role} of {organization.slug}{state}.")
        )

    def _reactivate(self, membership: Membership) -> bool:
        if membership.is_active:
            return False
        membership.is_active = True
        membership.save(update_fields=["is_active"])
        auditlog.log_write(
            organization=membership.organization,
            actor=None,
            action="membership.reactivate",
            obj_type="membership",
            obj_id=membership.pk,
            changes={"user": membership.user.get_username(), "is_active": [False, True]},
        )
        return True
