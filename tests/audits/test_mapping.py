"""Spreadsheets through a saved column mapping: the mapping page, saving and reusing a
mapping, the saved-mappings screen, and the services behind them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter, ImportJob, ImportMapping
from auditcoach.audits.selectors import import_mapping_for_columns
from auditcoach.audits.services import (
    MappingNameTaken,
    import_mapping_delete,
    import_mapping_rename,
    import_mapping_save,
)
from auditcoach.intake.mapping import propose, spec_from_dict
from tests.conftest import AssertTenancy, ClientFor

pytestmark = pytest.mark.django_db

HEADER = "Acct #,Pt Type,Disch Date,Gender,Attending,Principal Dx,POA 1,Dx 2,POA 2,CPT1,CPT1_MOD1\n"
ROWS = (
    'A-1,IP,03/14/2026,Female,"Smith, Ann",I50.23,Y,N18.30,N,,\n'
    "A-2,Pro,03/15/2026,M,Jones,R07.9,,,,99214,25\n"
)
BAD_ROWS = "A-1,IP,03/14/2026,Wmn,Smith,I50.23!,Y,,,,\nA-2,Pro,31/03/2026,M,Jones,R07.9,,,,99214,\n"


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"audits:{name}", kwargs={"org_slug": "north-health", **kwargs})


def text(response: Any) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def upload(body: str, name: str = "extract.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body.encode())


def mapping_post(response_html: str, **changes: str) -> dict[str, str]:
    """The mapping form's fields as the page drew them (selected options, inputs), with
    `changes` applied: what a person submits after correcting some fields."""
    data: dict[str, str] = {}
    for name, body in re.findall(
        r'<select name="([^"]+)"[^>]*>(.*?)</select>', response_html, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen.group(1) if chosen else ""
    for tag in re.findall(r"<input [^>]*>", response_html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="file"' not in tag and 'type="checkbox"' not in tag:
            data[name.group(1)] = value.group(1) if value else ""
    data.pop("csrfmiddlewaretoken", None)
    data.update(changes)
    return {
        k: v.replace("&amp;", "&").replace("&quot;", '"').replace("&#x27;", "'")
        for k, v in data.items()
    }


def staged(client: Any, body: str = HEADER + ROWS, name: str = "June") -> ImportJob:
    response = client.post(url("import"), {"file": upload(body), "name": name})
    job = ImportJob.objects.get(name=name)
    assert response["Location"] == url("import_mapping", job_id=job.public_id)
    return job


# --------------------------------------------------------------------------- the journey


def test_an_extract_is_mapped_saved_and_the_next_upload_uses_the_mapping(
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(auditor)
    job = staged(client)
    assert job.status == ImportJob.Status.MAPPING
    assert not Audit.objects.exists()
    page = client.get(url("import_mapping", job_id=job.public_id))
    html = page.content.decode()
    shown = text(page)
    # the preview: the file's own header and first rows
    assert "Acct # Pt Type Disch Date Gender" in shown
    assert "A-1 IP 03/14/2026 Female Smith, Ann I50.23" in shown
    # the proposal, from the names
    assert re.search(r'name="f_encounter_id"[^>]*>.*?<option value="Acct #" selected', html, re.S)
    assert re.search(r'name="dx_1_code"[^>]*>.*?<option value="Principal Dx" selected', html, re.S)
    assert re.search(r'name="dx_1_poa"[^>]*>.*?<option value="POA 1" selected', html, re.S)
    data = mapping_post(html, action="import", save_as="Billing export", date_format="MM/DD/YYYY")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import_mapping", job_id=job.public_id), data)
    assert response["Location"] == url("import_job", job_id=job.public_id)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.mapping_name == "Billing export"
    audit = Audit.objects.get(name="June")
    a1 = Encounter.objects.get(audit=audit, external_id="A-1")
    assert (a1.setting, a1.sex, str(a1.discharge_date)) == ("inpatient", "F", "2026-03-14")
    assert a1.provider is not None
    assert a1.provider.name == "Smith, Ann"
    lines = sorted(
        a1.code_lines.filter(version="original").values_list("system", "seq", "code", "poa")
    )
    assert lines == [("ICD10CM", 1, "I5023", "Y"), ("ICD10CM", 2, "N1830", "N")]
    a2 = Encounter.objects.get(audit=audit, external_id="A-2")
    line = a2.code_lines.get(version="original", system="CPT")
    assert (line.code, line.modifiers) == ("99214", "25")
    saved = ImportMapping.objects.get(organization=org, name="Billing export")
    assert saved.created_by == auditor
    assert spec_from_dict(saved.spec).date_format == "MM/DD/YYYY"
    actions = list(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"import.stage", "import_mapping.create", "import.map"} <= set(actions)

    # The second upload, same columns in another order of rows: no question asked.
    second = HEADER + "B-1,OP,04/01/2026,U,Lee,R10.9,,,,,\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import"), {"file": upload(second, "july.csv"), "name": "July"})
    job2 = ImportJob.objects.get(name="July")
    assert response["Location"] == url("import_job", job_id=job2.public_id)
    assert job2.status == ImportJob.Status.DONE
    assert job2.mapping_name == "Billing export"
    response = client.get(response["Location"])  # the job page sends on to the summary
    summary = client.get(response["Location"])
    page = text(summary)
    assert "Imported “July”: 1 encounters" in page
    assert "were read with the saved mapping “Billing export”, without asking" in page
    change = url("mapping_edit", mapping_id=saved.public_id)
    assert f'<a href="{change}">Change the mapping</a>' in summary.content.decode()
    b1 = Encounter.objects.get(audit__name="July", external_id="B-1")
    assert (b1.setting, b1.sex, str(b1.discharge_date)) == ("outpatient", "U", "2026-04-01")


def test_check_lists_every_problem_by_the_files_row_and_column(
    client_for: ClientFor, auditor: User
) -> None:
    client = client_for(auditor)
    job = staged(client, HEADER + BAD_ROWS)
    html = client.get(url("import_mapping", job_id=job.public_id)).content.decode()
    data = mapping_post(html, action="import", date_format="MM/DD/YYYY")
    before = AuditLogEntry.objects.count()
    response = client.post(url("import_mapping", job_id=job.public_id), data)
    assert response.status_code == 200
    rows = re.findall(
        r'<tr><td>extract.csv</td><td class="num">(\d+)</td><td class="mono">([^<]+)</td><td>([^<]+)</td>',
        response.content.decode(),
    )
    assert [(r, c) for r, c, _ in rows] == [
        ("2", "Gender"),
        ("2", "Principal Dx"),
        ("3", "Disch Date"),
    ]
    assert "must be a date written MM/DD/YYYY (US), got &quot;31/03/2026&quot;" in rows[2][2]
    assert "3 problems reading extract.csv with this mapping" in text(response)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING
    assert not Audit.objects.exists()
    assert AuditLogEntry.objects.count() == before
    assert not ImportMapping.objects.exists()


def test_an_incomplete_mapping_says_what_is_missing(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    job = staged(client)
    html = client.get(url("import_mapping", job_id=job.public_id)).content.decode()
    data = mapping_post(html, action="check", f_encounter_id="", f_setting="", c_setting="")
    page = text(client.post(url("import_mapping", job_id=job.public_id), data))
    assert "Encounter_id: choose the column it comes from." in page
    assert "Setting: choose the column it comes from." in page


def test_check_says_when_all_is_well_and_keeps_the_upload(
    client_for: ClientFor, auditor: User
) -> None:
    client = client_for(auditor)
    job = staged(client)
    html = client.get(url("import_mapping", job_id=job.public_id)).content.decode()
    data = mapping_post(html, action="check", c_setting="inpatient", f_setting="")
    page = text(client.post(url("import_mapping", job_id=job.public_id), data))
    assert (
        "The mapping reads all of extract.csv: 2 encounters and 4 code lines, nothing wrong."
        in page
    )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING


def test_a_saved_mapping_that_does_not_fit_asks_again_with_its_problems(
    client_for: ClientFor, auditor: User, org: Organization
) -> None:
    import_mapping_save(
        organization=org, name="Export", spec=propose(HEADER.strip().split(",")), actor=auditor
    )
    client = client_for(auditor)
    job = staged(client, HEADER + BAD_ROWS)
    page = text(client.get(url("import_mapping", job_id=job.public_id)))
    assert "Starting from the saved mapping “Export”." in page
    assert "problems reading extract.csv with this mapping" in page


def test_duplicates_wait_for_a_decision(
    client_for: ClientFor, auditor: User, org: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    import_mapping_save(
        organization=org, name="Export", spec=propose(HEADER.strip().split(",")), actor=auditor
    )
    client = client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import"), {"file": upload(HEADER + ROWS), "name": "First"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import"), {"file": upload(HEADER + ROWS), "name": "Second"})
    job = ImportJob.objects.get(name="Second")
    assert job.status == ImportJob.Status.WAITING
    assert job.duplicates["count"] == 2
    page = text(client.get(url("import_job", job_id=job.public_id)))
    assert "2 encounters already in another audit" in page


def test_a_large_extract_is_checked_by_the_worker_through_its_mapping(
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.IMPORT_CHECK_IN_REQUEST_BYTES = 10
    client = client_for(auditor)
    job = staged(client, HEADER + BAD_ROWS)
    page = client.get(url("import_mapping", job_id=job.public_id))
    assert "This file is large" in text(page)
    data = mapping_post(page.content.decode(), action="import", date_format="MM/DD/YYYY")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import_mapping", job_id=job.public_id), data)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert [row[:3] for row in job.problems["rows"]] == [
        ["extract.csv", 2, "Gender"],
        ["extract.csv", 2, "Principal Dx"],
        ["extract.csv", 3, "Disch Date"],
    ]
    assert not Audit.objects.exists()


def test_an_upload_waiting_for_its_mapping_can_be_cancelled(
    client_for: ClientFor, auditor: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(auditor)
    job = staged(client)
    assert Path(job.path).exists()
    assert "June · waiting for its column mapping" in text(client.get(url("import")))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import_cancel", job_id=job.public_id))
    assert response["Location"] == url("import")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    assert not Path(job.path).exists()
    # and its mapping page sends on to the job
    assert client.get(url("import_mapping", job_id=job.public_id)).status_code == 302


def test_an_xlsx_without_workbook_sheets_is_mapped(
    client_for: ClientFor, auditor: User, tmp_path: Path
) -> None:
    from openpyxl import Workbook as Book

    book = Book()
    sheet = book.active
    assert sheet is not None
    for row in [
        ["Encounter", "Setting", "Discharge Date", "Dx 1"],
        ["X1", "outpatient", "2026-01-05", "I10"],
    ]:
        sheet.append(row)
    book.save(tmp_path / "x.xlsx")
    client = client_for(auditor)
    response = client.post(
        url("import"),
        {"file": SimpleUploadedFile("x.xlsx", (tmp_path / "x.xlsx").read_bytes()), "name": "X"},
    )
    job = ImportJob.objects.get(name="X")
    assert response["Location"] == url("import_mapping", job_id=job.public_id)


# --------------------------------------------------------------------------- saved mappings


def test_saved_mappings_are_listed_renamed_changed_and_deleted(
    client_for: ClientFor, manager: User, org: Organization
) -> None:
    spec = propose(HEADER.strip().split(","))
    saved = import_mapping_save(organization=org, name="Export", spec=spec, actor=manager)
    client = client_for(manager)
    page = text(client.get(url("mappings")))
    assert "Export One row per encounter 11" in page
    client.post(url("mapping_rename", mapping_id=saved.public_id), {"name": "  Billing   export "})
    saved.refresh_from_db()
    assert saved.name == "Billing export"
    # change one field on the edit page
    html = client.get(url("mapping_edit", mapping_id=saved.public_id)).content.decode()
    client.post(url("mapping_edit", mapping_id=saved.public_id), mapping_post(html, f_provider=""))
    saved.refresh_from_db()
    assert "provider" not in saved.spec["fields"]
    client.post(url("mapping_delete", mapping_id=saved.public_id))
    assert not ImportMapping.objects.exists()
    actions = list(
        AuditLogEntry.objects.filter(object_type="import_mapping").values_list("action", flat=True)
    )
    assert actions == [
        "import_mapping.create",
        "import_mapping.rename",
        "import_mapping.update",
        "import_mapping.delete",
    ]


def test_mapping_services(org: Organization, other_org: Organization, manager: User) -> None:
    headers = HEADER.strip().split(",")
    first = import_mapping_save(organization=org, name="A", spec=propose(headers), actor=manager)
    again = import_mapping_save(
        organization=org, name="A", spec=propose(headers[:5]), actor=manager
    )
    assert again.pk == first.pk  # the same name replaces
    assert len(again.spec["headers"]) == 5
    import_mapping_save(organization=org, name="B", spec=propose(headers), actor=manager)
    with pytest.raises(MappingNameTaken):
        import_mapping_rename(mapping=again, name="B", actor=manager)
    # matched by its columns, whatever their order and case, and only in its organization
    shuffled = [h.upper() for h in reversed(headers)]
    found = import_mapping_for_columns(organization=org, headers=shuffled)
    assert found is not None
    assert found.name == "B"
    assert import_mapping_for_columns(organization=other_org, headers=headers) is None
    import_mapping_delete(mapping=found, actor=manager)
    assert list(ImportMapping.objects.values_list("name", flat=True)) == ["A"]


# --------------------------------------------------------------------------- the checklist


def test_mapping_pages_checklist(
    assert_tenancy: AssertTenancy,
    org: Organization,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    client_for: ClientFor,
) -> None:
    job = staged(client_for(auditor))
    assert_tenancy(
        url("import_mapping", job_id=job.public_id),
        allowed=[manager, auditor],
        forbidden=[coder_user, educator, viewer],
        wrong_method="put",
    )
    saved = import_mapping_save(
        organization=org, name="Export", spec=propose(["Acct", "Disch Date", "Dx 1"]), actor=manager
    )
    assert_tenancy(
        url("mappings"), allowed=[manager], forbidden=[auditor, coder_user, educator, viewer]
    )
    assert_tenancy(
        url("mapping_edit", mapping_id=saved.public_id),
        allowed=[manager, auditor],
        forbidden=[coder_user, educator, viewer],
        wrong_method="put",
    )
    assert_tenancy(
        url("mapping_rename", mapping_id=saved.public_id),
        allowed=[manager],
        forbidden=[auditor, coder_user, educator, viewer],
        method="post",
        wrong_method="get",
        data={"name": "Export"},
    )
    assert_tenancy(
        url("mapping_delete", mapping_id=saved.public_id),
        allowed=[manager],
        forbidden=[auditor, coder_user, educator, viewer],
        method="post",
        wrong_method="get",
    )


# --------------------------------------------------------------------------- the command line


def test_cli_import_with_a_saved_mapping(
    org: Organization, manager: User, tmp_path: Path, capsys: Any
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    import_mapping_save(
        organization=org,
        name="Billing export",
        spec=propose(HEADER.strip().split(",")),
        actor=manager,
    )
    extract = tmp_path / "june.csv"
    extract.write_text(HEADER + ROWS)
    args = ["import", str(extract), "--org", org.slug]
    call_command(*args, "--audit", "June", "--mapping", "Billing export")
    assert "2 encounters, 4 code lines" in capsys.readouterr().out
    audit = Audit.objects.get(organization=org, name="June")
    assert sorted(audit.encounters.values_list("external_id", flat=True)) == ["A-1", "A-2"]

    with pytest.raises(CommandError) as unknown:
        call_command(*args, "--audit", "Other", "--mapping", "Nope")
    assert unknown.value.returncode == 2
    assert str(unknown.value) == (
        "no saved column mapping 'Nope' in north-health (saved: 'Billing export')"
    )
    extract.write_text(HEADER + BAD_ROWS)
    with pytest.raises(CommandError) as bad:
        call_command(*args, "--audit", "Bad", "--mapping", "Billing export")
    assert bad.value.returncode == 2
    assert "june.csv row 2, column Gender: must be M, F or U" in str(bad.value)
    assert not Audit.objects.filter(name__in=["Other", "Bad"]).exists()


def test_a_hostile_mapping_post_is_refused_with_messages(
    client_for: ClientFor, auditor: User
) -> None:
    client = client_for(auditor)
    job = staged(client)
    html = client.get(url("import_mapping", job_id=job.public_id)).content.decode()
    hostile = mapping_post(
        html,
        action="import",
        f_payer="No such column",
        dx_count="999999",
        values="[" * 50_000,
        date_format="someday",
    )
    response = client.post(url("import_mapping", job_id=job.public_id), hostile)
    assert response.status_code == 200
    page = text(response)
    assert (
        "Payer: Select a valid choice. No such column is not one of the available choices." in page
    )
    assert "Dates are written: Select a valid choice." in page
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING
    assert not Audit.objects.exists()


def test_a_spreadsheet_whose_column_names_cannot_be_mapped_is_refused(
    client_for: ClientFor, auditor: User, settings: Any
) -> None:
    response = client_for(auditor).post(
        url("import"), {"file": upload("Acct," + "x" * 300 + "\nA1,1\n"), "name": "Long"}
    )
    assert response.status_code == 200
    assert "the column name is longer than 200 characters" in text(response)
    assert not ImportJob.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT) / "imports").iterdir())


def test_another_organizations_mapping_is_not_found(
    client_for: ClientFor, auditor: User, other_org: Organization, outsider: User
) -> None:
    theirs = import_mapping_save(
        organization=other_org,
        name="Theirs",
        spec=propose(HEADER.strip().split(",")),
        actor=outsider,
    )
    client = client_for(auditor)
    job = staged(client)  # the same columns: their mapping is not used here
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.MAPPING
    response = client.get(url("import_mapping", job_id=job.public_id) + f"?use={theirs.public_id}")
    assert response.status_code == 404
    assert client.get(url("mapping_edit", mapping_id=theirs.public_id)).status_code == 404
