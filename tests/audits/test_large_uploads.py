"""Large uploads: the request saves the file and runs the zip guard; the background job
reads and validates it, waits on duplicates like a small upload, or fails with its
problems listed by sheet, row and column. Uploads past the cap are refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter, ImportJob
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"audits:{name}", kwargs={"org_slug": "north-health", **kwargs})


def _zip(files: dict[str, bytes], name: str = "audit.zip") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, content in files.items():
            zf.writestr(member, content)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def _worked() -> SimpleUploadedFile:
    return _zip(
        {
            "encounters.csv": (WORKED / "encounters.csv").read_bytes(),
            "codes.csv": (WORKED / "codes.csv").read_bytes(),
        }
    )


def _text(response: Any) -> str:
    import re

    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def large(settings: Any) -> None:
    settings.IMPORT_CHECK_IN_REQUEST_BYTES = 100  # every test upload counts as large


def test_a_large_upload_is_checked_by_the_worker_then_imported(
    large: None,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(auditor)
    response = client.post(url("import"), {"file": _worked(), "name": "Large"})
    job = ImportJob.objects.get(organization=org, name="Large")
    # The request only saved it: nothing read, the job is checking, and says so.
    assert response.status_code == 302
    assert (job.status, job.encounters) == (ImportJob.Status.CHECKING, 0)
    assert Path(job.path).exists()
    page = _text(client.get(response["Location"]))
    assert "Waiting to check the file…" in page
    assert AuditLogEntry.objects.filter(action="import.check").count() == 1

    from auditcoach.audits.services import import_job_run

    job = import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE
    assert job.encounters == Encounter.objects.filter(audit__name="Large").count() > 0
    assert not Path(job.path).exists()


def test_the_checking_page_says_what_is_happening(
    large: None, client_for: ClientFor, auditor: User, org: Organization
) -> None:
    client = client_for(auditor)
    client.post(url("import"), {"file": _worked(), "name": "Large"})
    job = ImportJob.objects.get(organization=org, name="Large")
    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now())
    page = _text(client.get(url("import_job", job_id=job.public_id)))
    assert "Checking the file… every row of every sheet is read and checked" in page
    assert "This file is large, so it is checked in the background." in page
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, encounters=5)
    page = _text(client.get(url("import_job", job_id=job.public_id)))
    assert "Importing… writing encounters, code lines and findings" in page


def test_a_large_upload_with_problems_fails_with_them_listed(
    large: None,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    django_capture_on_commit_callbacks: Any,
) -> None:
    encounters = (
        b"encounter_id,setting,discharge_date\nE1,inpatient,2026-05-14\nE2,surgery,1899-01-01\n"
    )
    codes = b"encounter_id,version,system,seq,code\nE1,original,ICD10CM,1,I50.9\n"
    client = client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("import"),
            {"file": _zip({"encounters.csv": encounters, "codes.csv": codes}), "name": "Bad"},
        )
    job = ImportJob.objects.get(organization=org, name="Bad")
    assert job.status == ImportJob.Status.FAILED
    assert job.problems["total"] == 2
    assert job.problems["rows"][0][:3] == ["encounters.csv", 3, "setting"]
    page = _text(client.get(response["Location"]))
    assert "The workbook has 2 problems; nothing was imported." in page
    assert "encounters.csv 3 setting must be inpatient, outpatient or profee" in page
    assert "encounters.csv 3 discharge_date must be from 1990-01-01" in page
    assert not Audit.objects.exists()
    assert not Path(job.path).exists()


def test_a_large_upload_that_repeats_encounters_waits_for_a_decision(
    large: None,
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import"), {"file": _worked(), "name": "First"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import"), {"file": _worked(), "name": "Second"})
    job = ImportJob.objects.get(organization=org, name="Second")
    assert job.status == ImportJob.Status.WAITING
    assert job.duplicates["count"] == Encounter.objects.filter(audit__name="First").count()
    assert Path(job.path).exists()  # kept for "Import anyway"
    page = _text(client.get(response["Location"]))
    assert "Import anyway" in page
    assert AuditLogEntry.objects.filter(action="import.hold", object_id=str(job.public_id)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import_confirm", job_id=job.public_id))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Audit.objects.filter(organization=org, name="Second").exists()


def test_the_zip_guard_runs_in_the_request_for_large_files(
    large: None, client_for: ClientFor, auditor: User, org: Organization, settings: Any
) -> None:
    bomb = _zip({"encounters.csv": b"\0" * (20 * 1024 * 1024), "codes.csv": b""})
    response = client_for(auditor).post(url("import"), {"file": bomb, "name": "Bomb"})
    assert response.status_code == 200
    assert "a decompression bomb" in _text(response)
    assert not ImportJob.objects.exists()
    assert list((Path(settings.MEDIA_ROOT) / "imports").iterdir()) == []


def test_an_upload_past_the_cap_is_refused(
    client_for: ClientFor, auditor: User, org: Organization, settings: Any
) -> None:
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024 * 1024
    upload = SimpleUploadedFile("big.xlsx", b"PK" + b"\0" * (2 * 1024 * 1024))
    response = client_for(auditor).post(url("import"), {"file": upload, "name": "Big"})
    assert response.status_code == 200
    assert "This file is 2.0 MB; at most 1 MB can be uploaded." in _text(response)
    assert not ImportJob.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists()
