"""Builders for the overread tests: auditors, encounters with both versions, done overreads."""

from datetime import date

from auditcoach.accounts.models import Organization, Role, User
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.engine.model import SYSTEM_GROUP
from auditcoach.overreads.models import Overread, OverreadLine, OverreadPlan
from tests.factories import MembershipFactory, UserFactory


def make_auditor(org: Organization, username: str, first: str, last: str) -> User:
    user = UserFactory(username=username, first_name=first, last_name=last)
    MembershipFactory(user=user, organization=org, role=Role.AUDITOR)
    return user


def _system(code: str) -> str:
    if code.isdigit():
        return "CPT"
    return "ICD10PCS" if len(code) == 7 and code[0].isdigit() else "ICD10CM"


def add_lines(encounter: Encounter, version: str, codes: tuple[str, ...]) -> None:
    seqs: dict[str, int] = {}
    for code in codes:
        system = _system(code)
        group = SYSTEM_GROUP[system]  # type: ignore[index]
        seqs[group] = seqs.get(group, 0) + 1
        CodeLine.objects.create(
            organization=encounter.organization,
            encounter=encounter,
            version=version,
            system=system,
            group=group,
            seq=seqs[group],
            code=code,
        )


def make_reviewed(
    audit: Audit,
    auditor: User,
    external_id: str,
    *,
    original: tuple[str, ...] = ("I10",),
    audited: tuple[str, ...] = ("I10",),
    setting: str = Encounter.Setting.INPATIENT,
    cycle: str = "2026-Q2",
    audited_drg: str = "",
    topics: tuple[str, ...] = (),
) -> Encounter:
    """A reviewed encounter of `auditor`; one active finding per topic given."""
    encounter = Encounter.objects.create(
        organization=audit.organization,
        audit=audit,
        external_id=external_id,
        setting=setting,
        discharge_date=date(2026, 5, 1),
        auditor=auditor,
        auditor_name=auditor.username,
        cycle=cycle,
        review_status=Encounter.ReviewStatus.DONE,
        audited_drg=audited_drg,
        finding_count=len(topics),
    )
    add_lines(encounter, CodeLine.Version.ORIGINAL, original)
    add_lines(encounter, CodeLine.Version.AUDITED, audited)
    for position, topic in enumerate(topics):
        Finding.objects.create(
            organization=audit.organization,
            encounter=encounter,
            position=position,
            kind="REVISED",
            group="DX",
            pattern="REVISED:DX:I10",
            topic=topic,
        )
    return encounter


def make_done_overread(
    plan: OverreadPlan,
    encounter: Encounter,
    reviewer: User,
    codes: tuple[str, ...],
    *,
    drg: str = "",
    has_findings: bool = False,
    em_level: int | None = None,
) -> Overread:
    """A finished overread with its stored outcome given directly (no engine run)."""
    overread = Overread.objects.create(
        organization=plan.organization,
        encounter=encounter,
        plan=plan,
        first_auditor=plan.auditor,
        reviewer=reviewer,
        status=Overread.Status.DONE,
        drg=drg,
        has_findings=has_findings,
        finding_count=int(has_findings),
        em_level=em_level,
    )
    seqs: dict[str, int] = {}
    for code in codes:
        system = _system(code)
        group = SYSTEM_GROUP[system]  # type: ignore[index]
        seqs[group] = seqs.get(group, 0) + 1
        OverreadLine.objects.create(
            overread=overread, system=system, group=group, seq=seqs[group], code=code
        )
    return overread
