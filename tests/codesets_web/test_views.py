"""The coding-knowledge screens: code search, the licensed CPT file, facility base rates.

CPT descriptors are the AMA's: these tests use made-up ones ("Test descriptor A").
"""

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter
from auditcoach.audits.services import audit_import
from auditcoach.codesets.models import CptCode
from auditcoach.engine.workbook import read_workbook
from tests.conftest import AssertTenancy, ClientFor

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"
HTMX = {"HTTP_HX_REQUEST": "true"}

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"codesets:{name}", kwargs={"org_slug": "north-health", **kwargs})


def text(response: Any) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def cpt_rows(org: Organization, *rows: tuple[str, str]) -> None:
    now = timezone.now()
    CptCode.objects.bulk_create(
        CptCode(organization=org, code=c, description=d, uploaded_at=now) for c, d in rows
    )


def upload(name: str, content: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


@pytest.fixture
def worked(org: Organization, auditor: User) -> Audit:
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    return audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )


# --------------------------------------------------------------------------- the checklist


def test_search_checklist(
    assert_tenancy: AssertTenancy,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    # Everyone who opens the workspace may search; coders have no workspace yet.
    assert_tenancy(
        url("search") + "?q=I50",
        allowed=[manager, auditor, educator, viewer],
        forbidden=[coder_user],
    )


def test_manager_pages_checklist(
    assert_tenancy: AssertTenancy,
    org: Organization,
    manager: User,
    auditor: User,
    coder_user: User,
    educator: User,
    viewer: User,
) -> None:
    others = [auditor, coder_user, educator, viewer]
    assert_tenancy(url("cpt"), allowed=[manager], forbidden=others, wrong_method="put")
    assert_tenancy(url("facilities"), allowed=[manager], forbidden=others)
    facility = Facility.objects.create(organization=org, name="North")
    assert_tenancy(
        url("facility_rate", facility_id=facility.public_id),
        allowed=[manager],
        forbidden=others,
        method="post",
        wrong_method="get",
        data={"base_rate": "6500"},
    )


def test_another_orgs_facility_is_404(
    client_for: ClientFor, manager: User, other_org: Organization
) -> None:
    theirs = Facility.objects.create(organization=other_org, name="South")
    response = client_for(manager).post(
        url("facility_rate", facility_id=theirs.public_id), {"base_rate": "1"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.base_rate is None


# --------------------------------------------------------------------------- search


def test_search_returns_an_htmx_listbox(client_for: ClientFor, auditor: User) -> None:
    response = client_for(auditor).get(url("search"), {"q": "J96.0", "system": "ICD10CM"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    codes = re.findall(
        r'role="option" id="code-opt-\d+" aria-selected="false" data-code="([^"]+)"', html
    )
    assert "J96.01" in codes
    assert all(code.startswith("J96.0") for code in codes)
    assert 'data-system="ICD10CM"' in html
    assert "Acute respiratory failure with hypoxia" in text(response)


def test_search_answers_json_and_reads_the_code_field(client_for: ClientFor, auditor: User) -> None:
    # The workspace's code fields are named `code`; the search reads that too.
    response = client_for(auditor).get(
        url("search"),
        {"code": "heart failure acute on chronic diastolic", "system": "ICD10CM"},
        HTTP_ACCEPT="application/json",
    )
    body = response.json()
    assert body["query"] == "heart failure acute on chronic diastolic"
    first = body["results"][0]
    assert first["code"] == "I5033"
    assert first["display"] == "I50.33"
    assert set(first) == {"system", "code", "display", "description", "billable", "header"}


def test_search_finds_the_organizations_cpt_codes_only(
    client_for: ClientFor, auditor: User, org: Organization, other_org: Organization
) -> None:
    cpt_rows(org, ("99213", "Test descriptor A"), ("99214", "Test descriptor B"))
    cpt_rows(other_org, ("99215", "Test descriptor C"))
    client = client_for(auditor)

    def results(**params: str) -> list[tuple[str, str]]:
        response = client.get(url("search"), params, HTTP_ACCEPT="application/json")
        return [(r["system"], r["code"]) for r in response.json()["results"]]

    assert results(q="9921", system="CPT") == [("CPT", "99213"), ("CPT", "99214")]
    assert results(q="descriptor b", system="CPT") == [("CPT", "99214")]
    assert results(q="Test descriptor C", system="CPT") == []  # another organization's
    # Blank system: all systems; a code-like query starting with a digit lists CPT first.
    assert results(q="99213")[0] == ("CPT", "99213")
    # A one-character query matches too much to help.
    assert results(q="9") == []
    # An unknown system is ignored rather than losing the query.
    assert results(q="99213", system="XYZ")[0] == ("CPT", "99213")


def test_search_says_when_nothing_matches(client_for: ClientFor, viewer: User) -> None:
    response = client_for(viewer).get(url("search"), {"q": "zzqx", "system": "HCPCS"})
    assert "No code matches “zzqx”." in text(response)


# --------------------------------------------------------------------------- CPT file


def test_cpt_page_counts_the_loaded_codes(
    client_for: ClientFor,
    manager: User,
    org: Organization,
    other_org: Organization,
    django_assert_max_num_queries: Any,
) -> None:
    cpt_rows(org, *((f"{99200 + i}", f"Test descriptor {i}") for i in range(30)))
    cpt_rows(other_org, ("99213", "Test descriptor X"))
    client = client_for(manager)
    client.get(url("cpt"))  # warm the session
    with django_assert_max_num_queries(6):
        response = client.get(url("cpt"))
    page = text(response)
    assert "30 CPT codes with your licensed descriptors" in page
    assert "Test descriptor" not in page  # the page counts them; it does not list them


def test_upload_a_good_csv_replaces_the_set(
    client_for: ClientFor, manager: User, org: Organization
) -> None:
    cpt_rows(org, ("99999", "Test descriptor old"))
    content = 'code,description,extra\n99213,"Test descriptor A, office",x\n 9921 4 ,Test  descriptor B\n\n3074F,Test descriptor C\n0042T,Test descriptor D\n'
    client = client_for(manager)
    response = client.post(url("cpt"), {"file": upload("cpt.csv", content)})
    assert response.status_code == 302
    assert dict(CptCode.objects.filter(organization=org).values_list("code", "description")) == {
        "99213": "Test descriptor A, office",
        "99214": "Test descriptor B",
        "3074F": "Test descriptor C",
        "0042T": "Test descriptor D",
    }
    assert "Loaded 4 CPT codes from cpt.csv." in text(client.get(response["Location"]))
    entry = AuditLogEntry.objects.get(action="cpt.replace")
    assert entry.changes == {"before": 1, "after": 4, "source": "cpt.csv"}
    assert entry.actor == manager
    assert "Test descriptor" not in str(entry.changes)


def test_upload_a_tsv_with_the_ama_column_names(
    client_for: ClientFor, manager: User, org: Organization
) -> None:
    content = "CPT Code\tLong Descriptor\n99213\tTest descriptor A\n99214\tTest descriptor B\n"
    response = client_for(manager).post(url("cpt"), {"file": upload("cpt.tsv", content)})
    assert response.status_code == 302
    assert CptCode.objects.filter(organization=org).count() == 2


def test_a_bad_file_lists_every_problem_and_keeps_the_old_set(
    client_for: ClientFor, manager: User, org: Organization
) -> None:
    cpt_rows(org, ("99213", "Test descriptor old"))
    content = (
        "code,description\n"
        "99213,Test descriptor A\n"  # row 2: fine
        "9921,Test descriptor B\n"  # row 3: 4 characters
        "J1100,Test descriptor C\n"  # row 4: a HCPCS code
        "99213,Test descriptor D\n"  # row 5: duplicate of row 2
        "99215,\n"  # row 6: no description
    )
    before = AuditLogEntry.objects.count()
    response = client_for(manager).post(url("cpt"), {"file": upload("cpt.csv", content)})
    assert response.status_code == 200
    page = text(response)
    assert "The file has 4 problems; nothing was loaded." in page
    rows = re.findall(
        r"<tr><td>cpt.csv</td><td class=\"num\">(\d+)</td><td class=\"mono\">(\w+)</td><td>([^<]+)</td>",
        response.content.decode(),
    )
    assert [(r, c) for r, c, _ in rows] == [
        ("3", "code"),
        ("4", "code"),
        ("5", "code"),
        ("6", "description"),
    ]
    assert "99213 is also on row 2." in rows[2][2]
    assert list(CptCode.objects.filter(organization=org).values_list("description", flat=True)) == [
        "Test descriptor old"
    ]
    assert AuditLogEntry.objects.count() == before


def test_upload_rejects_a_file_without_the_columns(client_for: ClientFor, manager: User) -> None:
    client = client_for(manager)
    page = text(client.post(url("cpt"), {"file": upload("cpt.csv", "cpt,text\n99213,x\n")}))
    assert "No “description” column in the header row." in page
    page = text(client.post(url("cpt"), {"file": upload("cpt.xlsx", "x")}))
    assert "Upload a .csv or .tsv file." in page
    page = text(client.post(url("cpt"), {"file": upload("cpt.csv", "code,description\n")}))
    assert "The file has a header but no codes." in page


# --------------------------------------------------------------------------- base rates


def test_facilities_page_shows_rates_and_the_default(
    client_for: ClientFor,
    manager: User,
    worked: Audit,
    org: Organization,
    other_org: Organization,
    django_assert_max_num_queries: Any,
) -> None:
    for i in range(12):
        Facility.objects.create(organization=org, name=f"Site {i:02d}")
    Facility.objects.create(organization=other_org, name="Not ours")
    client = client_for(manager)
    client.get(url("facilities"))  # warm the session
    with django_assert_max_num_queries(6):
        response = client.get(url("facilities"))
    page = text(response)
    # North has a rate and the worked example's two inpatient encounters.
    assert "North 2 Base rate of North $ Save $6,500.00 this facility's rate" in page
    assert "Clinic 0 Base rate of Clinic $ Save" in page  # no rate: the default of today's FY
    assert "Not ours" not in page
    # FY2026 has no national amount; FY2027 ships one.
    assert re.search(r"FY2026 (\(now\) )?none: set a facility rate to see dollars", page)
    assert re.search(r"FY2027 (\(now\) )?\$6,848\.98", page)


def test_setting_a_base_rate_derives_the_money_again(
    client_for: ClientFor, manager: User, worked: Audit, org: Organization
) -> None:
    north = Facility.objects.get(organization=org, name="North")
    hf1 = Encounter.objects.get(audit=worked, external_id="HF-1")
    assert hf1.financial_impact == Decimal("7625.15")
    assert hf1.rw_delta is not None
    client = client_for(manager)
    target = url("facility_rate", facility_id=north.public_id)

    response = client.post(target, {"base_rate": "$7,000"}, **HTMX)
    page = text(response)
    assert response.content.decode().lstrip().startswith('<div id="facility-table"')
    assert "Base rate of North set to $7,000.00; the dollars of 2 inpatient encounters" in page
    hf1.refresh_from_db()
    expected = (hf1.rw_delta * Decimal("7000")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert hf1.financial_impact == expected
    entry = AuditLogEntry.objects.get(action="facility.base_rate")
    assert entry.changes == {"base_rate": ["6500.00", "7000.00"], "encounters_rederived": 2}

    # Cleared: FY2026 has no national amount, so the dollars become unknown, with a warning.
    response = client.post(target, {"base_rate": ""})
    assert response.status_code == 302
    hf1.refresh_from_db()
    north.refresh_from_db()
    assert north.base_rate is None
    assert hf1.financial_impact is None
    assert any("no base rate" in w for w in hf1.warnings)


def test_a_bad_base_rate_is_explained_and_kept_in_the_field(
    client_for: ClientFor, manager: User, worked: Audit, org: Organization
) -> None:
    north = Facility.objects.get(organization=org, name="North")
    client = client_for(manager)
    target = url("facility_rate", facility_id=north.public_id)
    for typed, message in (
        ("abc", "Enter an amount in dollars"),
        ("0", "A base rate is more than $0."),
        ("-5", "A base rate is more than $0."),
        ("6500.123", "Use at most 2 decimals"),
        # Absurd sizes are form errors, not an overflow while rounding to cents.
        ("1e400", "That base rate is too large."),
        ("9" * 20, "That base rate is too large."),
        ("1e-400", "Use at most 2 decimals"),
        ("NaN", "A base rate is more than $0."),
        ("Infinity", "A base rate is more than $0."),
    ):
        response = client.post(target, {"base_rate": typed}, **HTMX)
        assert message in text(response), typed
        assert f'value="{typed}"' in response.content.decode()
    # Without JavaScript: the whole page, with the same error.
    response = client.post(target, {"base_rate": "abc"})
    assert response.status_code == 200
    assert "<html" in response.content.decode()
    north.refresh_from_db()
    assert north.base_rate == Decimal("6500.00")
    assert not AuditLogEntry.objects.filter(action="facility.base_rate").exists()
