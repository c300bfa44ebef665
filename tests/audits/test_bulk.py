"""The import writes plain tuples (audits.bulk): the rows must be exactly what the model
objects and `bulk_create` wrote before, every default applied."""

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from auditcoach.accounts.models import Coder, Facility, Organization, Provider, ServiceLine, User
from auditcoach.audits.bulk import RowWriter
from auditcoach.audits.conversions import code_line_row, derived_fields, finding_row
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding
from auditcoach.audits.services import (
    CODE_LINE_FIELDS,
    ENCOUNTER_FIELDS,
    FINDING_FIELDS,
    audit_import,
    encounter_derive,
)
from auditcoach.engine.workbook import Workbook, read_workbook

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"

pytestmark = pytest.mark.django_db

# Differ by construction between two imports: ids, public ids, the import's time.
SKIP = {"id", "public_id", "audit", "encounter", "created_at", "updated_at", "released_at"}


def _reference_import(
    organization: Organization, workbook: Workbook, *, name: str, released: bool
) -> Audit:
    """The previous write path of `audit_import`: model objects and `bulk_create`."""
    now = timezone.now()
    audit = Audit.objects.create(organization=organization, name=name)

    def roster(model: type[models.Model]) -> dict[str, Any]:
        return {r.name: r for r in model.objects.filter(organization=organization)}  # type: ignore[attr-defined]

    facilities, lines_, providers, coders = (
        roster(m) for m in (Facility, ServiceLine, Provider, Coder)
    )
    auditors = {u.username: u for u in User.objects.all()}
    cycles = {e.audit_cycle for e in workbook.encounters if e.audit_cycle}
    audit_cycle = sorted(cycles)[-1] if cycles else ""
    rows, results = [], []
    for e in workbook.encounters:
        facility = facilities.get(e.facility)
        result = encounter_derive(e, base_rate=facility.base_rate if facility else None)
        results.append(result)
        rows.append(
            Encounter(
                organization=organization, audit=audit, external_id=e.encounter_id,
                setting=e.setting, discharge_date=e.discharge_date, age=e.age,
                sex=e.sex or "", discharge_disposition=e.discharge_disposition or "",
                audited_disposition=e.audited_disposition or "",
                billed_drg=e.billed_drg or "", facility=facility,
                service_line=lines_.get(e.service_line), provider=providers.get(e.provider),
                coder=coders.get(e.coder), auditor=auditors.get(e.auditor),
                auditor_name=e.auditor, payer=e.payer, cycle=e.audit_cycle or audit_cycle,
                released_at=now if released else None,
                review_status=Encounter.ReviewStatus.DONE
                if released
                else Encounter.ReviewStatus.TO_DO,
                **derived_fields(result),
            )
        )  # fmt: skip
    Encounter.objects.bulk_create(rows)
    lines, findings = [], []
    for row, e, result in zip(rows, workbook.encounters, results, strict=True):
        lines += [code_line_row(x, encounter=row, version="original") for x in e.original]
        lines += [code_line_row(x, encounter=row, version="audited") for x in e.audited]
        for position, f in enumerate(result.findings):
            finding = finding_row(f, encounter=row, position=position)
            if released:
                finding.status = Finding.Status.RELEASED
                finding.released_at = now
            findings.append(finding)
    CodeLine.objects.bulk_create(lines)
    Finding.objects.bulk_create(findings)
    return audit


def _columns(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in SKIP]


def _rows(audit: Audit) -> dict[str, list[dict[str, Any]]]:
    return {
        "encounter": list(
            Encounter.objects.filter(audit=audit)
            .order_by("external_id")
            .values(*_columns(Encounter))
        ),
        "codeline": list(
            CodeLine.objects.filter(encounter__audit=audit)
            .order_by("encounter__external_id", "version", "group", "seq")
            .values("encounter__external_id", *_columns(CodeLine))
        ),
        "finding": list(
            Finding.objects.filter(encounter__audit=audit)
            .order_by("encounter__external_id", "position")
            .values("encounter__external_id", *_columns(Finding))
        ),
    }


@pytest.mark.parametrize("released", [False, True])
def test_the_import_writes_the_rows_bulk_create_wrote(
    org: Organization, auditor: User, released: bool
) -> None:
    Facility.objects.create(organization=org, name="North", base_rate="6500.00")  # decimals
    workbook = read_workbook(WORKED)
    before = timezone.now()
    audit = audit_import(
        organization=org, workbook=workbook, name="Tuples", released=released, actor=auditor
    )
    reference = _reference_import(org, workbook, name="Objects", released=released)
    new, old = _rows(audit), _rows(reference)
    assert [len(new[k]) for k in new] == [4, 25, 13]
    assert any(r["original_rw"] is not None for r in new["finding"])
    assert any(r["financial_impact"] is not None for r in new["encounter"])
    for table in new:
        assert new[table] == old[table], table

    # What differs by construction is still set as the model sets it.
    for model in (Encounter, Finding):
        stored = model.objects.filter(
            **({"audit": audit} if model is Encounter else {"encounter__audit": audit})
        )
        public_ids = [r.public_id for r in stored]
        assert all(isinstance(p, uuid.UUID) and p.version == 4 for p in public_ids)
        assert len(set(public_ids)) == len(public_ids)
        for r in stored:
            assert isinstance(r.updated_at, datetime)
            assert r.updated_at >= before
            if model is Finding:
                assert r.created_at == r.updated_at
                assert r.em_leveling == {}
                assert r.active is True
            assert (r.released_at is not None) == released
            assert r.released_at is None or r.released_at >= before


@pytest.mark.parametrize(
    ("model", "fields"),
    [(Encounter, ENCOUNTER_FIELDS), (CodeLine, CODE_LINE_FIELDS), (Finding, FINDING_FIELDS)],
)
def test_the_writers_cover_every_column(model: type[models.Model], fields: tuple[str]) -> None:
    # A field added to the model either is in the tuples or gets its default.
    writer = RowWriter(model, fields, now=timezone.now())
    assert writer.columns == [f.column for f in model._meta.concrete_fields if not f.primary_key]


def test_a_field_the_model_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fields"):
        RowWriter(CodeLine, ("code", "colour"), now=timezone.now())
