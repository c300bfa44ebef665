"""The audit lifecycle: deleting an audit never released, archiving a released one, and
encounters an upload repeats from another audit (CLI and upload page)."""

import csv
import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits import selectors
from auditcoach.audits.models import Audit, CodeLine, Encounter, Finding, ImportJob
from auditcoach.audits.services import (
    DELETED_WITH_AUDIT,
    AuditLifecycleError,
    audit_archive,
    audit_delete,
    audit_import,
    audit_unarchive,
)
from auditcoach.coaching.models import Attachment, Comment, FindingEvent
from auditcoach.coaching.services import attachment_add, audit_release, comment_add
from auditcoach.education.models import EducationAssignment, FollowUpReview
from auditcoach.engine.workbook import read_workbook
from auditcoach.overreads.models import CalibrationSet, Overread, OverreadLine, OverreadPlan
from tests.conftest import AssertTenancy, ClientFor
from tests.overreads.builders import make_auditor, make_done_overread

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"audits:{name}", kwargs={"org_slug": "north-health", **kwargs})


def text(response: Any) -> str:
    import re

    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _import(org: Organization, name: str, actor: User | None = None, **kwargs: Any) -> Audit:
    return audit_import(
        organization=org, workbook=read_workbook(WORKED), name=name, actor=actor, **kwargs
    )


def _rows_of(audit: Audit) -> dict[str, int]:
    return {
        "encounters": Encounter.objects.filter(audit=audit).count(),
        "code_lines": CodeLine.objects.filter(encounter__audit=audit).count(),
        "findings": Finding.objects.filter(encounter__audit=audit).count(),
        "events": FindingEvent.objects.filter(finding__encounter__audit=audit).count(),
    }


@pytest.fixture
def draft(org: Organization, auditor: User) -> Audit:
    return _import(org, "Draft Q2", auditor, cycle="2026-Q2")


@pytest.fixture
def released(org: Organization, auditor: User) -> Audit:
    return _import(org, "Released Q1", auditor, cycle="2026-Q1", released=True)


# --------------------------------------------------------------------------- delete


def test_every_relation_into_an_audit_is_handled_by_delete() -> None:
    # A new FK or M2M into Audit, Encounter or Finding must be decided in `audit_delete`
    # (and listed in DELETED_WITH_AUDIT) before this passes again.
    targets = {apps.get_model("audits", m) for m in ("Audit", "Encounter", "Finding")}
    found = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields(include_hidden=True):
            if field.concrete and field.is_relation and field.related_model in targets:
                if field.many_to_many:
                    continue  # the auto-created through table's FKs are listed instead
                found.add((model._meta.label, field.name))
    assert found == DELETED_WITH_AUDIT


