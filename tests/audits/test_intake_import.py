"""Claims in through the real import path (DESIGN §14): the same encounters arriving as a
workbook, as 837 files, as FHIR and as a billing system's spreadsheet read through a saved
column mapping give identical encounters and code lines in the database; importing a file and importing its conversion give the same; every malformed
837 is refused by `auditcoach import` and by the upload page (checked in the request and
by the background job) with nothing written."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding, ImportJob
from auditcoach.audits.services import import_mapping_save
from auditcoach.intake.mapping import propose
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent.parent / "fixtures"
MALFORMED = sorted((FIXTURES / "x12" / "malformed").iterdir())

# One set of claims (three institutional, three professional) in each format; each arm is
# the files that carry them. The mapped arm is one wide extract (its own column names, US
# dates, "Male"/"IP"), read through the mapping `propose` makes from its names, saved.
ARMS: dict[str, tuple[str, ...]] = {
    "workbook": (
        "x12/expected/837i_two_interchanges",
        "x12/expected/837p_two_transactions",
    ),
    "x12": ("x12/837i_two_interchanges.x12", "x12/837p_two_transactions.x12"),
    "fhir": ("fhir/claims_institutional.json", "fhir/claims_professional.ndjson"),
    "mapped": ("mapped/claims_extract.csv",),
}


def _import(path: Path, org: Organization, audit: str, **options: Any) -> None:
    call_command("import", str(path), org=org.slug, audit=audit, stdout=io.StringIO(), **options)


def _snapshot(audits: list[Audit]) -> list[tuple[Any, ...]]:
    """Every encounter of the audits with its code lines, as plain values."""
    rows = []
    for e in (
        Encounter.objects.filter(audit__in=audits)
        .select_related("facility", "provider")
        .order_by("external_id")
    ):
        lines = tuple(
            CodeLine.objects.filter(encounter=e)
            .order_by("version", "group", "seq")
            .values_list("version", "system", "seq", "code", "poa", "modifiers", "units")
        )
        rows.append(
            (
                e.external_id,
                e.setting,
                e.discharge_date,
                e.age,
                e.sex,
                e.discharge_disposition,
                e.audited_disposition,
                e.billed_drg,
                e.facility.name if e.facility else "",
                e.provider.name if e.provider else "",
                e.payer,
                lines,
            )
        )
    return rows


def _arm(name: str, org: Organization, user: User) -> list[tuple[Any, ...]]:
    audits = []
    for i, source in enumerate(ARMS[name]):
        options: dict[str, Any] = {"allow_duplicates": True}
        if name == "mapped":
            headers = next(csv.reader((FIXTURES / source).open(encoding="utf-8")))
            import_mapping_save(
                organization=org, name="Billing extract", spec=propose(headers), actor=user
            )
            options["mapping"] = "Billing extract"
        _import(FIXTURES / source, org, f"{name} {i}", **options)
        audits.append(Audit.objects.get(organization=org, name=f"{name} {i}"))
    return _snapshot(audits)


def test_every_format_gives_the_same_encounters(org: Organization, auditor: User) -> None:
    snapshots = {name: _arm(name, org, auditor) for name in ARMS}
    reference = snapshots["workbook"]
    assert len(reference) == 6
    assert {row[0] for row in reference} == {
        "IP-1001",
        "IP-1002",
        "OP-2001",
        "PF-3001",
        "PF-3002",
        "PF-3003",
    }
    ip = next(row for row in reference if row[0] == "IP-1001")
    assert ip[7] == "291"
    assert ("original", "ICD10CM", 4, "I10", "1", "", 1) in ip[11]
    for name, snapshot in snapshots.items():
        assert snapshot == reference, name


def test_a_file_and_its_conversion_import_the_same(org: Organization, tmp_path: Path) -> None:
    source = FIXTURES / "x12" / "837i_25_diagnoses.x12"
    call_command("convert", str(source), str(tmp_path / "conv"), stdout=io.StringIO())
    _import(source, org, "837")
    _import(tmp_path / "conv", org, "conversion", allow_duplicates=True)
    a = _snapshot([Audit.objects.get(organization=org, name="837")])
    b = _snapshot([Audit.objects.get(organization=org, name="conversion")])
    assert a == b
    assert len([x for x in a[0][11] if x[0] == "original" and x[1] == "ICD10CM"]) == 25


def _counts(org: Organization, media: Path) -> tuple[int, ...]:
    uploads = media / "imports"
    return (
        Audit.objects.filter(organization=org).count(),
        Encounter.objects.count(),
        CodeLine.objects.count(),
        Finding.objects.count(),
        ImportJob.objects.filter(status=ImportJob.Status.DONE).count(),
        len(list(uploads.iterdir())) if uploads.exists() else 0,
    )


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_cli_refuses_malformed_837(path: Path, org: Organization, settings: Any) -> None:
    before = _counts(org, Path(settings.MEDIA_ROOT))
    with pytest.raises(CommandError) as caught:
        _import(path, org, f"CLI {path.stem}")
    assert caught.value.returncode == 2
    message = str(caught.value)
    assert message.startswith("the file was rejected; nothing was imported:")
    assert f"{path.name}" in message
    assert "Traceback" not in message
    assert _counts(org, Path(settings.MEDIA_ROOT)) == before


@pytest.mark.parametrize("where", ["request", "worker"])
@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_upload_refuses_malformed_837(
    path: Path,
    where: str,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    if where == "worker":  # every file counts as large: the background job checks it
        settings.IMPORT_CHECK_IN_REQUEST_BYTES = 0
    media = Path(settings.MEDIA_ROOT)
    before = _counts(org, media)
    client = client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("audits:import", kwargs={"org_slug": org.slug}),
            {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "Bad claims"},
        )
    if where == "request":
        assert response.status_code == 200
        page = response.content.decode()
    else:
        assert response.status_code == 302
        job = ImportJob.objects.get(organization=org, name="Bad claims")
        assert job.status == ImportJob.Status.FAILED, job.error
        assert job.problems["total"] >= 1
        page = client.get(response["Location"], follow=True).content.decode()
    assert "problems-title" in page
    assert "Traceback" not in page
    assert _counts(org, media) == before


@pytest.mark.parametrize(
    "source", ["x12/837i_two_interchanges.x12", "fhir/claims_professional.ndjson"]
)
@pytest.mark.parametrize("where", ["request", "worker"])
def test_upload_imports_claims(
    source: str,
    where: str,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    if where == "worker":
        settings.IMPORT_CHECK_IN_REQUEST_BYTES = 0
    path = FIXTURES / source
    client = client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("audits:import", kwargs={"org_slug": org.slug}),
            {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "Claims"},
        )
    assert response.status_code == 302
    job = ImportJob.objects.get(organization=org, name="Claims")
    assert job.status == ImportJob.Status.DONE, job.error
    assert job.audit is not None
    assert Encounter.objects.filter(audit=job.audit).count() == 3
    assert not Path(job.path).exists()
    # A second upload of the same claims waits on its duplicates, as a workbook does.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("audits:import", kwargs={"org_slug": org.slug}),
            {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "Again"},
        )
    again = ImportJob.objects.get(organization=org, name="Again")
    assert again.status == ImportJob.Status.WAITING
    assert again.duplicates["count"] == 3


def test_cli_format_option(org: Organization, tmp_path: Path) -> None:
    # .txt says X12; --format fhir overrides the name.
    path = tmp_path / "claims.txt"
    path.write_bytes((FIXTURES / "fhir" / "claims_professional.ndjson").read_bytes())
    with pytest.raises(CommandError) as caught:
        _import(path, org, "Detected")
    assert "is not an X12 file" in str(caught.value)
    _import(path, org, "Forced", format="fhir")
    audit = Audit.objects.get(organization=org, name="Forced")
    assert Encounter.objects.filter(audit=audit).count() == 3


def test_a_claims_file_above_its_own_threshold_is_checked_by_the_worker(
    client_for: ClientFor, auditor: User, org: Organization, settings: Any
) -> None:
    # pyx12 is slow: claims files have a lower in-request threshold than workbooks.
    path = FIXTURES / "x12" / "837p_two_transactions.x12"
    settings.IMPORT_CHECK_CLAIMS_IN_REQUEST_BYTES = path.stat().st_size - 1
    client = client_for(auditor)
    response = client.post(
        reverse("audits:import", kwargs={"org_slug": org.slug}),
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "Deferred"},
    )
    assert response.status_code == 302
    job = ImportJob.objects.get(organization=org, name="Deferred")
    assert (job.status, job.encounters) == (ImportJob.Status.CHECKING, 0)
    assert AuditLogEntry.objects.filter(action="import.check").count() == 1


def test_a_claims_file_above_the_claims_cap_is_refused_by_the_form_and_the_reader(
    client_for: ClientFor, auditor: User, org: Organization, settings: Any
) -> None:
    """Claims are read whole into memory (about 40 times their size), so they have a cap of
    their own below the upload's: the form refuses a larger one before saving it, and the
    reader (the worker, the command line) refuses it too, counting the bytes it reads."""
    path = FIXTURES / "x12" / "837p_two_transactions.x12"
    settings.IMPORT_MAX_CLAIMS_BYTES = path.stat().st_size - 1
    response = client_for(auditor).post(
        reverse("audits:import", kwargs={"org_slug": org.slug}),
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), "name": "Too big"},
    )
    assert response.status_code == 200
    assert "Split the claims into smaller files." in response.content.decode()
    assert not ImportJob.objects.exists()
    with pytest.raises(CommandError, match="the most that can be read; split the claims"):
        _import(path, org, "Too big")
    assert not Audit.objects.filter(organization=org).exists()
