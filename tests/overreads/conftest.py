"""The overread world: a second and third auditor beside the conftest's `auditor`, and the
worked example imported with `auditor` as the first auditor of every encounter."""

from pathlib import Path

import pytest

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit, Encounter
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from tests.overreads.builders import make_auditor

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


@pytest.fixture
def second(org: Organization) -> User:
    return make_auditor(org, "bea", "Bea", "Second")


@pytest.fixture
def third(org: Organization) -> User:
    return make_auditor(org, "cy", "Cy", "Third")


@pytest.fixture
def worked(org: Organization, auditor: User) -> Audit:
    """The worked example (HF-1, PNA-2, EM-3, OP-4 in 2026-Q2), all audited by `auditor`
    and reviewed."""
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )
    Encounter.objects.filter(audit=audit).update(
        auditor=auditor, review_status=Encounter.ReviewStatus.DONE
    )
    return audit
