"""The audits screens: tenancy checklist for every view, import, summary, list, workspace."""

import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter, Finding, ImportJob
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from tests.conftest import AssertTenancy, ClientFor

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"
HTMX = {"HTTP_HX_REQUEST": "true"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(org: Organization, auditor: User) -> Audit:
    # The base rate of expected.json, so the summary's $ numbers are the worked example's.
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    return audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )


def _encounter(audit: Audit, external_id: str) -> Encounter:
    return Encounter.objects.get(audit=audit, external_id=external_id)


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"audits:{name}", kwargs={"org_slug": "north-health", **kwargs})


def text(response: Any) -> str:
    """The response's visible text, whitespace collapsed (tags dropped)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --------------------------------------------------------------------------- the checklist


def test_index_checklist(
    assert_tenancy: AssertTenancy,
    worked: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    assert_tenancy(url("index"), allowed=[manager, auditor, coder_user, educator, viewer])


def test_read_pages_checklist(
    assert_tenancy: AssertTenancy,
    worked: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    hf1 = _encounter(worked, "HF-1")
    for target in (
        url("detail", audit_id=worked.public_id),
        url("encounters", audit_id=worked.public_id),
        url("encounter", encounter_id=hf1.public_id),
    ):
        # Coders would see other coders' encounters here: 403 until their own view exists.
        assert_tenancy(target, allowed=[manager, auditor, educator, viewer], forbidden=[coder_user])


def test_import_checklist(
    assert_tenancy: AssertTenancy,
    org: Organization,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    assert_tenancy(
        url("import"),
        allowed=[manager, auditor],
        forbidden=[coder_user, educator, viewer],
        wrong_method="put",
    )


def test_write_views_checklist(
    assert_tenancy: AssertTenancy,
    worked: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    hf1 = _encounter(worked, "HF-1")
    finding = hf1.findings.get(kind="REVISED")
    e = {"encounter_id": hf1.public_id}
    targets: list[tuple[str, dict[str, Any]]] = [
        (url("line_add", **e), {"system": "ICD10CM", "code": "E11.9"}),
        (
            url("line_change", group="DX", seq=3, **e),
            {"system": "ICD10CM", "code": "N18.4", "poa": "Y"},
        ),
        (url("line_move", group="DX", seq=3, **e), {"direction": "up"}),
        (url("line_remove", group="PX", seq=1, **e), {}),
        (url("disposition_set", **e), {"audited_disposition": "01"}),
        (url("review_status", **e), {"status": "done"}),
        (url("finding_notes", finding_id=finding.public_id), {"rationale": "x"}),
    ]
    forbidden = [coder_user, educator, viewer]
    for target, data in targets:
        # Every write is a POST; its GET is a 405. The lock version follows the edits.
        hf1.refresh_from_db()
        assert_tenancy(
            target,
            allowed=[auditor],
            forbidden=forbidden,
            method="post",
            wrong_method="get",
            data={**data, "lock_version": hf1.lock_version},
        )
    # A manager may edit too.
    hf1.refresh_from_db()
    response = Client()
    response.force_login(manager)
    assert response.post(url("review_status", **e), {"status": "in_progress"}).status_code == 302


def test_unknown_line_group_is_404(client_for: ClientFor, worked: Audit, auditor: User) -> None:
    hf1 = _encounter(worked, "HF-1")
    response = client_for(auditor).post(
        url("line_remove", encounter_id=hf1.public_id, group="XX", seq=1),
        {"lock_version": hf1.lock_version},
    )
    assert response.status_code == 404


def test_another_orgs_encounter_is_404_even_for_a_manager_there(
    client_for: ClientFor, worked: Audit, outsider: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    own = reverse(
        "audits:encounter", kwargs={"org_slug": "south-clinic", "encounter_id": hf1.public_id}
    )
    assert client_for(outsider).get(own).status_code == 404


# --------------------------------------------------------------------------- index and nav


def test_index_lists_audits_and_hides_links_from_coders(
    client_for: ClientFor, worked: Audit, auditor: User, coder_user: User
) -> None:
    page = text(client_for(auditor).get(url("index")))
    assert "Worked" in page
    assert "2026-Q2" in page
    assert "Import an audit" in page
    coder_html = client_for(coder_user).get(url("index")).content.decode()
    assert "Worked" in coder_html
    assert url("detail", audit_id=worked.public_id) not in coder_html
    assert url("import") not in coder_html


# --------------------------------------------------------------------------- import


def _zip(files: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return SimpleUploadedFile("audit.zip", buffer.getvalue(), content_type="application/zip")


def _worked_files() -> dict[str, bytes]:
    return {
        "worked/encounters.csv": (WORKED / "encounters.csv").read_bytes(),
        "worked/codes.csv": (WORKED / "codes.csv").read_bytes(),
    }


def test_import_a_good_zip_creates_the_audit(
    client_for: ClientFor,
    auditor: User,
    org: Organization,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    client = client_for(auditor)
    # The upload is validated in the request, then imported by a background task (run
    # inline here by the Immediate backend once the job's transaction commits).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("import"),
            {"file": _zip(_worked_files()), "name": "Q2 sample", "cycle": "2026-Q2b"},
        )
    job = ImportJob.objects.get(organization=org, name="Q2 sample")
    assert response.status_code == 302
    assert response["Location"] == url("import_job", job_id=job.public_id)
    assert job.status == ImportJob.Status.DONE
    assert not Path(job.path).exists()  # the upload is removed after the import
    audit = Audit.objects.get(organization=org, name="Q2 sample")
    assert job.audit == audit
    response = client.get(response["Location"])  # the job page sends on to the summary
    assert response["Location"] == url("detail", audit_id=audit.public_id)
    assert audit.cycle == "2026-Q2b"
    assert audit.encounters.count() == 4
    assert audit.created_by == auditor
    page = text(client.get(response["Location"]))
    assert "Imported “Q2 sample”: 4 encounters and 25 code lines." in page


def test_import_an_xlsx_with_htmx_redirects_on_the_client(
    client_for: ClientFor, auditor: User, org: Organization, tmp_path: Path
) -> None:
    from auditcoach.engine.workbook import write_workbook_xlsx

    target = tmp_path / "worked.xlsx"
    write_workbook_xlsx(read_workbook(WORKED).encounters, target)
    upload = SimpleUploadedFile("worked.xlsx", target.read_bytes())
    client = client_for(auditor)
    response = client.post(
        url("import"), {"file": upload, "name": "From Excel", "released": "on"}, **HTMX
    )
    job = ImportJob.objects.get(organization=org, name="From Excel")
    assert response["HX-Redirect"] == url("import_job", job_id=job.public_id)
    # Before the worker runs: the page shows the job waiting and polls.
    page = client.get(response["HX-Redirect"])
    assert "Waiting to start" in text(page)
    assert 'hx-trigger="every 1s"' in page.content.decode()
    # While it runs, the polled fragment shows how far it got.
    from django.core.cache import cache

    from auditcoach.audits.services import import_job_run, import_progress_key

    cache.set(import_progress_key(job), (2000, 4000))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    fragment = client.get(response["HX-Redirect"], **HTMX)
    assert "2,000 of 4,000" in text(fragment)
    assert 'value="2000"' in fragment.content.decode()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    import_job_run(job_id=job.pk)
    audit = Audit.objects.get(organization=org, name="From Excel")
    done = client.get(response["HX-Redirect"], **HTMX)
    assert done["HX-Redirect"] == url("detail", audit_id=audit.public_id)
    assert audit.status == Audit.Status.RELEASED


def test_a_bad_workbook_lists_every_problem_and_writes_nothing(
    client_for: ClientFor, auditor: User, org: Organization
) -> None:
    files = _worked_files()
    files["worked/encounters.csv"] = (
        files["worked/encounters.csv"]
        .replace(b"HF-1,inpatient,2026-05-14", b"HF-1,inpatient,2026-13-14")
        .replace(b"EM-3,profee", b"EM-3,hospice")
    )
    files["worked/codes.csv"] = files["worked/codes.csv"].replace(
        b"PNA-2,audited,ICD10CM,3", b"PNA-2,audited,ICD10XX,3"
    )
    before = (Audit.objects.count(), Encounter.objects.count(), AuditLogEntry.objects.count())
    response = client_for(auditor).post(url("import"), {"file": _zip(files), "name": "Broken"})
    assert response.status_code == 200
    assert (
        Audit.objects.count(),
        Encounter.objects.count(),
        AuditLogEntry.objects.count(),
    ) == before
    page = text(response)
    assert "The workbook has 3 problems; nothing was imported." in page
    rows = re.findall(
        r"<tr><td>([\w.]+)</td><td class=\"num\">(\d+)</td><td class=\"mono\">(\w+)</td>",
        response.content.decode(),
    )
    assert rows == [
        ("encounters.csv", "2", "discharge_date"),
        ("encounters.csv", "4", "setting"),
        ("codes.csv", "14", "system"),
    ]
    # What was typed is kept.
    assert 'value="Broken"' in response.content.decode()


def test_import_rejects_other_files_and_duplicate_names(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    client = client_for(auditor)
    response = client.post(
        url("import"), {"file": SimpleUploadedFile("x.pdf", b"a,b"), "name": "Worked"}
    )
    page = text(response)
    assert "Upload an .xlsx workbook, a .zip of the two CSV files, an X12 837 file" in page
    assert "An audit with this name already exists." in page
    response = client.post(url("import"), {"file": _zip({"codes.csv": b"x"}), "name": "New"})
    assert "The .zip has no encounters.csv." in text(response)
    assert Audit.objects.count() == 1


# --------------------------------------------------------------------------- summary


def test_summary_shows_the_worked_example_numbers(
    client_for: ClientFor, worked: Audit, viewer: User
) -> None:
    response = client_for(viewer).get(url("detail", audit_id=worked.public_id))
    page = text(response)
    # fixtures/worked/expected.json "summary"
    assert "Code accuracy DX (A − a − r − e) / A 62.5% 5/8 30.6–86.3%" in page
    assert "Union accuracy DX (m − e) / (m + r + a + d) 55.6% 5/9" in page
    assert "Code accuracy PX (A − a − r − e) / A 0.0% 0/1" in page
    assert "Code accuracy LINE (A − a − r − e) / A 50.0% 2/4" in page
    assert "POA accuracy matched DX with Y/N/U/W audited POA 75.0% 3/4" in page
    assert "Record accuracy encounters without any finding 0.0% 0/4" in page
    assert "E/M over-coded 1 · under-coded 0" in page
    assert "+$7,487.35" in page
    assert "Headline score DX code accuracy" in page  # the stored score settings
    # By setting and by coder, and the pattern table linking to the filtered list.
    assert "Inpatient 2" in page
    assert "coder.ana 2" in page
    assert "coder.ben 2" in page
    html = response.content.decode()
    assert "REVISED:DX:I50" in page
    assert url("encounters", audit_id=worked.public_id) + "?kind=DRG_CHANGED" in html


# --------------------------------------------------------------------------- encounter list


def test_encounter_list_filters(client_for: ClientFor, worked: Audit, educator: User) -> None:
    client = client_for(educator)
    base = url("encounters", audit_id=worked.public_id)

    def ids(**params: str) -> list[str]:
        html = client.get(base, params).content.decode()
        return re.findall(r'class="mono strong" href="[^"]+">([^<]+)</a>', html)

    assert ids() == ["EM-3", "HF-1", "OP-4", "PNA-2"]
    assert ids(q="hf") == ["HF-1"]
    assert ids(setting="inpatient") == ["HF-1", "PNA-2"]
    assert ids(coder="coder.ana") == ["EM-3", "HF-1"]
    assert ids(kind="UNITS_CHANGED") == ["OP-4"]
    assert ids(kind="DRG_CHANGED", coder="coder.ben") == ["PNA-2"]
    assert ids(has_findings="no") == []
    assert ids(status="done") == []
    assert ids(setting="nonsense") == ["EM-3", "HF-1", "OP-4", "PNA-2"]  # a stale link is ignored
    # htmx asks for the table only.
    partial = client.get(base, {"q": "OP"}, **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="encounter-results"')
    assert "OP-4" in partial
    assert "<html" not in partial


def test_encounter_list_query_count_is_pinned(
    client_for: ClientFor,
    worked: Audit,
    org: Organization,
    educator: User,
    django_assert_max_num_queries: Any,
) -> None:
    # More rows than a page, so the count does not grow with the rows shown.
    source = _encounter(worked, "OP-4")
    Encounter.objects.bulk_create(
        [
            Encounter(
                organization=org,
                audit=worked,
                external_id=f"ZZ-{i:03d}",
                setting="outpatient",
                discharge_date=source.discharge_date,
                coder=source.coder,
                finding_count=i % 3,
            )
            for i in range(120)
        ]
    )
    client = client_for(educator)
    target = url("encounters", audit_id=worked.public_id)
    client.get(target)  # warm the session
    with django_assert_max_num_queries(10):
        response = client.get(target, {"has_findings": "yes", "kind": ""})
    assert response.status_code == 200
    assert "page 1 of 2" in text(response)
    with django_assert_max_num_queries(10):
        assert client.get(target, {"kind": "ADDED", "page": "1"}).status_code == 200


# --------------------------------------------------------------------------- review workspace


def test_workspace_shows_both_versions_findings_and_logs_the_view(
    client_for: ClientFor, worked: Audit, viewer: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    response = client_for(viewer).get(url("encounter", encounter_id=hf1.public_id))
    page = text(response)
    assert "I50.9" in page
    assert "I50.23" in page
    assert "0JH606Z" in page
    assert "REVISED DX Principal REVISED:DX:I50" in page
    assert "292" in page
    assert "259" in page
    assert "+$7,625.15" in page
    assert "coder.ana" in page
    assert "Dr Lee" in page
    assert "Medicare" in page
    # Read-only: no edit controls for a viewer.
    assert "Add a code" not in page
    assert "Mark reviewed" not in page
    entry = AuditLogEntry.objects.get(action="encounter.view")
    assert entry.actor == viewer
    assert entry.object_id == str(hf1.public_id)


def _edit(
    client: Client,
    encounter: Encounter,
    seq: int,
    code: str,
    *,
    lock: int | None = None,
    htmx: bool = True,
) -> Any:
    return client.post(
        url("line_change", encounter_id=encounter.public_id, group="DX", seq=seq),
        {
            "lock_version": lock or encounter.lock_version,
            "system": "ICD10CM",
            "code": code,
            "poa": "Y",
        },
        **(HTMX if htmx else {}),
    )


def test_changing_an_audited_code_updates_findings_and_scores(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    client = client_for(auditor)
    page = text(client.get(url("encounter", encounter_id=hf1.public_id)))
    assert "DX 66.7% 2/3" in page  # code accuracy of HF-1's diagnoses before
    response = _edit(client, hf1, 3, "n18.5")  # N18.4 → N18.5 (typed lower case, no dot)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workspace"')  # only the partial
    page = text(response)
    assert "Saved. 1 new finding." in page
    assert "REVISED DX New REVISED:DX:N18 N18.4 → N18.5" in page
    assert "DX 33.3% 1/3" in page
    hf1.refresh_from_db()
    assert hf1.lock_version == 2
    assert hf1.findings.filter(kind="REVISED", audited_code="N185").exists()


def test_add_move_remove_and_disposition(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    pna2 = _encounter(worked, "PNA-2")
    client = client_for(auditor)
    e = {"encounter_id": pna2.public_id}

    def post(name: str, data: dict[str, Any], **kw: Any) -> str:
        pna2.refresh_from_db()
        response = client.post(
            url(name, **e, **kw), {"lock_version": pna2.lock_version, **data}, **HTMX
        )
        assert response.status_code == 200
        return text(response)

    # Moving E87.1 back to the top makes the coder's principal right: no RESEQUENCED any more.
    page = post("line_move", {"direction": "top"}, group="DX", seq=2)
    assert "RESEQUENCED" not in page
    page = post("line_add", {"system": "ICD10CM", "code": "E11.9", "poa": "Y"})
    assert "ADDED DX New ADDED:DX:E11" in page
    page = post("line_remove", {}, group="DX", seq=4)
    assert "E11.9" not in page
    page = post("disposition_set", {"audited_disposition": ""})  # back to the billed 06
    assert "DISPOSITION_CHANGED" not in page
    pna2.refresh_from_db()
    assert pna2.audited_disposition == ""


def test_a_diagnosis_goes_on_the_audited_version_once(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    client = client_for(auditor)
    before = list(hf1.code_lines.filter(version="audited").values_list("code", flat=True))
    response = client.post(
        url("line_add", encounter_id=hf1.public_id),
        {"lock_version": hf1.lock_version, "system": "ICD10CM", "code": "E87.1", "poa": "Y"},
        **HTMX,
    )
    assert "E87.1 is already diagnosis 2 of the audited version" in text(response)
    # Changing line 3 into the code of line 2 is refused the same way; line 3 keeping its own
    # code is not a repeat.
    response = _edit(client, hf1, 3, "E87.1")
    assert "E87.1 is already diagnosis 2" in text(response)
    hf1.refresh_from_db()
    assert "already diagnosis" not in text(_edit(client, hf1, 3, "N18.4"))
    after = list(hf1.code_lines.filter(version="audited").values_list("code", flat=True))
    assert after == before
    # A procedure may be coded twice (done twice, ICD-10-PCS B3.2).
    hf1.refresh_from_db()
    response = client.post(
        url("line_add", encounter_id=hf1.public_id),
        {"lock_version": hf1.lock_version, "system": "ICD10PCS", "code": "0JH606Z"},
        **HTMX,
    )
    assert "Saved. 1 new finding." in text(response)


def test_the_saved_notice_counts_alike_findings_one_by_one(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    op4 = _encounter(worked, "OP-4")
    client = client_for(auditor)

    def add_j1100() -> str:
        op4.refresh_from_db()
        return text(
            client.post(
                url("line_add", encounter_id=op4.public_id),
                {"lock_version": op4.lock_version, "system": "HCPCS", "code": "J1100"},
                **HTMX,
            )
        )

    assert "Saved. 1 new finding." in add_j1100()  # line 3: J1100 again, ADDED
    assert "Saved. 1 new finding." in add_j1100()  # line 4: alike, still one more
    op4.refresh_from_db()
    response = client.post(
        url("line_remove", encounter_id=op4.public_id, group="LINE", seq=4),
        {"lock_version": op4.lock_version},
        **HTMX,
    )
    assert "Saved. 1 finding resolved." in text(response)


def test_invalid_codes_are_explained_and_nothing_is_lost(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    em3 = _encounter(worked, "EM-3")
    client = client_for(auditor)
    add = url("line_add", encounter_id=em3.public_id)
    cases = [
        ({"system": "CPT", "code": "9921"}, "A CPT code is 5 digits"),
        ({"system": "HCPCS", "code": "J110"}, "A HCPCS code is a letter and 4 digits"),
        ({"system": "ICD10PCS", "code": "0JH606"}, "exactly 7 letters or digits"),
        ({"system": "ICD10CM", "code": "E1"}, "An ICD-10-CM code is a letter and 2"),
        (
            {"system": "CPT", "code": "99213", "modifiers": "25 RTX"},
            "A modifier is 2 letters or digits (not RTX)",
        ),
        ({"system": "CPT", "code": "99213", "modifiers": "25 RT LT 59 76"}, "At most 4 modifiers."),
        ({"system": "CPT", "code": "99213", "units": "0"}, "greater than or equal to 1"),
        ({"system": "ICD10CM", "code": "E11.9", "poa": "X"}, "POA is Y, N, U, W, 1 or blank."),
    ]
    for data, message in cases:
        response = client.post(add, {"lock_version": em3.lock_version, **data}, **HTMX)
        page = text(response)
        assert message in page, data
        assert "Not saved" in page
        assert f'value="{data["code"]}"' in response.content.decode()  # what was typed stays
    # Without JavaScript: the full page, with the same errors.
    response = client.post(
        add, {"lock_version": em3.lock_version, "system": "CPT", "code": "ABCDE"}
    )
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert "A CPT code is 5 digits" in text(response)
    em3.refresh_from_db()
    assert em3.lock_version == 1
    # 3074F (a CPT category II code) and a HCPCS code are fine.
    response = client.post(add, {"lock_version": 1, "system": "CPT", "code": "3074f"}, **HTMX)
    assert "Saved." in text(response)
    # A service line typed under the wrong one of CPT / HCPCS is filed under the right one.
    response = client.post(add, {"lock_version": 2, "system": "CPT", "code": "j1100"}, **HTMX)
    assert "Saved." in text(response)
    assert em3.code_lines.get(version="audited", code="J1100").system == "HCPCS"


def test_a_second_edit_with_the_same_lock_version_is_a_conflict(
    client_for: ClientFor, worked: Audit, auditor: User, manager: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    loaded = hf1.lock_version
    first = _edit(client_for(auditor), hf1, 3, "N18.5", lock=loaded)
    assert "Saved." in text(first)
    other = client_for(manager)
    second = _edit(other, hf1, 3, "N18.6", lock=loaded)
    page = text(second)
    assert "Someone else saved this encounter" in page
    assert 'value="N18.5"' in second.content.decode()  # their version is shown
    hf1.refresh_from_db()
    assert hf1.findings.filter(audited_code="N185").exists()
    assert not hf1.findings.filter(audited_code="N186").exists()
    # Without JavaScript: a redirect back with the same message.
    third = other.post(
        url("line_remove", encounter_id=hf1.public_id, group="DX", seq=1), {"lock_version": loaded}
    )
    assert third.status_code == 302
    assert "Someone else saved this encounter" in text(other.get(third["Location"]))
    assert hf1.code_lines.filter(version="audited", group="DX").count() == 3


def test_no_js_edit_redirects_back_with_a_message(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    client = client_for(auditor)
    response = _edit(client, hf1, 3, "N18.5", htmx=False)
    assert response.status_code == 302
    assert response["Location"] == url("encounter", encounter_id=hf1.public_id)
    assert "Saved. 1 new finding." in text(client.get(response["Location"]))


def test_annotate_a_finding(client_for: ClientFor, worked: Audit, auditor: User) -> None:
    hf1 = _encounter(worked, "HF-1")
    finding = hf1.findings.get(kind="DELETED")
    client = client_for(auditor)
    target = url("finding_notes", finding_id=finding.public_id)
    data = {
        "error_category": "Unsupported  diagnosis",
        "root_cause": "DOCUMENTATION",
        "rationale": "No insulin on the MAR.\n",
    }
    response = client.post(target, data, **HTMX)
    assert response.content.decode().lstrip().startswith('<div class="finding-notes"')
    assert "✓ Saved" in text(response)
    finding.refresh_from_db()
    assert (finding.error_category, finding.root_cause, finding.rationale) == (
        "Unsupported diagnosis",
        "DOCUMENTATION",
        "No insulin on the MAR.",
    )
    assert AuditLogEntry.objects.filter(action="finding.annotate").count() == 1
    bad = client.post(target, {"root_cause": "GUESSWORK"}, **HTMX)
    assert "Select a valid choice" in text(bad)
    # Without JavaScript: back to the finding.
    response = client.post(target, {**data, "rationale": "Changed."})
    assert response["Location"].endswith(f"#finding-{finding.public_id}")
    page = text(client_for(auditor).get(url("encounter", encounter_id=hf1.public_id)))
    assert "Changed." in page


def test_a_stale_notes_save_is_refused_and_loses_nothing(
    client_for: ClientFor, worked: Audit, auditor: User, manager: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    finding = hf1.findings.get(kind="DELETED")
    target = url("finding_notes", finding_id=finding.public_id)
    page = client_for(auditor).get(url("encounter", encounter_id=hf1.public_id)).content.decode()
    drawn = finding.notes_version
    assert f'name="notes_version" value="{drawn}"' in page
    # The manager saves first, from the same version.
    first = client_for(manager).post(
        target, {"notes_version": drawn, "rationale": "Manager reading."}, **HTMX
    )
    assert "✓ Saved" in text(first)
    # The auditor's save, made against the version both had loaded, is refused.
    second = client_for(auditor).post(
        target,
        {"notes_version": drawn, "error_category": "Clerical", "rationale": "Auditor text."},
        **HTMX,
    )
    shown = text(second)
    assert "Someone else changed this finding" in shown
    assert "✓ Saved" not in shown
    assert "Manager reading." in shown  # their version, in the form
    assert "Auditor text." in shown  # and the refused text, to copy from
    finding.refresh_from_db()
    assert (finding.rationale, finding.error_category) == ("Manager reading.", "")
    assert finding.notes_version == drawn + 1
    assert AuditLogEntry.objects.filter(action="finding.annotate").count() == 1
    # Saving again from the version now shown works.
    again = client_for(auditor).post(
        target, {"notes_version": finding.notes_version, "rationale": "Agreed text."}, **HTMX
    )
    assert "✓ Saved" in text(again)
    # Without JavaScript the refusal is a message on the page.
    browser = client_for(auditor)
    stale = browser.post(target, {"notes_version": drawn, "rationale": "Late."})
    assert stale.status_code == 302
    assert "Someone else changed" in text(browser.get(stale["Location"]))
    finding.refresh_from_db()
    assert finding.rationale == "Agreed text."


def test_mark_reviewed(client_for: ClientFor, worked: Audit, auditor: User) -> None:
    op4 = _encounter(worked, "OP-4")
    response = client_for(auditor).post(
        url("review_status", encounter_id=op4.public_id), {"status": "done"}, **HTMX
    )
    page = text(response)
    assert "Marked reviewed." in page
    assert "Reopen" in page
    op4.refresh_from_db()
    assert op4.review_status == Encounter.ReviewStatus.DONE


def test_workspace_neighbours_for_keyboard_navigation(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    html = client_for(auditor).get(url("encounter", encounter_id=hf1.public_id)).content.decode()
    prev_url = url("encounter", encounter_id=_encounter(worked, "EM-3").public_id)
    next_url = url("encounter", encounter_id=_encounter(worked, "OP-4").public_id)
    assert f'id="nav-prev" class="btn btn-sm" rel="prev" href="{prev_url}"' in html
    assert f'id="nav-next" class="btn btn-sm" rel="next" href="{next_url}"' in html
    assert "auditcoach/workspace.js" in html
    assert Finding.objects.filter(encounter=hf1).count() == 4


def test_import_job_page_checklist(
    assert_tenancy: AssertTenancy,
    org: Organization,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
    tmp_path: Path,
) -> None:
    job = ImportJob.objects.create(organization=org, name="Queued", path=str(tmp_path / "x"))
    assert_tenancy(
        url("import_job", job_id=job.public_id),
        allowed=[manager, auditor],
        forbidden=[coder_user, educator, viewer],
    )


# --------------------------------------------------------------------------- coding knowledge


def _row(html: str, row_id: str) -> str:
    """A code line's table row and its detail row (marks, description)."""
    start = html.index(f'id="{row_id}"')
    detail = html.index(f'id="{row_id}-d"', start)
    return html[start : html.index("</tr>", detail)]