def test_deleting_a_draft_removes_everything_of_it_and_nothing_else(
    org: Organization,
    draft: Audit,
    released: Audit,
    auditor: User,
    manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Everything that can hang off a draft audit's rows.
    finding = Finding.objects.filter(encounter__audit=draft).first()
    assert finding is not None
    comment = comment_add(finding=finding, actor=auditor, text="Check the echo report.")
    comment_add(finding=finding, actor=manager, text="Agreed.", parent=comment)
    upload = SimpleUploadedFile("note.txt", b"synthetic excerpt", content_type="text/plain")
    attachment = attachment_add(finding=finding, actor=auditor, upload=upload)
    stored = Path(attachment.file.path)
    assert stored.exists()
    hf1 = Encounter.objects.get(audit=draft, external_id="HF-1")
    second = make_auditor(org, "auditor2", "Bea", "Second")
    plan = OverreadPlan.objects.create(organization=org, auditor=auditor, cycle="2026-Q2", share=10)
    make_done_overread(plan, hf1, second, ("I10",))
    calibration = CalibrationSet.objects.create(organization=org, name="Set")
    calibration.encounters.add(hf1)
    coder = Coder.objects.get(organization=org, name="coder.ana")
    education = EducationAssignment.objects.create(
        organization=org,
        coder=coder,
        topic="CHF",
        resource_title="CHF",
        due_date=date(2026, 9, 1),
    )
    education.findings.add(finding)
    kept_encounter = Encounter.objects.get(audit=released, external_id="HF-1")
    followup = FollowUpReview.objects.create(
        organization=org,
        coder=coder,
        n_encounters=2,
        status=FollowUpReview.Status.CREATED,
        audit=draft,
    )
    followup.encounters.add(hf1, kept_encounter)
    ImportJob.objects.create(organization=org, name="Draft Q2", path="/nowhere", audit=draft)
    before_released = _rows_of(released)
    expected = _rows_of(draft)
    log_before = AuditLogEntry.objects.filter(obj_id_filter(draft)).count()
    assert log_before >= 1  # the import's entry

    with django_capture_on_commit_callbacks(execute=True):
        footprint = audit_delete(audit=draft, actor=manager)

    assert not Audit.objects.filter(pk=draft.pk).exists()
    assert _rows_of(draft) == {"encounters": 0, "code_lines": 0, "findings": 0, "events": 0}
    assert not Encounter.objects.filter(audit_id=draft.pk).exists()
    assert not Comment.objects.filter(finding_id=finding.pk).exists()
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert not stored.exists()  # the file went with the commit
    assert not Overread.objects.filter(encounter_id=hf1.pk).exists()
    assert not OverreadLine.objects.filter(overread__encounter_id=hf1.pk).exists()
    assert list(calibration.encounters.all()) == []
    assert list(education.findings.all()) == []
    assert not ImportJob.objects.filter(name="Draft Q2").exists()
    followup.refresh_from_db()
    assert list(followup.encounters.all()) == [kept_encounter]
    assert followup.status == FollowUpReview.Status.FLAGGED  # 1 of 2: waits for an import
    assert followup.audit_id == released.pk
    # The other audit is untouched.
    assert _rows_of(released) == before_released
    # The counts, and the log: old entries stay, a new one records name and counts.
    assert footprint.encounters == expected["encounters"] == 4
    assert footprint.code_lines == expected["code_lines"] == 25
    assert footprint.findings == expected["findings"]
    assert footprint.comments == 2
    assert footprint.attachments == 1
    assert footprint.overreads == 1
    assert footprint.followup_reviews == 1
    entry = AuditLogEntry.objects.get(action="audit.delete")
    assert entry.object_id == str(draft.public_id)
    assert entry.actor == manager
    assert entry.changes["name"] == "Draft Q2"
    assert entry.changes["encounters"] == 4
    assert entry.changes["code_lines"] == 25
    assert entry.changes["findings"] == expected["findings"]
    assert AuditLogEntry.objects.filter(obj_id_filter(draft)).count() == log_before + 1


def obj_id_filter(audit: Audit) -> Any:
    from django.db.models import Q

    return Q(object_type="audit", object_id=str(audit.public_id))


def test_a_released_audit_is_never_deleted(
    org: Organization, released: Audit, draft: Audit, auditor: User, manager: User
) -> None:
    with pytest.raises(AuditLifecycleError, match="released"):
        audit_delete(audit=released, actor=manager)
    assert Audit.objects.filter(pk=released.pk).exists()

    # Released for one coder only (the audit is still in review): refused too.
    coder = Coder.objects.get(organization=org, name="coder.ana")
    audit_release(audit=draft, actor=auditor, coder=coder)
    draft.refresh_from_db()
    assert draft.status == Audit.Status.IN_REVIEW
    with pytest.raises(AuditLifecycleError):
        audit_delete(audit=draft, actor=manager)


def test_a_recalled_release_still_counts_as_released(
    org: Organization, draft: Audit, auditor: User, manager: User
) -> None:
    finding = Finding.objects.filter(encounter__audit=draft).first()
    assert finding is not None
    FindingEvent.objects.create(
        organization=org,
        finding=finding,
        actor=auditor,
        at=finding.created_at,
        kind=FindingEvent.Kind.RELEASE,
        from_status="draft",
        to_status="released",
    )
    # A recall put the finding back to draft; the release event remains.
    assert not Finding.objects.filter(encounter__audit=draft, released_at__isnull=False).exists()
    assert selectors.audit_ever_released(audit=draft)
    with pytest.raises(AuditLifecycleError):
        audit_delete(audit=draft, actor=manager)


def test_delete_page_checklist(
    assert_tenancy: AssertTenancy,
    draft: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    # GET is the confirmation (nothing written); PUT is the wrong method.
    assert_tenancy(
        url("delete", audit_id=draft.public_id),
        allowed=[manager, auditor],
        forbidden=[coder_user, educator, viewer],
        wrong_method="put",
    )
    assert Audit.objects.filter(pk=draft.pk).exists()


def test_delete_post_refused_for_readers_and_outsiders(
    client_for: ClientFor,
    draft: Audit,
    coder_user: User,
    educator: User,
    viewer: User,
    outsider: User,
) -> None:
    target = url("delete", audit_id=draft.public_id)
    for user in (coder_user, educator, viewer):
        assert client_for(user).post(target).status_code == 403
    assert client_for(outsider).post(target).status_code == 404
    assert Encounter.objects.filter(audit=draft).count() == 4
    assert not AuditLogEntry.objects.filter(action="audit.delete").exists()


def test_delete_confirmation_then_delete(
    client_for: ClientFor, draft: Audit, released: Audit, auditor: User
) -> None:
    client = client_for(auditor)
    summary = text(client.get(url("detail", audit_id=draft.public_id)))
    assert "Delete this audit…" in summary
    page = client.get(url("delete", audit_id=draft.public_id))
    assert page.status_code == 200
    shown = text(page)
    assert "Delete “Draft Q2”?" in shown
    assert "Encounters 4" in shown
    assert "Code lines 25 (original and audited)" in shown
    findings = Finding.objects.filter(encounter__audit=draft).count()
    assert f"Findings {findings} , with 0 history events" in shown
    assert Audit.objects.filter(pk=draft.pk).exists()  # the GET deleted nothing

    response = client.post(url("delete", audit_id=draft.public_id))
    assert response.status_code == 302
    assert response["Location"] == url("index")
    assert not Audit.objects.filter(pk=draft.pk).exists()
    listed = text(client.get(response["Location"]))
    assert (
        f"Deleted the audit “Draft Q2”: 4 encounters, 25 code lines and {findings} findings."
        in (listed)
    )
    assert "Released Q1" in listed


def test_delete_of_a_released_audit_is_a_403_with_the_reason(
    client_for: ClientFor, released: Audit, manager: User, auditor: User
) -> None:
    summary = text(client_for(manager).get(url("detail", audit_id=released.public_id)))
    assert "Delete this audit" not in summary
    assert "Archive this audit" in summary
    for user in (manager, auditor):
        for method in ("get", "post"):
            response = getattr(client_for(user), method)(url("delete", audit_id=released.public_id))
            assert response.status_code == 403
            assert "cannot be deleted" in text(response)
    assert Encounter.objects.filter(audit=released).count() == 4
    assert not AuditLogEntry.objects.filter(action="audit.delete").exists()


# --------------------------------------------------------------------------- archive


def test_archive_and_unarchive_are_logged_and_idempotent(
    released: Audit, draft: Audit, manager: User
) -> None:
    assert audit_archive(audit=released, actor=manager) is True
    released.refresh_from_db()
    assert released.archived_at is not None
    assert audit_archive(audit=released, actor=manager) is False
    assert audit_unarchive(audit=released, actor=manager) is True
    assert audit_unarchive(audit=released, actor=manager) is False
    released.refresh_from_db()
    assert released.archived_at is None
    actions = list(
        AuditLogEntry.objects.filter(obj_id_filter(released))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["audit.archive", "audit.unarchive"]
    with pytest.raises(AuditLifecycleError, match="Only a released audit"):
        audit_archive(audit=draft, actor=manager)


def test_archive_views_checklist(
    client_for: ClientFor,
    released: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    outsider: User,
) -> None:
    for name in ("archive", "unarchive"):
        target = url(name, audit_id=released.public_id)
        assert client_for(None).post(target).status_code == 302  # to the login page
        assert client_for(outsider).post(target).status_code == 404
        assert (
            client_for(manager).post(target.replace("north-health", "nowhere")).status_code == 404
        )
        for user in (auditor, coder_user, educator, viewer):
            assert client_for(user).post(target).status_code == 403
        assert client_for(manager).get(target).status_code == 405
        released.refresh_from_db()
        assert (released.archived_at is None) == (name == "archive")
        response = client_for(manager).post(target)
        assert response.status_code == 302
        assert response["Location"] == url("detail", audit_id=released.public_id)
        released.refresh_from_db()
        assert (released.archived_at is not None) == (name == "archive")


def test_archiving_a_draft_from_the_page_explains_why_not(
    client_for: ClientFor, draft: Audit, manager: User
) -> None:
    response = client_for(manager).post(url("archive", audit_id=draft.public_id), follow=True)
    assert "Only a released audit can be archived" in text(response)
    draft.refresh_from_db()
    assert draft.archived_at is None


def test_an_archived_audit_stays_readable_with_a_banner(
    client_for: ClientFor, released: Audit, manager: User, educator: User
) -> None:
    client_for(manager).post(url("archive", audit_id=released.public_id))
    hf1 = Encounter.objects.get(audit=released, external_id="HF-1")
    for target in (
        url("detail", audit_id=released.public_id),
        url("encounters", audit_id=released.public_id),
        url("encounter", encounter_id=hf1.public_id),
    ):
        response = client_for(educator).get(target)
        assert response.status_code == 200, target
        assert "Archived on" in text(response)
    summary = text(client_for(manager).get(url("detail", audit_id=released.public_id)))
    assert "Unarchive this audit" in summary


def test_the_coder_still_sees_released_findings_of_an_archived_audit(
    client_for: ClientFor, org: Organization, released: Audit, manager: User, coder_user: User
) -> None:
    Coder.objects.filter(organization=org, name="coder.ana").update(user=coder_user)
    feedback = reverse("coaching:feedback", kwargs={"org_slug": org.slug})
    before = text(client_for(coder_user).get(feedback + "?show=all"))
    assert "HF-1" in before
    audit_archive(audit=released, actor=manager)
    after = text(client_for(coder_user).get(feedback + "?show=all"))
    assert "HF-1" in after


# --------------------------------------------------------------------------- audit list


def test_the_list_hides_archived_audits_and_filters_by_status(
    client_for: ClientFor, released: Audit, draft: Audit, manager: User, auditor: User
) -> None:
    older = _import(released.organization, "Released 2025", auditor, released=True)
    audit_archive(audit=older, actor=manager)
    client = client_for(auditor)

    page = text(client.get(url("index")))
    assert "Released Q1" in page
    assert "Draft Q2" in page
    assert "Released 2025" not in page
    assert "1 archived audit hidden: show archived" in page

    page = text(client.get(url("index") + "?archived=on"))
    assert "Released 2025" in page
    html = client.get(url("index") + "?archived=on").content.decode()
    assert 'class="badge badge-archived"' in html

    page = text(client.get(url("index") + "?status=in_review"))
    assert "Draft Q2" in page
    assert "Released Q1" not in page
    assert "1 audit in review" in page
    html = client.get(url("index") + "?status=in_review").content.decode()
    assert '<option value="in_review" selected>' in html  # the filter shows what is applied

    page = text(client.get(url("index") + "?status=released"))
    assert "Released Q1" in page
    assert "Draft Q2" not in page
    assert "1 archived audit hidden" in page
    page = text(client.get(url("index") + "?status=released&archived=on"))
    assert "Released Q1" in page
    assert "Released 2025" in page

    page = text(client.get(url("index") + "?status=closed"))
    assert "No current audit is closed." in page
    # A stale or hostile value is ignored, never an error.
    response = client.get(url("index") + "?status=%27%3B--&archived=maybe")
    assert response.status_code == 200
    assert "Draft Q2" in text(response)


def test_coders_get_a_way_to_their_feedback_not_a_placeholder(
    client_for: ClientFor, released: Audit, coder_user: User
) -> None:
    response = client_for(coder_user).get(url("index"))
    page = text(response)
    assert "on its way" not in page
    assert "Your released findings, with their rationale, are on My feedback" in page
    feedback = reverse("coaching:feedback", kwargs={"org_slug": "north-health"})
    assert f'href="{feedback}"' in response.content.decode()


# --------------------------------------------------------------------------- duplicates


def _csv_workbook(folder: Path, ids: list[str]) -> Path:
    folder.mkdir(parents=True)
    with (folder / "encounters.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["encounter_id", "setting", "discharge_date", "coder"])
        for eid in ids:
            w.writerow([eid, "outpatient", "2026-03-01", "coder.ana"])
    with (folder / "codes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["encounter_id", "version", "system", "seq", "code"])
        for eid in ids:
            for version in ("original", "audited"):
                w.writerow([eid, version, "ICD10CM", 1, "I10"])
    return folder


def test_duplicate_encounters_reads_only_the_organization(
    org: Organization, other_org: Organization, released: Audit, auditor: User
) -> None:
    _import(other_org, "Theirs")
    rows = selectors.duplicate_encounters(
        organization=org, external_ids=["HF-1", "EM-3", "NEW-1", "HF-1"]
    )
    assert [(r.external_id, r.audit_name, r.audit_cycle) for r in rows] == [
        ("EM-3", "Released Q1", "2026-Q1"),
        ("HF-1", "Released Q1", "2026-Q1"),
    ]
    _import(org, "Again", cycle="2026-Q3")
    rows = selectors.duplicate_encounters(organization=org, external_ids=["HF-1"])
    assert [(r.external_id, r.audit_name) for r in rows] == [
        ("HF-1", "Again"),
        ("HF-1", "Released Q1"),
    ]
    assert selectors.duplicate_encounters(organization=org, external_ids=[]) == []


def test_cli_refuses_repeated_encounters_unless_allowed(
    org: Organization, released: Audit, tmp_path: Path
) -> None:
    audits, encounters = Audit.objects.count(), Encounter.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("import", str(WORKED), "--org", org.slug, "--audit", "Again")
    assert refused.value.returncode == 2
    message = str(refused.value)
    assert message.startswith("4 encounters of the workbook already exist in another audit")
    for eid in ("EM-3", "HF-1", "OP-4", "PNA-2"):
        assert f"{eid}  in 'Released Q1' (2026-Q1)" in message
    assert "--allow-duplicates" in message
    assert (Audit.objects.count(), Encounter.objects.count()) == (audits, encounters)

    call_command("import", str(WORKED), "--org", org.slug, "--audit", "Again", "--allow-duplicates")
    again = Audit.objects.get(organization=org, name="Again")
    assert again.encounters.count() == 4


def test_cli_lists_the_first_20_and_the_count(
    org: Organization, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [f"E{i:03d}" for i in range(25)]
    call_command("import", str(_csv_workbook(tmp_path / "a", ids)), "--org", org.slug,
                 "--audit", "First")  # fmt: skip
    with pytest.raises(CommandError) as refused:
        call_command("import", str(_csv_workbook(tmp_path / "b", [*ids, "NEW"])), "--org",
                     org.slug, "--audit", "Second")  # fmt: skip
    message = str(refused.value)
    assert message.startswith("25 encounters of the workbook already exist")
    assert "E019  in 'First'" in message
    assert "E020" not in message
    assert "the first 20 are listed" in message
    assert not Audit.objects.filter(name="Second").exists()


def _zip_of(folder: Path) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("encounters.csv", "codes.csv"):
            zf.writestr(f"wb/{name}", (folder / name).read_bytes())
    return SimpleUploadedFile("audit.zip", buffer.getvalue(), content_type="application/zip")


def _upload(client: Any, name: str, folder: Path = WORKED, **extra: Any) -> Any:
    return client.post(url("import"), {"file": _zip_of(folder), "name": name}, **extra)


def test_upload_repeating_encounters_waits_then_imports_once(
    client_for: ClientFor,
    org: Organization,
    released: Audit,
    auditor: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, "Again")
    job = ImportJob.objects.get(organization=org, name="Again")
    assert job.status == ImportJob.Status.WAITING
    assert response["Location"] == url("import_job", job_id=job.public_id)
    assert not Audit.objects.filter(name="Again").exists()  # nothing written yet
    assert Path(job.path).exists()
    page = client.get(response["Location"])
    shown = text(page)
    assert "4 encounters already in another audit" in shown
    assert "HF-1 Released Q1 2026-Q1" in shown
    assert f'href="{url("detail", audit_id=released.public_id)}"' in page.content.decode()
    assert "Import anyway" in shown
    assert "Cancel" in shown
    # The import page lists it until someone decides.
    waiting = text(client.get(url("import")))
    assert "Cancel removes the file. Again · 4 repeated encounters · uploaded" in waiting
    assert AuditLogEntry.objects.filter(action="import.hold", object_id=str(job.public_id)).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import_confirm", job_id=job.public_id))
    assert response["Location"] == url("import_job", job_id=job.public_id)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    again = Audit.objects.get(organization=org, name="Again")
    assert again.encounters.count() == 4
    assert not Path(job.path).exists()

    # A second click (or a resubmitted form) imports nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(url("import_confirm", job_id=job.public_id), follow=True)
    assert "This import was already started." in text(second)
    assert Audit.objects.filter(organization=org).count() == 2
    assert AuditLogEntry.objects.filter(action="import.confirm").count() == 1


def test_upload_repeating_encounters_can_be_cancelled(
    client_for: ClientFor,
    org: Organization,
    released: Audit,
    auditor: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(auditor)
    _upload(client, "Again")
    job = ImportJob.objects.get(organization=org, name="Again")
    folder = Path(job.path).parent
    assert folder.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import_cancel", job_id=job.public_id), follow=True)
    assert "Cancelled the import of “Again”; the uploaded file was removed." in text(response)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    assert not Path(job.path).exists()
    assert not any(p.name.startswith("upload-") for p in folder.parent.iterdir())
    # Too late to import it now; the job page says it was cancelled.
    assert "Uploads waiting for a decision" not in text(client.get(url("import")))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import_confirm", job_id=job.public_id))
    assert not Audit.objects.filter(name="Again").exists()
    assert "was cancelled" in text(client.get(url("import_job", job_id=job.public_id), follow=True))


def test_upload_without_repeats_goes_straight_on(
    client_for: ClientFor,
    org: Organization,
    released: Audit,
    auditor: User,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client_for(auditor), "Fresh", _csv_workbook(tmp_path / "fresh", ["N-1", "N-2"]))
    job = ImportJob.objects.get(name="Fresh")
    assert job.status == ImportJob.Status.DONE
    assert job.duplicates == {}


def test_confirm_and_cancel_checklist(
    client_for: ClientFor,
    org: Organization,
    released: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    outsider: User,
) -> None:
    _upload(client_for(auditor), "Again")
    job = ImportJob.objects.get(name="Again")
    for name in ("import_confirm", "import_cancel"):
        target = url(name, job_id=job.public_id)
        assert client_for(None).post(target).status_code == 302
        assert client_for(outsider).post(target).status_code == 404
        for user in (coder_user, educator, viewer):
            assert client_for(user).post(target).status_code == 403
        assert client_for(manager).get(target).status_code == 405
        job.refresh_from_db()
        assert job.status == ImportJob.Status.WAITING
    # The waiting page itself: writers only, another organization's job is a 404.
    page = url("import_job", job_id=job.public_id)
    assert client_for(manager).get(page).status_code == 200
    assert client_for(viewer).get(page).status_code == 403
    assert client_for(outsider).get(page).status_code == 404
    # The right role goes through: a manager cancels the auditor's upload.
    response = client_for(manager).post(url("import_cancel", job_id=job.public_id))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
