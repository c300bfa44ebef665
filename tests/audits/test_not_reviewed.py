"""Not-yet-reviewed encounters in the database (DESIGN §9).

An encounter imported with its original lines only is stored `reviewed=False` with its
audited version a copy and no findings; it counts in no score or metric (the audit's
summary, the §8 metrics, scorecards, overread picking) and is never released, until the
auditor marks it reviewed (clean when unchanged) or edits its audited version.

Every "counts nowhere" test compares against the same audit imported without the
not-reviewed encounters, so it fails if any of them were counted.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.analytics import scorecard
from auditcoach.analytics import selectors as analytics
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits import selectors
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.services import (
    AuditedLine,
    ConflictError,
    audit_import,
    encounter_audited_update,
    encounter_mark_reviewed,
    encounter_review_status_set,
)
from auditcoach.coaching.services import audit_release
from auditcoach.engine.workbook import read_workbook
from auditcoach.overreads.models import OverreadPlan
from auditcoach.overreads.services import plan_reviewed_encounters
from tests.conftest import AssertTenancy, ClientFor

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"

pytestmark = pytest.mark.django_db

# Two encounters of the worked example's coders and cycle with the coder's coding only:
# NR-5 (inpatient, disposition 06, billed DRG 293) and NR-6 (profee, a visit with 25).
EXTRA_ENCOUNTERS = (
    "NR-5,inpatient,2026-05-20,70,M,06,,293,North,Cardiology,Dr Lee,Medicare,coder.ana,"
    "auditor.raj,2026-Q2\n"
    "NR-6,profee,2026-06-12,44,F,,,,Clinic,Family Medicine,Dr Shah,Commercial,coder.ben,"
    "auditor.kim,2026-Q2\n"
)
EXTRA_CODES = (
    "NR-5,original,ICD10CM,1,I50.9,Y,,\n"
    "NR-5,original,ICD10CM,2,E87.1,N,,\n"
    "NR-5,original,ICD10CM,3,Z79.4,1,,\n"
    "NR-6,original,ICD10CM,1,E11.9,,,\n"
    "NR-6,original,CPT,1,99214,,25,1\n"
    "NR-6,original,CPT,2,20610,,RT;59,2\n"
)


def _with_extras(tmp_path: Path) -> Path:
    folder = tmp_path / "wb"
    shutil.copytree(WORKED, folder)
    with (folder / "encounters.csv").open("a", encoding="utf-8") as handle:
        handle.write(EXTRA_ENCOUNTERS)
    with (folder / "codes.csv").open("a", encoding="utf-8") as handle:
        handle.write(EXTRA_CODES)
    return folder


def _import(org: Organization, path: Path, name: str, **kw: Any) -> Audit:
    return audit_import(organization=org, workbook=read_workbook(path), name=name, **kw)


@pytest.fixture
def mixed(org: Organization, auditor: User, tmp_path: Path) -> Audit:
    return _import(org, _with_extras(tmp_path), "Mixed", actor=auditor)


@pytest.fixture
def baseline(other_org: Organization) -> Audit:
    """The same audit without the not-reviewed encounters, in another organization."""
    return _import(other_org, WORKED, "Mixed")


def _enc(audit: Audit, eid: str) -> Encounter:
    return Encounter.objects.select_related("audit", "organization", "facility").get(
        audit=audit, external_id=eid
    )


def _lines(encounter: Encounter, version: str) -> list[tuple[Any, ...]]:
    return list(
        CodeLine.objects.filter(encounter=encounter, version=version)
        .order_by("group", "seq")
        .values_list("system", "seq", "code", "poa", "modifiers", "units")
    )


# --------------------------------------------------------------------------- import


def test_import_stores_not_reviewed_with_an_exact_copy_and_no_findings(mixed: Audit) -> None:
    nr5, nr6 = _enc(mixed, "NR-5"), _enc(mixed, "NR-6")
    for e in (nr5, nr6):
        assert e.reviewed is False
        assert (e.reviewed_by, e.reviewed_at) == (None, None)
        assert _lines(e, "audited") == _lines(e, "original")
        assert e.finding_count == 0
        assert not Finding.objects.filter(encounter=e).exists()
        assert e.financial_impact is None
    assert _lines(nr6, "audited")[-1] == ("CPT", 2, "20610", "", "59;RT", 2)
    assert nr5.audited_disposition == "06"  # the copy has the disposition too
    assert Encounter.objects.filter(audit=mixed, reviewed=True).count() == 4
    entry = AuditLogEntry.objects.get(action="audit.import", object_id=str(mixed.public_id))
    assert entry.changes["not_reviewed"] == 2


def test_the_audit_scores_leave_them_out(mixed: Audit, baseline: Audit) -> None:
    assert selectors.audit_not_reviewed_count(organization=mixed.organization, audit=mixed) == 2
    ours = selectors.audit_scores(organization=mixed.organization, audit=mixed)
    theirs = selectors.audit_scores(organization=baseline.organization, audit=baseline)
    assert ours == theirs
    assert ours.encounters == 4
    for dimension in ("setting", "coder__name"):
        assert selectors.audit_scores_by(
            organization=mixed.organization, audit=mixed, dimension=dimension
        ) == selectors.audit_scores_by(
            organization=baseline.organization, audit=baseline, dimension=dimension
        )


def test_a_released_import_does_not_release_them(org: Organization, tmp_path: Path) -> None:
    audit = _import(org, _with_extras(tmp_path), "Historic", released=True)
    nr5 = _enc(audit, "NR-5")
    assert nr5.released_at is None
    assert nr5.review_status == Encounter.ReviewStatus.TO_DO
    assert _enc(audit, "HF-1").released_at is not None


def test_the_import_command_says_how_many_are_not_reviewed(
    org: Organization, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "import", str(_with_extras(tmp_path)), "--org", org.slug, "--audit", "CLI", "--released"
    )
    out = capsys.readouterr().out
    assert "6 encounters" in out
    assert "2 not reviewed yet (the coder's coding only)." in out
    audit = Audit.objects.get(organization=org, name="CLI")
    assert Encounter.objects.filter(audit=audit, reviewed=False, released_at=None).count() == 2


def test_the_database_refuses_a_released_encounter_not_reviewed(mixed: Audit) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Encounter.objects.filter(audit=mixed, external_id="NR-5").update(released_at=timezone.now())


# --------------------------------------------------------------------------- marking reviewed


def test_mark_reviewed_unchanged_makes_a_clean_encounter_that_counts(
    mixed: Audit, baseline: Audit, auditor: User
) -> None:
    org = mixed.organization
    nr6 = _enc(mixed, "NR-6")
    before = selectors.audit_scores(organization=org, audit=mixed)
    assert encounter_mark_reviewed(encounter=nr6, lock_version=nr6.lock_version, actor=auditor)
    nr6.refresh_from_db()
    assert nr6.reviewed is True
    assert nr6.reviewed_by == auditor
    assert nr6.reviewed_at is not None
    assert nr6.review_status == Encounter.ReviewStatus.DONE
    assert nr6.finding_count == 0
    after = selectors.audit_scores(organization=org, audit=mixed)
    # One more encounter, clean: record accuracy 0/4 → 1/5, LINE code accuracy gains 2/2.
    assert after.encounters == before.encounters + 1
    assert after.record_accuracy.successes == before.record_accuracy.successes + 1
    assert after.code_accuracy["LINE"].n == before.code_accuracy["LINE"].n + 2
    assert after.code_accuracy["LINE"].successes == before.code_accuracy["LINE"].successes + 2
    entry = AuditLogEntry.objects.get(action="encounter.mark_reviewed")
    assert entry.object_id == str(nr6.public_id)
    assert entry.changes == {"reviewed": [False, True], "findings": 0}
    # Again: nothing to do (and nothing logged).
    assert not encounter_mark_reviewed(encounter=nr6, lock_version=nr6.lock_version, actor=auditor)
    assert AuditLogEntry.objects.filter(action="encounter.mark_reviewed").count() == 1


def test_mark_reviewed_with_a_stale_lock_is_refused(mixed: Audit, auditor: User) -> None:
    nr6 = _enc(mixed, "NR-6")
    stale = nr6.lock_version
    Encounter.objects.filter(pk=nr6.pk).update(lock_version=stale + 1)  # someone else saved
    with pytest.raises(ConflictError):
        encounter_mark_reviewed(encounter=nr6, lock_version=stale, actor=auditor)
    nr6.refresh_from_db()
    assert nr6.reviewed is False


def test_a_billed_drg_that_the_coding_does_not_group_to_is_found_once_reviewed(
    mixed: Audit, auditor: User
) -> None:
    # NR-5 was billed as DRG 293 (heart failure without CC/MCC), but its own codes group
    # to 292: E87.1 hyponatremia is a CC. Not reviewed, that is no finding; marked
    # reviewed unchanged, it is the one finding (§5: the billed DRG is the original's).
    nr5 = _enc(mixed, "NR-5")
    assert (nr5.original_drg, nr5.audited_drg, nr5.finding_count) == ("293", "292", 0)
    encounter_mark_reviewed(encounter=nr5, lock_version=nr5.lock_version, actor=auditor)
    nr5.refresh_from_db()
    kinds = list(Finding.objects.filter(encounter=nr5).values_list("kind", flat=True))
    assert kinds == ["DRG_CHANGED"]
    assert nr5.released_at is None  # (the audit is in review: nothing is released)


def test_an_edit_marks_it_reviewed_with_its_finding(mixed: Audit, auditor: User) -> None:
    nr6 = _enc(mixed, "NR-6")
    lines = [
        AuditedLine(system="ICD10CM", code="E1165"),  # E11.9 → E11.65
        AuditedLine(system="CPT", code="99214", modifiers=frozenset({"25"})),
        AuditedLine(system="CPT", code="20610", modifiers=frozenset({"RT", "59"}), units=2),
    ]
    encounter_audited_update(
        encounter=nr6, lock_version=nr6.lock_version, lines=lines, actor=auditor
    )
    nr6.refresh_from_db()
    assert nr6.reviewed is True
    assert nr6.reviewed_by == auditor
    assert nr6.review_status == Encounter.ReviewStatus.IN_PROGRESS
    assert list(Finding.objects.filter(encounter=nr6).values_list("kind", "pattern")) == [
        ("REVISED", "REVISED:DX:E11")
    ]
    entry = AuditLogEntry.objects.get(
        action="encounter.audited_update", object_id=str(nr6.public_id)
    )
    assert entry.changes["reviewed"] == [False, True]
    assert selectors.audit_scores(organization=mixed.organization, audit=mixed).encounters == 5


def test_review_status_done_marks_it_reviewed(mixed: Audit, auditor: User) -> None:
    # NR-5 (billed 293, grouping to 292): done derives it again, so its finding appears, as
    # with Mark reviewed; a second "done" changes nothing more.
    nr5 = _enc(mixed, "NR-5")
    encounter_review_status_set(encounter=nr5, status="done", actor=auditor)
    nr5.refresh_from_db()
    assert nr5.reviewed is True
    assert nr5.reviewed_by == auditor
    assert list(Finding.objects.filter(encounter=nr5).values_list("kind", flat=True)) == [
        "DRG_CHANGED"
    ]
    assert nr5.finding_count == 1
    entry = AuditLogEntry.objects.get(action="encounter.review_status")
    assert entry.changes["reviewed"] == [False, True]
    assert entry.changes["findings"] == 1
    encounter_review_status_set(encounter=nr5, status="done", actor=auditor)
    again = AuditLogEntry.objects.filter(action="encounter.review_status").latest("pk")
    assert "reviewed" not in again.changes


# --------------------------------------------------------------------------- release, metrics


def _release(audit: Audit, actor: User) -> None:
    audit_release(audit=audit, actor=actor)
    audit.refresh_from_db()


def _metrics(org: Organization) -> dict[str, Any]:
    return analytics.cycle_report(organization=org).as_json()


def _card(org: Organization, name: str) -> tuple[Any, ...]:
    coder = Coder.objects.get(organization=org, name=name)
    card = scorecard.coder_scorecard(organization=org, coder=coder, today=date(2026, 9, 1))
    return (card.cycles, card.center, card.totals, card.organization_totals, card.strengths)


def _summaries(org: Organization) -> list[tuple[Any, ...]]:
    return [
        (s.coder.name, s.encounters, s.accuracy, s.latest_accuracy, s.accuracy_series)
        for s in scorecard.coder_summaries(organization=org, today=date(2026, 9, 1))
    ]


def test_release_leaves_them_unreleased_and_out_of_every_metric(
    mixed: Audit, baseline: Audit, auditor: User, manager: User
) -> None:
    _release(mixed, auditor)
    _release(baseline, manager)
    assert mixed.status == Audit.Status.RELEASED
    assert _enc(mixed, "NR-5").released_at is None
    assert _enc(mixed, "NR-6").released_at is None
    assert _enc(mixed, "OP-4").released_at is not None
    org, other = mixed.organization, baseline.organization
    assert analytics.released_encounters(organization=org).count() == 4
    assert _metrics(org) == _metrics(other)
    for name in ("coder.ana", "coder.ben"):
        assert _card(org, name) == _card(other, name)
    assert _summaries(org) == _summaries(other)


def test_reviewed_after_release_a_clean_one_is_released_and_counts(
    mixed: Audit, auditor: User
) -> None:
    _release(mixed, auditor)
    org = mixed.organization
    before = _metrics(org)["cycles"][0]
    nr6 = _enc(mixed, "NR-6")
    encounter_mark_reviewed(encounter=nr6, lock_version=nr6.lock_version, actor=auditor)
    nr6.refresh_from_db()
    assert nr6.released_at is not None  # clean: nothing for the coder to be shown first
    after = _metrics(org)["cycles"][0]
    assert after["encounters"] == before["encounters"] + 1
    assert after["audited_codes"] == before["audited_codes"] + 3
    assert after["code_errors"] == before["code_errors"]


def test_reviewed_after_release_with_a_finding_waits_for_its_release(
    mixed: Audit, auditor: User
) -> None:
    _release(mixed, auditor)
    nr6 = _enc(mixed, "NR-6")
    encounter_audited_update(
        encounter=nr6,
        lock_version=nr6.lock_version,
        lines=[
            AuditedLine(system="ICD10CM", code="E1165"),
            AuditedLine(system="CPT", code="99214"),
        ],
        actor=auditor,
    )
    nr6.refresh_from_db()
    assert nr6.reviewed is True
    assert nr6.released_at is None  # its draft findings are not released yet
    assert analytics.released_encounters(organization=mixed.organization).count() == 4
    _release(mixed, auditor)
    nr6.refresh_from_db()
    assert nr6.released_at is not None
    assert analytics.released_encounters(organization=mixed.organization).count() == 5


def test_overread_plans_never_pick_an_encounter_not_reviewed(mixed: Audit, auditor: User) -> None:
    org = mixed.organization
    # Even marked done behind the services' back, a not-reviewed encounter is no review.
    Encounter.objects.filter(audit=mixed).update(
        auditor=auditor, review_status=Encounter.ReviewStatus.DONE
    )
    plan = OverreadPlan.objects.create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=100, seed=1
    )
    picked = {e.external_id for e in plan_reviewed_encounters(plan)}
    assert picked == {"HF-1", "PNA-2", "EM-3", "OP-4"}


# --------------------------------------------------------------------------- screens

HTMX = {"HTTP_HX_REQUEST": "true"}
BANNER = (
    "Not reviewed: the audited version is the coder's coding until you change it or mark "
    "it reviewed"
)


def _url(name: str, **kwargs: Any) -> str:
    return reverse(f"audits:{name}", kwargs={"org_slug": "north-health", **kwargs})


def _text(response: Any) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def test_mark_reviewed_checklist(
    assert_tenancy: AssertTenancy,
    mixed: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    nr6 = _enc(mixed, "NR-6")
    assert_tenancy(
        _url("mark_reviewed", encounter_id=nr6.public_id),
        allowed=[auditor, manager],  # the first marks it; the second finds it done
        forbidden=[coder_user, educator, viewer],
        method="post",
        wrong_method="get",
        data={"lock_version": nr6.lock_version},
    )
    nr6.refresh_from_db()
    assert nr6.reviewed is True
    assert nr6.reviewed_by == auditor


def test_the_workspace_says_so_and_the_button_makes_it_clean(
    mixed: Audit, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(auditor)
    nr6 = _enc(mixed, "NR-6")
    page = _text(client.get(_url("encounter", encounter_id=nr6.public_id)))
    assert BANNER in page
    assert "Mark reviewed" in page
    assert "Not counted" in page
    reviewed = _text(client.get(_url("encounter", encounter_id=_enc(mixed, "OP-4").public_id)))
    assert BANNER not in reviewed

    response = client.post(
        _url("mark_reviewed", encounter_id=nr6.public_id),
        {"lock_version": nr6.lock_version},
        **HTMX,
    )
    assert response.status_code == 200
    after = _text(response)
    assert BANNER not in after
    assert "Marked reviewed: it counts from now on, a clean encounter." in after
    nr6.refresh_from_db()
    assert (nr6.reviewed, nr6.finding_count) == (True, 0)


def test_a_stale_mark_reviewed_changes_nothing(
    mixed: Audit, auditor: User, client_for: ClientFor
) -> None:
    nr6 = _enc(mixed, "NR-6")
    response = client_for(auditor).post(
        _url("mark_reviewed", encounter_id=nr6.public_id),
        {"lock_version": nr6.lock_version + 5},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Someone else saved this encounter" in _text(response)
    nr6.refresh_from_db()
    assert nr6.reviewed is False
    bad = client_for(auditor).post(
        _url("mark_reviewed", encounter_id=nr6.public_id), {"lock_version": "x"}, **HTMX
    )
    assert bad.status_code == 200
    nr6.refresh_from_db()
    assert nr6.reviewed is False


def test_changing_a_code_in_the_workspace_marks_it_reviewed(
    mixed: Audit, auditor: User, client_for: ClientFor
) -> None:
    nr6 = _enc(mixed, "NR-6")
    response = client_for(auditor).post(
        _url("line_change", encounter_id=nr6.public_id, group="DX", seq=1),
        {"lock_version": nr6.lock_version, "system": "ICD10CM", "code": "E11.65"},
        **HTMX,
    )
    assert response.status_code == 200
    assert BANNER not in _text(response)
    nr6.refresh_from_db()
    assert nr6.reviewed is True
    assert list(nr6.findings.values_list("kind", flat=True)) == ["REVISED"]


def test_the_list_filters_by_review_state(
    mixed: Audit, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(auditor)
    listed = _url("encounters", audit_id=mixed.public_id)
    ids = re.compile(r"\b(?:HF-1|PNA-2|EM-3|OP-4|NR-5|NR-6)\b")

    def shown(query: str) -> set[str]:
        return set(ids.findall(_text(client.get(f"{listed}?{query}", **HTMX))))

    assert shown("reviewed=no") == {"NR-5", "NR-6"}
    assert shown("reviewed=yes") == {"HF-1", "PNA-2", "EM-3", "OP-4"}
    assert shown("reviewed=") == {"HF-1", "PNA-2", "EM-3", "OP-4", "NR-5", "NR-6"}
    assert "Not reviewed" in _text(client.get(f"{listed}?reviewed=no"))


def test_the_summary_counts_what_remains_not_reviewed(
    mixed: Audit, auditor: User, client_for: ClientFor
) -> None:
    client = client_for(auditor)
    page = client.get(_url("detail", audit_id=mixed.public_id)).content.decode()
    count = re.search(r'id="not-reviewed-count".*?stat-value">(\d+)<', page, flags=re.S)
    assert count is not None
    assert count.group(1) == "2"
    assert "reviewed=no" in page
    for eid in ("NR-5", "NR-6"):
        e = _enc(mixed, eid)
        encounter_mark_reviewed(encounter=e, lock_version=e.lock_version, actor=auditor)
    page = client.get(_url("detail", audit_id=mixed.public_id)).content.decode()
    assert 'id="not-reviewed-count"' not in page