def _import_csv(
    org: Organization, auditor: User, folder: Path, encounters: str, codes: str, name: str
) -> Audit:
    folder.mkdir(parents=True, exist_ok=True)
    header = "encounter_id,setting,discharge_date,age,sex,discharge_disposition,facility\n"
    (folder / "encounters.csv").write_text(header + encounters)
    (folder / "codes.csv").write_text("encounter_id,version,system,seq,code,poa\n" + codes)
    return audit_import(organization=org, workbook=read_workbook(folder), name=name, actor=auditor)


def test_drg_panel_shows_mdc_weights_and_what_drove_each_drg(
    client_for: ClientFor, worked: Audit, viewer: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    response = client_for(viewer).get(url("encounter", encounter_id=hf1.public_id))
    page = text(response)
    # Original 292 (E87.1 is the CC that drives it; N18.4 is a CC too but not needed).
    assert "Original DRG 292 MDC 05 · RW" in page
    assert "Heart Failure and Shock with CC" in page
    assert "Audited DRG 259 MDC 05 · RW" in page
    assert "Cardiac Pacemaker Device Replacement without MCC" in page
    assert "Financial impact +$7,625.15 ΔRW +" in page
    assert "Base rate $6,500.00 (North)" in page
    html = response.content.decode()
    original = _row(html, "o-DX-2")
    assert 'class="badge badge-cc"' in original
    assert "drives DRG" in original
    original_n18 = _row(html, "o-DX-3")
    assert 'class="badge badge-cc"' in original_n18
    assert "drives DRG" not in original_n18
    # Audited: the OR procedure drives 259; E87.1 no longer does.
    audited_px = _row(html, "a-PX-1")
    assert 'class="badge badge-or"' in audited_px
    assert "drives DRG" in audited_px
    audited_e87 = _row(html, "a-DX-2")
    assert "drives DRG" not in audited_e87
    # Descriptions from the code sets, as of the discharge date.
    assert "Acute on chronic systolic (congestive) heart failure" in page
    assert "Insertion of Pacemaker, Dual Chamber into Chest Subcutaneous Tissue" in page


def test_drg_panel_explains_a_hac(
    client_for: ClientFor, org: Organization, auditor: User, tmp_path: Path
) -> None:
    # A stage 3 pressure ulcer (MCC) not present on admission is a HAC: the initial DRG
    # counts it (193, with MCC), the final one does not (194, with the CC E87.1).
    audit = _import_csv(
        org,
        auditor,
        tmp_path / "hac",
        "HAC-1,inpatient,2026-06-02,81,M,01,\n",
        "".join(
            f"HAC-1,{version},ICD10CM,{seq},{code},{poa}\n"
            for version in ("original", "audited")
            for seq, code, poa in ((1, "J18.9", "Y"), (2, "L89.153", "N"), (3, "E87.1", "Y"))
        ),
        "HAC",
    )
    encounter = _encounter(audit, "HAC-1")
    html = client_for(auditor).get(url("encounter", encounter_id=encounter.public_id))
    page = text(html)
    assert "Initial DRG 193 → final 194 (HAC)" in page
    assert "Audited: HAC: POA N on L89.153 moved the final DRG from 193 to 194." in page
    row = _row(html.content.decode(), "a-DX-2")
    assert 'class="badge badge-mcc"' in row
    assert 'class="badge badge-hac"' in row
    assert "drives DRG" not in row


def test_adding_an_mcc_regroups_live(client_for: ClientFor, worked: Audit, auditor: User) -> None:
    pna2 = _encounter(worked, "PNA-2")
    client = client_for(auditor)
    # Remove J96.01 (the MCC): the audited DRG drops to 194 (E87.1 POA N is still a CC).
    response = client.post(
        url("line_remove", encounter_id=pna2.public_id, group="DX", seq=3),
        {"lock_version": pna2.lock_version},
        **HTMX,
    )
    assert "Audited DRG 194" in text(response)
    pna2.refresh_from_db()
    response = client.post(
        url("line_add", encounter_id=pna2.public_id),
        {"lock_version": pna2.lock_version, "system": "ICD10CM", "code": "J96.01", "poa": "Y"},
        **HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workspace"')
    assert "Audited DRG 193" in text(response)
    row = _row(html, "a-DX-3")
    assert 'class="badge badge-mcc"' in row
    assert "drives DRG" in row
    assert "Acute respiratory failure with hypoxia" in row


def test_code_issues_flag_their_line(
    client_for: ClientFor, worked: Audit, auditor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditcoach.audits import selectors
    from auditcoach.engine.model import CodeIssue

    class OneIssue:
        def check(self, encounter: Any) -> tuple[CodeIssue, ...]:
            return (
                CodeIssue("audited", "ICD10CM", 3, "N184", "NOT_VALID_ON_DATE", "N18.4 is not valid on 2026-05-14"),
            )  # fmt: skip

    monkeypatch.setattr(selectors, "checker", OneIssue)
    hf1 = _encounter(worked, "HF-1")
    html = client_for(auditor).get(url("encounter", encounter_id=hf1.public_id)).content.decode()
    flagged = _row(html, "a-DX-3")
    assert "⚠</span> not valid on this date" in flagged
    assert "N18.4 is not valid on 2026-05-14" in flagged
    assert "badge-issue" not in _row(
        html, "o-DX-3"
    )  # same code, but the issue is the audited line's


def test_cpt_lines_show_only_the_organizations_licensed_descriptor(
    client_for: ClientFor, worked: Audit, auditor: User, org: Organization, other_org: Organization
) -> None:
    from django.utils import timezone

    from auditcoach.codesets.models import CptCode

    em3 = _encounter(worked, "EM-3")
    client = client_for(auditor)
    page = text(client.get(url("encounter", encounter_id=em3.public_id)))
    assert "99213" in page
    assert "Test descriptor" not in page
    now = timezone.now()
    CptCode.objects.create(
        organization=org, code="99213", description="Test descriptor A", uploaded_at=now
    )
    CptCode.objects.create(
        organization=other_org, code="93000", description="Test descriptor Z", uploaded_at=now
    )
    page = text(client.get(url("encounter", encounter_id=em3.public_id)))
    assert "Test descriptor A" in page
    assert "Test descriptor Z" not in page


def test_code_fields_are_search_comboboxes(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    hf1 = _encounter(worked, "HF-1")
    html = client_for(auditor).get(url("encounter", encounter_id=hf1.public_id)).content.decode()
    search = reverse("codesets:search", kwargs={"org_slug": "north-health"})
    add = html[html.index('id="add-code"') - 200 :][:1200]
    assert 'role="combobox"' in add
    assert 'aria-controls="code-options"' in add
    assert f'hx-get="{search}?system=ICD10CM&amp;system=ICD10PCS"' in add  # inpatient
    assert 'hx-trigger="input changed delay:150ms"' in add
    row = html[html.index('aria-label="Code, audited DX line 1"') - 200 :][:1000]
    assert f'hx-get="{search}?system=ICD10CM"' in row
    assert '<div id="code-options" class="suggest" role="listbox"' in html
    assert "auditcoach/code-search.js" in html


# --------------------------------------------------------------------------- E/M leveling


def test_em_endpoints_checklist(
    assert_tenancy: AssertTenancy,
    worked: Audit,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    finding = _encounter(worked, "EM-3").findings.get(kind="REVISED", group="LINE")
    forbidden = [coder_user, educator, viewer]
    assert_tenancy(
        url("em_level_preview") + "?family=9921&problems=low&data_reviewed=low&risk=low",
        allowed=[manager, auditor],
        forbidden=forbidden,
    )
    assert_tenancy(
        url("finding_em_level", finding_id=finding.public_id),
        allowed=[auditor],
        forbidden=forbidden,
        method="post",
        wrong_method="get",
        data={"problems": "moderate", "data_reviewed": "low", "risk": "moderate"},
    )


def test_em_preview_shows_the_supported_code(client_for: ClientFor, auditor: User) -> None:
    client = client_for(auditor)
    params = {"family": "9921", "billed": "99215", "audited": "99213"}
    page = text(
        client.get(
            url("em_level_preview"),
            {**params, "problems": "moderate", "data_reviewed": "low", "risk": "moderate"},
            **HTMX,
        )
    )
    assert "Supports 99214 by MDM" in page
    assert "audited code is 99213" in page
    assert (
        "MDM moderate (problems moderate, data low, risk moderate; 2 of 3) supports 99214; "
        "billed 99215." in page
    )
    page = text(client.get(url("em_level_preview"), {**params, "minutes": "44", "family": "9920"}))
    assert "Supports 99203 by time" in page
    page = text(client.get(url("em_level_preview"), {**params, "problems": "high"}))
    assert "Rate all three MDM elements" in page


def test_save_an_em_leveling_on_a_finding(
    client_for: ClientFor, worked: Audit, auditor: User, viewer: User
) -> None:
    em3 = _encounter(worked, "EM-3")
    finding = em3.findings.get(kind="REVISED", group="LINE")
    assert finding.em_delta == -2
    client = client_for(auditor)
    html = client.get(url("encounter", encounter_id=em3.public_id)).content.decode()
    assert "office visit, established patient" in html
    target = url("finding_em_level", finding_id=finding.public_id)
    data = {
        "problems": "low",
        "data_reviewed": "low",
        "risk": "minimal",
        "minutes": "22",
        "append": "on",
    }
    response = client.post(target, data, **HTMX)
    page = text(response)
    assert "E/M leveling saved: it supports 99213." in page
    finding.refresh_from_db()
    sentence = (
        "MDM low (problems low, data low, risk minimal; 2 of 3) supports 99213; total time "
        "22 min supports 99213; the higher, 99213, applies; billed 99215."
    )
    assert finding.em_leveling["code"] == "99213"
    assert finding.em_leveling["minutes"] == 22
    assert finding.rationale == sentence
    # Saving again does not add the sentence twice; the form shows what was saved.
    response = client.post(target, data, **HTMX)
    finding.refresh_from_db()
    assert finding.rationale == sentence
    html = response.content.decode()
    assert '<option value="low" selected>Low</option>' in html
    assert 'value="22"' in html
    assert AuditLogEntry.objects.filter(action="finding.em_level").count() == 1
    assert AuditLogEntry.objects.filter(action="finding.annotate").count() == 1
    # A viewer reads the leveling, without the form.
    page = text(client_for(viewer).get(url("encounter", encounter_id=em3.public_id)))
    assert sentence in page
    assert "Save leveling" not in page


def test_an_incomplete_em_leveling_is_not_saved(
    client_for: ClientFor, worked: Audit, auditor: User
) -> None:
    em3 = _encounter(worked, "EM-3")
    finding = em3.findings.get(kind="REVISED", group="LINE")
    client = client_for(auditor)
    response = client.post(
        url("finding_em_level", finding_id=finding.public_id), {"problems": "high"}, **HTMX
    )
    assert "E/M leveling not saved: Rate all three MDM elements" in text(response)
    finding.refresh_from_db()
    assert finding.em_leveling == {}
    # A finding that is not about an office E/M code has no leveling.
    other = _encounter(worked, "HF-1").findings.get(kind="REVISED")
    response = client.post(
        url("finding_em_level", finding_id=other.public_id),
        {"problems": "low", "data_reviewed": "low", "risk": "low"},
    )
    assert response.status_code == 404


def test_an_em_line_without_a_finding_gets_the_helper_unsaved(
    client_for: ClientFor, org: Organization, auditor: User, tmp_path: Path
) -> None:
    audit = _import_csv(
        org,
        auditor,
        tmp_path / "em",
        "EM-9,profee,2026-06-10,52,F,,\n",
        "EM-9,original,CPT,1,99213,\nEM-9,audited,CPT,1,99213,\n",
        "E/M match",
    )
    encounter = _encounter(audit, "EM-9")
    html = client_for(auditor).get(url("encounter", encounter_id=encounter.public_id))
    page = text(html)
    assert "E/M leveling Audited 99213" in page
    assert "No finding on this line, so nothing is saved" in page
    assert "Save leveling" not in page
    preview = url("em_level_preview")
    assert f'hx-get="{preview}"' in html.content.decode()
