"""Overread services: plans pick deterministically and assign, blind reviews derive."""

import pytest
from django.db import IntegrityError, transaction

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, CodeLine, Encounter
from auditcoach.overreads.models import Overread, OverreadPlan
from auditcoach.overreads.services import (
    BlindLine,
    OverreadError,
    calibration_set_create,
    overread_complete,
    overread_lines_replace,
    overread_plan_apply,
    overread_plan_create,
)
from tests.overreads.builders import make_auditor, make_reviewed

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit(org: Organization) -> Audit:
    return Audit.objects.create(organization=org, name="Q2")


def ten_reviewed(audit: Audit, auditor: User) -> list[Encounter]:
    return [make_reviewed(audit, auditor, f"E-{i:02}") for i in range(10)]


def test_apply_picks_the_ceiling_of_the_share_deterministically(
    org: Organization, audit: Audit, auditor: User, second: User, manager: User
) -> None:
    ten_reviewed(audit, auditor)
    # Not the population: another cycle, another auditor, not yet reviewed.
    make_reviewed(audit, auditor, "OTHER-CYCLE", cycle="2026-Q1")
    make_reviewed(audit, second, "OTHER-AUDITOR")
    Encounter.objects.filter(external_id="E-09").update(review_status="in_progress")
    plans = [
        overread_plan_create(
            organization=org, auditor=auditor, cycle="2026-Q2", share=25, seed=42, actor=manager
        )
    ]
    created = overread_plan_apply(plan=plans[0], actor=manager)
    # 9 reviewed encounters × 25 % = 2.25 → 3.
    assert len(created) == 3
    picked = sorted(o.encounter.external_id for o in created)
    assert all(p.startswith("E-") and p != "E-09" for p in picked)
    assert {o.reviewer for o in created} == {second}
    assert {o.first_auditor for o in created} == {auditor}

    # The same seed on a fresh copy of the plan picks the same encounters.
    Overread.objects.all().delete()
    OverreadPlan.objects.all().delete()
    again = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=25, seed=42, actor=manager
    )
    assert (
        sorted(o.encounter.external_id for o in overread_plan_apply(plan=again, actor=manager))
        == picked
    )
    assert AuditLogEntry.objects.filter(action="overread_plan.apply").count() == 2


def test_apply_again_tops_up_and_never_repeats(
    org: Organization, audit: Audit, auditor: User, second: User, manager: User
) -> None:
    encounters = ten_reviewed(audit, auditor)
    Encounter.objects.filter(pk__in=[e.pk for e in encounters[5:]]).update(review_status="to_do")
    plan = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=50, seed=1, actor=manager
    )
    first = overread_plan_apply(plan=plan, actor=manager)
    assert len(first) == 3  # ceil(0.5 × 5)
    assert overread_plan_apply(plan=plan, actor=manager) == []  # share met: nothing new
    Encounter.objects.filter(pk__in=[e.pk for e in encounters[5:]]).update(review_status="done")
    more = overread_plan_apply(plan=plan, actor=manager)
    assert len(more) == 2  # ceil(0.5 × 10) = 5, 3 already picked
    ids = [o.encounter_id for o in Overread.objects.filter(plan=plan)]
    assert len(ids) == len(set(ids)) == 5
    with pytest.raises(IntegrityError), transaction.atomic():
        Overread.objects.create(
            organization=org, encounter_id=ids[0], plan=plan, first_auditor=auditor, reviewer=second
        )


def test_without_a_reviewer_the_least_loaded_other_auditor_gets_each_pick(
    org: Organization, audit: Audit, auditor: User, second: User, third: User, manager: User
) -> None:
    ten_reviewed(audit, auditor)
    # Bea already has 2 open overreads from another plan; Cy has none.
    other = make_auditor(org, "dee", "Dee", "Fourth")
    for i in range(2):
        make_reviewed(audit, other, f"D-{i}")
    busy = overread_plan_create(
        organization=org, auditor=other, cycle="2026-Q2", share=100, reviewer=second, actor=manager
    )
    assert len(overread_plan_apply(plan=busy, actor=manager)) == 2
    plan = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=50, seed=5, actor=manager
    )
    created = overread_plan_apply(plan=plan, actor=manager)
    # 5 picks over Bea (2 open), Cy (0) and Dee (0), the fewest first, ties by username:
    # cy, dee, cy(1 vs dee 1 → cy), dee, then bea/cy/dee all at 2 → bea.
    assert [o.reviewer.username for o in created] == ["cy", "dee", "cy", "dee", "bea"]
    assert auditor not in {o.reviewer for o in created}
    assert manager not in {o.reviewer for o in created}  # managers are not drafted


