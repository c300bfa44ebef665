"""`auditcoach demo`: load the demo organization "Demo Health System" (synthetic data only).

Creates the organization `demo-health`, one login per role plus a login for each of the 15
roster coders (all with the password `demo-pass-2026`), facility base rates, and one audit
per quarterly cycle imported through the ordinary import service: every cycle but the last
is released, the last is still in review. The released audits then get a coaching history
(`auditcoach.demo.coaching`: answers, disputes, decisions, comments, education, dated
after each release). When the organization exists already, it only prints the credentials
again. Everything is written in one transaction.
"""

import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings

from auditcoach.accounts.models import Auditor, Coder, Facility, Organization, Role, User
from auditcoach.accounts.services import (
    membership_add,
    organization_create,
    roster_get_or_create_many,
)
from auditcoach.audits.services import audit_import
from auditcoach.demo.annotate import annotate_findings
from auditcoach.demo.coaching import coaching_history
from auditcoach.demo.generator import AUDITORS, CODERS, FACILITIES, demo_workbooks, generate
from auditcoach.demo.overreads import demo_overreads
from auditcoach.library.seed import library_seed

SLUG = "demo-health"
NAME = "Demo Health System"
PASSWORD = "demo-pass-2026"
URL = "http://127.0.0.1:8000"
_NO_MAIL = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}

# username -> (role, first name, last name); coders follow from the generator's roster.
_STAFF: dict[str, tuple[Role, str, str]] = {
    "manager": (Role.MANAGER, "Maya", "Brooks"),
    "auditor.raj": (Role.AUDITOR, "Raj", "Mehta"),
    "auditor.kim": (Role.AUDITOR, "Kim", "Larsen"),
    "educator": (Role.EDUCATOR, "Erin", "Walsh"),
    "viewer": (Role.VIEWER, "Victor", "Lang"),
}
_CODER_SURNAMES = (
    "Alvarez", "Brennan", "Cruz", "Dawson", "Ellis", "Foster", "Gupta", "Hayes",
    "Ibarra", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okoro",
)  # fmt: skip


def _accounts() -> list[tuple[str, Role, str, str]]:
    staff = [(username, *info) for username, info in _STAFF.items()]
    coders = [
        (c.name, Role.CODER, c.name.split(".", 1)[1].capitalize(), surname)
        for c, surname in zip(CODERS, _CODER_SURNAMES, strict=True)
    ]
    return staff + coders


