"""Small builders of audits, encounters and findings for the education tests."""

from datetime import date, timedelta

from auditcoach.accounts.models import Coder, Organization
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding


def make_audit(org: Organization, name: str, status: str = Audit.Status.IN_REVIEW) -> Audit:
    return Audit.objects.create(organization=org, name=name, status=status)


def make_encounter(
    audit: Audit,
    coder: Coder | None,
    external_id: str,
    codes: tuple[str, ...] = ("I10",),
    review_status: str = Encounter.ReviewStatus.TO_DO,
    days: int = 0,
) -> Encounter:
    encounter = Encounter.objects.create(
        organization=audit.organization,
        audit=audit,
        external_id=external_id,
        setting=Encounter.Setting.INPATIENT,
        discharge_date=date(2026, 1, 1) + timedelta(days=days),
        coder=coder,
        review_status=review_status,
    )
    for seq, code in enumerate(codes, start=1):
        CodeLine.objects.create(
            organization=audit.organization,
            encounter=encounter,
            version=CodeLine.Version.ORIGINAL,
            system=CodeLine.System.ICD10CM,
            group="DX",
            seq=seq,
            code=code,
        )
    return encounter


def make_finding(encounter: Encounter, pattern: str = "ADDED:DX:J96") -> Finding:
    return Finding.objects.create(
        organization=encounter.organization,
        encounter=encounter,
        kind=pattern.split(":")[0],
        group=pattern.split(":")[1],
        audited_code=pattern.split(":")[2] + "01",
        pattern=pattern,
        status=Finding.Status.RELEASED,
    )
