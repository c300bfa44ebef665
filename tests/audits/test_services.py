"""The audits services: import, derivation stored for SQL, edits with optimistic locking."""

import shutil
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.accounts.models import Coder, Facility, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits import selectors
from auditcoach.audits.bulk import RowWriter
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.services import (
    AuditedLine,
    ConflictError,
    audit_import,
    encounter_audited_update,
    finding_annotate,
)
from auditcoach.engine.workbook import read_workbook

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked_audit(org: Organization, auditor: User) -> Audit:
    return audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )


def test_import_stores_encounters_lines_findings_and_roster(
    worked_audit: Audit, org: Organization
) -> None:
    assert worked_audit.cycle == "2026-Q2"  # from the workbook's audit_cycle column
    assert worked_audit.encounters.count() == 4
    assert CodeLine.objects.filter(encounter__audit=worked_audit).count() == 25
    hf1 = Encounter.objects.get(audit=worked_audit, external_id="HF-1")
    assert (hf1.original_drg, hf1.audited_drg) == ("292", "259")
    assert [f.kind for f in hf1.findings.order_by("position")] == [
        "REVISED",
        "DELETED",
        "ADDED",
        "DRG_CHANGED",
    ]
    assert set(Coder.objects.filter(organization=org).values_list("name", flat=True)) >= {
        "coder.ana",
        "coder.ben",
    }
    assert Finding.objects.filter(encounter__audit=worked_audit, status="draft").count() == 13
    assert AuditLogEntry.objects.filter(action="audit.import", organization=org).count() == 1


def test_sql_pooled_scores_equal_the_engine_ones(worked_audit: Audit, org: Organization) -> None:
    # The same pooled numbers as `auditcoach score` (fixtures/worked/expected.json), but summed
    # by the database over the stored per-encounter counts.
    s = selectors.audit_scores(organization=org, audit=worked_audit)
    assert (s.code_accuracy["DX"].successes, s.code_accuracy["DX"].n) == (5, 8)
    assert (s.union_accuracy["DX"].successes, s.union_accuracy["DX"].n) == (5, 9)
    assert s.code_accuracy["PX"].value == 0.0
    assert s.code_accuracy["LINE"].value == 0.5
    assert s.poa_accuracy.value == 0.75
    assert s.drg_accuracy.value == 0.0
    assert s.em_accuracy.value == 0.0
    assert s.em_overcoded == 1
    assert s.record_accuracy.value == 0.0


def test_facility_base_rate_prices_the_drg_change(org: Organization) -> None:
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    audit = audit_import(organization=org, workbook=read_workbook(WORKED), name="Priced")
    s = selectors.audit_scores(organization=org, audit=audit)
    assert s.financial_impact == Decimal("7487.35")


def test_released_import_and_explicit_cycle(org: Organization) -> None:
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Old", cycle="2025-Q4", released=True
    )
    assert audit.cycle == "2025-Q4"
    assert audit.status == Audit.Status.RELEASED
    findings = Finding.objects.filter(encounter__audit=audit)
    assert findings.exclude(status="released").count() == 0
    assert findings.filter(released_at__isnull=True).count() == 0
    encounters = Encounter.objects.filter(audit=audit)
    assert set(encounters.values_list("cycle", flat=True)) == {"2025-Q4"}
    assert encounters.filter(released_at__isnull=True).count() == 0


def test_each_encounter_keeps_its_own_cycle(org: Organization, tmp_path: Path) -> None:
    """A workbook spanning cycles: the encounters keep theirs (the §8 unit), the audit is
    labelled with the latest, and an encounter without one takes the audit's."""
    shutil.copytree(WORKED, tmp_path / "wb")
    path = tmp_path / "wb" / "encounters.csv"
    rows = path.read_text().splitlines()
    rows[1] = rows[1].rsplit(",", 1)[0] + ",2026-Q1"  # HF-1
    rows[2] = rows[2].rsplit(",", 1)[0] + ","  # PNA-2: no cycle
    path.write_text("\n".join(rows) + "\n")
    audit = audit_import(organization=org, workbook=read_workbook(tmp_path / "wb"), name="Mixed")
    assert audit.cycle == "2026-Q2"
    cycles = dict(Encounter.objects.filter(audit=audit).values_list("external_id", "cycle"))
    assert cycles["HF-1"] == "2026-Q1"
    assert cycles["PNA-2"] == "2026-Q2"
    assert cycles["EM-3"] == "2026-Q2"
    assert not Encounter.objects.filter(audit=audit, released_at__isnull=False).exists()


