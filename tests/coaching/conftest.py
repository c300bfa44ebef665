"""An audit of the worked example whose coder `coder.ana` is the signed-in `coder_user`.

`coder.ben` has no login: his findings are "another coder's" for the permission cases.
"""

from pathlib import Path

import pytest

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.audits.models import Audit, Encounter, Finding
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


@pytest.fixture
def audit(org: Organization, auditor: User, coder_user: User) -> Audit:
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )
    Coder.objects.filter(organization=org, name="coder.ana").update(user=coder_user)
    Encounter.objects.filter(audit=audit).update(auditor=auditor)
    return audit


@pytest.fixture
def ana(audit: Audit) -> Coder:
    return Coder.objects.get(organization=audit.organization, name="coder.ana")


@pytest.fixture
def ben(audit: Audit) -> Coder:
    return Coder.objects.get(organization=audit.organization, name="coder.ben")


def finding(audit: Audit, external_id: str, kind: str, group: str | None = None) -> Finding:
    """The first finding of `kind` (and `group`) on the encounter."""
    qs = Finding.objects.filter(
        encounter__audit=audit, encounter__external_id=external_id, kind=kind
    )
    if group:
        qs = qs.filter(group=group)
    found = qs.order_by("position").first()
    assert found is not None, (external_id, kind, group)
    return found