class Command(BaseCommand):
    help = (
        "Load the demo organization 'Demo Health System' (demo-health) with synthetic "
        "audits of four quarterly cycles, a coaching history for the released ones and a "
        "login per role. Does nothing but print the credentials when it exists already."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=7, help="random seed of the synthetic data (default 7)"
        )
        parser.add_argument(
            "--encounters-per-cycle",
            type=int,
            default=500,
            help="encounters in each of the four quarterly audits (default 500)",
        )
        parser.add_argument(
            "--i-know",
            action="store_true",
            help=(
                "create the demo logins even with DEBUG off (their password is published: "
                "never on a server that holds real data)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.filter(slug=SLUG).exists():
            self.stdout.write(f"The demo organization {SLUG} exists already; nothing changed.")
            self._credentials()
            return
        if not settings.DEBUG and not options["i_know"]:
            raise CommandError(
                f"DEBUG is off, so this looks like a real server: the demo's logins all have "
                f"the published password {PASSWORD!r}, so anyone could sign in. Run it with "
                "DEBUG=1 (bin/demo does), or add --i-know if this server holds no real data.",
                returncode=2,
            )
        per_cycle: int = options["encounters_per_cycle"]
        if per_cycle < 1:
            raise CommandError("--encounters-per-cycle must be at least 1", returncode=2)
        accounts = _accounts()
        taken = sorted(
            User.objects.filter(username__in=[a[0] for a in accounts]).values_list(
                "username", flat=True
            )
        )
        if taken:
            raise CommandError(
                "these demo usernames belong to existing users, so the demo was not loaded "
                f"(use a fresh database): {', '.join(taken)}",
                returncode=2,
            )

        started = time.monotonic()
        seed: int = options["seed"]
        encounters = generate(seed=seed, encounters_per_cycle=per_cycle)
        workbooks = demo_workbooks(encounters, seed=seed)
        self.stdout.write(
            f"Generated {len(encounters):,} synthetic encounters in {len(workbooks)} cycles "
            f"(seed {seed})."
        )
        # The coaching history notifies people in-app as the services always do, but its
        # e-mails (sent on commit) would be about events months old, to made-up addresses:
        # they go to the dummy backend.
        with override_settings(MAILERS=_NO_MAIL), transaction.atomic():
            organization, created = organization_create(slug=SLUG, name=NAME)
            if not created:  # created by a concurrent run since the check above
                self.stdout.write(f"The demo organization {SLUG} exists already.")
                self._credentials()
                return
            library_seed(organization=organization)
            self._people(organization, accounts)
            for index, (cycle, workbook) in enumerate(workbooks):
                released = index < len(workbooks) - 1
                t0 = time.monotonic()
                audit = audit_import(
                    organization=organization,
                    workbook=workbook,
                    name=f"Quarterly coding audit {cycle}",
                    cycle=cycle,
                    released=released,
                    actor=None,
                )
                self.stdout.write(
                    f"  {audit.name}: {len(workbook.encounters):,} encounters, "
                    f"{workbook.code_rows:,} code lines, "
                    f"{'released' if released else 'in review'} "
                    f"({time.monotonic() - t0:.1f} s)"
                )
            annotated = annotate_findings(organization=organization)
            self.stdout.write(f"  Auditor's annotations on {annotated:,} findings.")
            t0 = time.monotonic()
            history = coaching_history(organization=organization, seed=seed)
            self.stdout.write(f"  Coaching history ({time.monotonic() - t0:.1f} s):")
            for line in history.lines():
                self.stdout.write(f"    {line}")
            auditors = list(
                User.objects.filter(username__in=["auditor.raj", "auditor.kim"]).order_by(
                    "username"
                )
            )
            manager = User.objects.get(username="manager")
            overreads = demo_overreads(
                organization=organization, auditors=auditors, manager=manager, seed=seed
            )
            self.stdout.write(f"  Blind overreads done: {overreads}.")
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Loaded {NAME} ({SLUG}) in {elapsed:.1f} s."))
        self._credentials()

    def _people(
        self, organization: Organization, accounts: list[tuple[str, Role, str, str]]
    ) -> None:
        """Users and memberships, facility base rates, and coder logins linked to the roster."""
        # One hash for the one published password: Argon2 is deliberately slow, and hashing
        # it twenty times would only slow the demo down.
        password = make_password(PASSWORD)
        users: dict[str, User] = {}
        for username, role, first, last in accounts:
            user = User.objects.create(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@demo-health.example",
                password=password,
            )
            membership_add(organization=organization, user=user, role=role)
            users[username] = user
        self.stdout.write(f"  {len(users)} users with memberships")

        facilities = roster_get_or_create_many(
            organization=organization, model=Facility, names=FACILITIES.keys()
        )
        for name, facility in facilities.items():
            facility.base_rate = FACILITIES[name][1]
            facility.save(update_fields=["base_rate"])
        coders = roster_get_or_create_many(
            organization=organization, model=Coder, names=[c.name for c in CODERS]
        )
        # Screens name people by their display names, never by a login like `coder.ana`.
        for name, coder in coders.items():
            coder.user = users[name]
            coder.display_name = users[name].get_full_name()
            coder.save(update_fields=["user", "display_name"])
        auditors = roster_get_or_create_many(
            organization=organization, model=Auditor, names=AUDITORS
        )
        for name, entry in auditors.items():
            entry.user = users[name]
            entry.display_name = users[name].get_full_name()
            entry.save(update_fields=["user", "display_name"])
        self.stdout.write(
            f"  {len(facilities)} facilities with base rates, {len(coders)} coders and "
            f"{len(auditors)} auditors linked to their logins, with display names"
        )

    def _credentials(self) -> None:
        header = ("username", "password", "role")
        rows = [header] + [(username, PASSWORD, str(role)) for username, role, *_ in _accounts()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        self.stdout.write("")
        for n, row in enumerate(rows):
            self.stdout.write(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            )
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        self.stdout.write("")
        self.stdout.write(
            f"Sign in at {URL} (organization: {NAME}); bin/demo starts the server, "
            "otherwise run `auditcoach runserver`."
        )