def test_other_organizations_cannot_reach_the_audit(
    worked_audit: Audit, other_org: Organization
) -> None:
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.audit_get(organization=other_org, public_id=worked_audit.public_id)


def _audited(encounter: Encounter) -> list[AuditedLine]:
    from auditcoach.engine.codes import normalize_modifiers

    _, audited = selectors.code_lines(encounter=encounter)
    return [
        AuditedLine(r.system, r.code, r.poa, normalize_modifiers(r.modifiers), r.units)
        for r in audited
    ]


def test_editing_the_audited_version_rederives_and_keeps_notes(
    worked_audit: Audit, auditor: User
) -> None:
    hf1 = Encounter.objects.get(audit=worked_audit, external_id="HF-1")
    revised = hf1.findings.get(kind="REVISED")
    finding_annotate(
        finding=revised,
        error_category="Specificity",
        root_cause="KNOWLEDGE_GAP",
        rationale="Acute on chronic documented.",
        actor=auditor,
    )
    lines = _audited(hf1)
    lines.append(AuditedLine("ICD10CM", "J9601", "Y"))  # the auditor adds acute respiratory failure
    encounter_audited_update(
        encounter=hf1, lock_version=hf1.lock_version, lines=lines, actor=auditor
    )
    hf1.refresh_from_db()
    kinds = [f.kind for f in hf1.findings.order_by("position")]
    assert kinds == ["REVISED", "DELETED", "ADDED", "ADDED", "DRG_CHANGED"]
    assert hf1.dx_added == 1
    assert hf1.lock_version == 2
    kept = hf1.findings.get(kind="REVISED")
    assert kept.pk == revised.pk
    assert kept.rationale == "Acute on chronic documented."
    assert AuditLogEntry.objects.filter(action="encounter.audited_update").count() == 1


def test_a_stale_edit_is_refused_and_loses_nothing(
    worked_audit: Audit, auditor: User, manager: User
) -> None:
    hf1 = Encounter.objects.get(audit=worked_audit, external_id="HF-1")
    loaded_version = hf1.lock_version
    first = [*_audited(hf1), AuditedLine("ICD10CM", "E1165")]
    encounter_audited_update(encounter=hf1, lock_version=loaded_version, lines=first, actor=auditor)
    second = [*_audited(hf1)[:1]]
    with pytest.raises(ConflictError):
        encounter_audited_update(
            encounter=hf1, lock_version=loaded_version, lines=second, actor=manager
        )
    assert "E1165" in [line.code for line in _audited(hf1)]


def test_import_command_and_atomic_failure(
    org: Organization, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("import", str(WORKED), "--org", org.slug, "--audit", "Via CLI", "--released")
    assert Audit.objects.get(name="Via CLI").status == "released"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "encounters.csv").write_text((WORKED / "encounters.csv").read_text())
    (bad / "codes.csv").write_text((WORKED / "codes.csv").read_text().replace(",1\n", ",-1\n", 1))
    before = (
        Audit.objects.count(),
        Encounter.objects.count(),
        CodeLine.objects.count(),
        AuditLogEntry.objects.count(),
    )
    with pytest.raises(CommandError) as info:
        call_command("import", str(bad), "--org", org.slug, "--audit", "Bad")
    assert info.value.returncode == 2
    assert "units" in str(info.value)
    after = (
        Audit.objects.count(),
        Encounter.objects.count(),
        CodeLine.objects.count(),
        AuditLogEntry.objects.count(),
    )
    assert after == before