def test_plan_rules(
    org: Organization, auditor: User, second: User, manager: User, coder_user: User
) -> None:
    with pytest.raises(OverreadError, match="someone else"):
        overread_plan_create(
            organization=org, auditor=auditor, cycle="Q", share=10, reviewer=auditor, actor=manager
        )
    with pytest.raises(OverreadError, match="1 to 100"):
        overread_plan_create(organization=org, auditor=auditor, cycle="Q", share=0, actor=manager)
    with pytest.raises(OverreadError, match="auditor or manager"):
        overread_plan_create(
            organization=org, auditor=coder_user, cycle="Q", share=10, actor=manager
        )
    overread_plan_create(organization=org, auditor=auditor, cycle="Q", share=10, actor=manager)
    with pytest.raises(OverreadError, match="already has a plan"):
        overread_plan_create(organization=org, auditor=auditor, cycle="Q", share=20, actor=manager)


def test_no_other_auditor_is_refused(
    org: Organization, audit: Audit, auditor: User, manager: User
) -> None:
    make_reviewed(audit, auditor, "E-1")
    plan = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=100, actor=manager
    )
    with pytest.raises(OverreadError, match="No other auditor"):
        overread_plan_apply(plan=plan, actor=manager)
    assert not Overread.objects.exists()


def test_blind_review_starts_from_the_coders_codes_and_derives_on_done(
    org: Organization, worked: Audit, auditor: User, second: User, manager: User
) -> None:
    plan = overread_plan_create(
        organization=org,
        auditor=auditor,
        cycle="2026-Q2",
        share=100,
        reviewer=second,
        actor=manager,
    )
    overreads = {o.encounter.external_id: o for o in overread_plan_apply(plan=plan, actor=manager)}
    assert set(overreads) == {"HF-1", "PNA-2", "EM-3", "OP-4"}
    hf1 = overreads["HF-1"]
    # A copy of the original lines, never the first auditor's I50.23 / 0JH606Z.
    assert [(x.group, x.seq, x.code, x.poa) for x in hf1.lines.order_by("group", "seq")] == [
        ("DX", 1, "I509", "Y"),
        ("DX", 2, "E871", "Y"),
        ("DX", 3, "N184", "Y"),
        ("DX", 4, "Z794", "1"),
    ]
    # The second auditor agrees with the first: the same codes give the same DRG (259) and
    # findings; the engine's derivation is the workspace's (original 292 → audited 259).
    overread_lines_replace(
        overread=hf1,
        lines=[
            BlindLine("ICD10CM", "I5023", "Y"),
            BlindLine("ICD10CM", "E871", "Y"),
            BlindLine("ICD10CM", "N184", "Y"),
            BlindLine("ICD10PCS", "0JH606Z"),
        ],
        actor=second,
    )
    with pytest.raises(OverreadError, match="Only the second auditor"):
        overread_complete(overread=hf1, actor=auditor)
    done = overread_complete(overread=hf1, actor=second)
    encounter = Encounter.objects.get(pk=hf1.encounter_id)
    assert (done.status, done.drg, done.finding_count, done.has_findings, done.em_level) == (
        "done",
        encounter.audited_drg,
        encounter.finding_count,
        True,
        None,
    )
    assert done.drg == "259"
    # The encounter's own versions were not touched.
    assert CodeLine.objects.filter(encounter=encounter, version="audited").count() == 4
    with pytest.raises(OverreadError, match="done"):
        overread_lines_replace(overread=done, lines=[], actor=second)

    # E/M: the coder billed 99215; left as is, the blind level is 5 and there are no findings.
    em3 = overread_complete(overread=overreads["EM-3"], actor=second)
    assert (em3.em_level, em3.has_findings, em3.drg) == (5, False, "")
    assert AuditLogEntry.objects.filter(action="overread.complete").count() == 2


def test_calibration_set_sends_every_encounter_to_every_auditor(
    org: Organization, worked: Audit, auditor: User, second: User, third: User, manager: User
) -> None:
    encounters = list(Encounter.objects.filter(audit=worked, external_id__in=["HF-1", "EM-3"]))
    with pytest.raises(OverreadError, match="at least 3"):
        calibration_set_create(
            organization=org,
            name="C",
            encounters=encounters,
            auditors=[second, third],
            actor=manager,
        )
    cset = calibration_set_create(
        organization=org,
        name="  Heart  failure ",
        encounters=encounters,
        auditors=[auditor, second, third],
        actor=manager,
    )
    assert cset.name == "Heart failure"
    reviews = Overread.objects.filter(calibration=cset)
    assert reviews.count() == 6
    assert {r.first_auditor for r in reviews} == {None}
    assert all(r.lines.exists() for r in reviews)
    assert AuditLogEntry.objects.filter(action="calibration_set.create").count() == 1


def test_database_refuses_a_reviewer_checking_their_own_work(
    org: Organization, audit: Audit, auditor: User, manager: User
) -> None:
    encounter = make_reviewed(audit, auditor, "E-1")
    plan = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=10, actor=manager
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Overread.objects.create(
            organization=org,
            encounter=encounter,
            plan=plan,
            first_auditor=auditor,
            reviewer=auditor,
        )
