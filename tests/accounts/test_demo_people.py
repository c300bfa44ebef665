"""The demo names its people: coders and auditors get display names, never logins."""

import pytest

from auditcoach.accounts.models import Auditor, Coder, Organization
from auditcoach.audits.management.commands.demo import Command, _accounts

pytestmark = pytest.mark.django_db


def test_demo_people_have_display_names(org: Organization) -> None:
    Command()._people(org, _accounts())
    ana = Coder.objects.get(organization=org, name="coder.ana")
    assert ana.display_name == "Ana Alvarez"
    assert ana.label == "Ana Alvarez"
    raj = Auditor.objects.get(organization=org, name="auditor.raj")
    assert raj.label == "Raj Mehta"
    assert raj.user is not None
    assert raj.user.username == "auditor.raj"
    assert not Coder.objects.filter(organization=org, display_name="").exists()
