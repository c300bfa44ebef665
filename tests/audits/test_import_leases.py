"""Import jobs survive their worker: the lease, the reaper, the import lock (docs/operations.md).

The end-to-end proof, a real worker killed mid-import on SQLite and PostgreSQL, is in
tests/ops/test_worker_survives.py; these pin the rules in one process.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits import services
from auditcoach.audits.leases import import_lease, lease_alive, lease_get, lease_key
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding, ImportJob
from auditcoach.audits.services import (
    IMPORT_BUSY_MESSAGE,
    IMPORT_STALLED_MESSAGE,
    ImportBusy,
    audit_import,
    import_job_create,
    import_job_run,
    import_jobs_reap,
)
from auditcoach.engine.workbook import read_workbook
from tests.conftest import ClientFor

pytestmark = pytest.mark.django_db

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def _upload(tmp: Path) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports" / f"upload-{tmp.name}" / "workbook"
    folder.mkdir(parents=True)
    for name in ("encounters.csv", "codes.csv"):
        shutil.copy(WORKED / name, folder / name)
    return folder


def _job(org: Organization, user: User, tmp: Path, *, checked: bool = True) -> ImportJob:
    path = _upload(tmp)
    return import_job_create(
        organization=org,
        path=path,
        workbook=read_workbook(path) if checked else None,
        name="Q3",
        cycle="",
        released=False,
        actor=user,
    )


def _running(job: ImportJob, *, minutes_ago: float) -> None:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=started)


def _nothing_imported(org: Organization) -> bool:
    return not any(
        m.objects.filter(organization=org).exists() for m in (Audit, Encounter, CodeLine, Finding)
    )


def test_a_job_holds_its_lease_while_it_runs_and_drops_it_after(
    org: Organization, auditor: User, tmp_path: Path
) -> None:
    job = _job(org, auditor, tmp_path)
    with import_lease(job) as holder:
        lease = lease_get(job)
        assert lease is not None
        assert not lease["waiting"]
        assert lease_alive(job)
        holder.waiting = True
    assert lease_get(job) is None
    job = import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.DONE
    assert cache.get(lease_key(job)) is None


def test_a_running_job_whose_lease_lapsed_is_marked_stalled_and_its_upload_removed(
    org: Organization, auditor: User, tmp_path: Path
) -> None:
    job = _job(org, auditor, tmp_path)
    folder = Path(job.path).parent
    _running(job, minutes_ago=10)  # as a killed worker leaves it: running, no lease
    reaped = import_jobs_reap()
    assert [j.pk for j in reaped] == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALLED
    assert job.error == IMPORT_STALLED_MESSAGE
    assert job.finished
    assert job.finished_at is not None
    assert not folder.exists()
    entry = AuditLogEntry.objects.get(action="import.stalled")
    assert (entry.organization_id, entry.object_id) == (org.pk, str(job.public_id))
    assert import_jobs_reap() == []  # once


def test_a_live_lease_or_a_fresh_start_is_left_alone(
    org: Organization, auditor: User, tmp_path: Path
) -> None:
    job = _job(org, auditor, tmp_path)
    _running(job, minutes_ago=10)
    cache.set(lease_key(job), {"at": time.time(), "host": "h", "pid": 1, "waiting": False})
    assert import_jobs_reap() == []
    cache.set(lease_key(job), {"at": time.time() - 3600.0, "host": "h", "pid": 1, "waiting": False})
    assert [j.pk for j in import_jobs_reap()] == [job.pk]

    fresh = _job(org, auditor, tmp_path / "fresh")
    _running(fresh, minutes_ago=0)  # started just now: its first beat may be on its way
    assert import_jobs_reap() == []
    fresh.refresh_from_db()
    assert fresh.status == ImportJob.Status.RUNNING


def test_a_job_marked_stalled_while_it_still_ran_rolls_its_import_back(
    org: Organization, auditor: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's success commits with its audit, guarded by its state: a worker that was
    only slow (its job taken for stalled meanwhile) writes nothing, so the page's "stalled,
    nothing was written" stays true."""
    job = _job(org, auditor, tmp_path)
    read = services.read_upload

    def read_then_lose_the_job(*args: Any, **kwargs: Any) -> Any:
        workbook = read(*args, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.STALLED)
        return workbook

    monkeypatch.setattr(services, "read_upload", read_then_lose_the_job)
    job = import_job_run(job_id=job.pk)
    assert job.status == ImportJob.Status.STALLED
    assert job.audit is None
    assert _nothing_imported(org)


def test_the_job_page_says_a_stalled_import_stopped_and_wrote_nothing(
    client_for: ClientFor, org: Organization, auditor: User, tmp_path: Path
) -> None:
    job = _job(org, auditor, tmp_path)
    _running(job, minutes_ago=10)
    address = reverse("audits:import_job", kwargs={"org_slug": org.slug, "job_id": job.public_id})
    response = client_for(auditor).get(address)
    assert response.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    assert "This import stopped: the background worker stopped while it was importing." in text
    assert "nothing was written, and the uploaded file was removed" in text
    assert "Upload again" in text
    assert 'hx-trigger="every 1s"' not in response.content.decode()  # no more polling
    job.refresh_from_db()
    assert job.status == ImportJob.Status.STALLED


def test_a_job_waiting_its_turn_says_so(
    client_for: ClientFor, org: Organization, auditor: User, tmp_path: Path
) -> None:
    job = _job(org, auditor, tmp_path)
    _running(job, minutes_ago=0)
    cache.set(lease_key(job), {"at": time.time(), "host": "h", "pid": 1, "waiting": True})
    address = reverse("audits:import_job", kwargs={"org_slug": org.slug, "job_id": job.public_id})
    text = client_for(auditor).get(address).content.decode()
    assert "Waiting for another import to finish" in text


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_on_postgresql_an_import_into_an_organization_another_import_holds_is_refused(
    org: Organization, other_org: Organization, auditor: User, tmp_path: Path, settings: Any
) -> None:
    """The other import is a second session holding the organization's import lock; the
    job gives up at once (IMPORT_WAIT_SECONDS=0) with the busy message, nothing written,
    while another organization imports as usual."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)", [services._IMPORT_LOCK_NAMESPACE, org.pk % 2**31]
        )
        workbook = read_workbook(WORKED)
        with pytest.raises(ImportBusy):
            audit_import(organization=org, workbook=workbook, name="Busy")
        settings.IMPORT_WAIT_SECONDS = 0
        job = import_job_run(job_id=_job(org, auditor, tmp_path).pk)
        assert (job.status, job.error) == (ImportJob.Status.FAILED, IMPORT_BUSY_MESSAGE)
        assert _nothing_imported(org)
        assert audit_import(organization=other_org, workbook=workbook, name="Elsewhere")