def test_import_failure_midway_rolls_back(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The findings are written last, after the encounters and code lines of their batch.
    insert = RowWriter.insert

    def boom(self: RowWriter, rows: Iterable[Sequence[object]]) -> int:
        if self.table == Finding._meta.db_table:
            raise RuntimeError("disk full")
        return insert(self, rows)

    monkeypatch.setattr(RowWriter, "insert", boom)
    with pytest.raises(RuntimeError):
        audit_import(organization=org, workbook=read_workbook(WORKED), name="Half")
    assert not Audit.objects.filter(name="Half").exists()
    assert Encounter.objects.filter(external_id="HF-1").count() == 0
    assert CodeLine.objects.count() == 0


def test_a_failing_background_import_records_why_and_writes_nothing(
    org: Organization, auditor: User, tmp_path: Path
) -> None:
    from auditcoach.audits.models import ImportJob
    from auditcoach.audits.services import import_job_run

    folder = tmp_path / "upload-1" / "worked"
    shutil.copytree(WORKED, folder)
    workbook = read_workbook(folder)
    (folder / "codes.csv").write_text("encounter_id\n")  # changed after it was validated
    job = ImportJob.objects.create(
        organization=org, name="Changed", path=str(folder), encounters=len(workbook.encounters)
    )
    job = import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.FAILED
    assert "codes.csv" in job.error
    assert job.finished_at is not None
    assert not Audit.objects.filter(name="Changed").exists()
    # Running the same job again does nothing (a retried task must not import twice).
    assert import_job_run(job_id=job.pk).status == ImportJob.Status.FAILED


def _racing_roster(losses: int) -> Any:
    """A `roster_get_or_create_many` that, `losses` times, misses the coders a concurrent
    import has just committed and inserts them again, as the losing side of a race does."""
    from auditcoach.accounts import services as account_services

    calls = {"left": losses}

    def racing(*, organization: Organization, model: Any, names: Any, actor: Any = None) -> Any:
        wanted = sorted({n for n in names if n})
        if calls["left"] and model is Coder and wanted:
            calls["left"] -= 1
            model.objects.bulk_create([model(organization=organization, name=n) for n in wanted])
        return account_services.roster_get_or_create_many(
            organization=organization, model=model, names=wanted, actor=actor
        )

    return racing


@pytest.mark.parametrize(
    ("losses", "status"), [(1, "done"), (3, "failed")], ids=["retried", "gives-up"]
)
def test_a_background_import_that_loses_a_roster_race_retries_then_says_so(
    org: Organization, auditor: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    losses: int, status: str,
) -> None:  # fmt: skip
    from auditcoach.audits import services
    from auditcoach.audits.models import ImportJob

    folder = tmp_path / "upload-1" / "worked"
    shutil.copytree(WORKED, folder)
    workbook = read_workbook(folder)
    # The other import's coders, committed first.
    for name in {e.coder for e in workbook.encounters if e.coder}:
        Coder.objects.create(organization=org, name=name)
    monkeypatch.setattr(services, "roster_get_or_create_many", _racing_roster(losses))
    job = ImportJob.objects.create(
        organization=org, name="Raced", path=str(folder), encounters=len(workbook.encounters)
    )
    job = services.import_job_run(job_id=job.pk)
    assert job.status == status
    if status == "failed":
        assert job.error == services.IMPORT_RACE_MESSAGE
        assert not Audit.objects.filter(name="Raced").exists()
        assert Encounter.objects.count() == 0
    else:
        assert Audit.objects.get(name="Raced").encounters.count() == len(workbook.encounters)


def test_the_cli_import_that_loses_a_roster_race_says_to_try_again(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditcoach.audits import services

    workbook = read_workbook(WORKED)
    for name in {e.coder for e in workbook.encounters if e.coder}:
        Coder.objects.create(organization=org, name=name)
    monkeypatch.setattr(services, "roster_get_or_create_many", _racing_roster(1))
    with pytest.raises(CommandError, match="Another import was writing") as refused:
        call_command("import", str(WORKED), "--org", org.slug, "--audit", "Raced")
    assert refused.value.returncode == 2
    assert not Audit.objects.filter(name="Raced").exists()
