"""The library screens and the workspace's library actions: the tenancy checklist for every
view, then what people see and do."""

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from auditcoach.accounts.models import Facility, Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Finding, RootCause
from auditcoach.audits.services import audit_import
from auditcoach.engine.workbook import read_workbook
from auditcoach.library import services
from auditcoach.library.models import RationaleTemplate, Reference, Source, TaxonomyTerm
from auditcoach.library.seed import library_seed
from tests.conftest import AssertTenancy, ClientFor

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"
HTMX = {"HTTP_HX_REQUEST": "true"}

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"library:{name}", kwargs={"org_slug": "north-health", **kwargs})


def text(response: Any) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def seeded(org: Organization) -> Organization:
    library_seed(organization=org)
    return org


@pytest.fixture
def reference(seeded: Organization) -> Reference:
    return Reference.objects.get(organization=seeded, section="I.C.1.d.4")


@pytest.fixture
def template(seeded: Organization) -> RationaleTemplate:
    return RationaleTemplate.objects.get(organization=seeded, topic="sepsis-sequencing")


@pytest.fixture
def finding(org: Organization, auditor: User) -> Finding:
    Facility.objects.create(organization=org, name="North", base_rate=Decimal("6500.00"))
    audit: Audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked", actor=auditor
    )
    return Finding.objects.filter(encounter__audit=audit).order_by("pk").first()  # type: ignore[return-value]


# --------------------------------------------------------------------------- the checklist


def test_read_views_checklist(
    assert_tenancy: AssertTenancy, reference: Reference, manager: User, auditor: User,
    coder_user: User, educator: User, viewer: User,
) -> None:  # fmt: skip
    everyone = [manager, auditor, coder_user, educator, viewer]
    assert_tenancy(url("references"), allowed=everyone)
    assert_tenancy(url("reference", reference_id=reference.public_id), allowed=everyone)


def test_reference_write_views_checklist(
    assert_tenancy: AssertTenancy, reference: Reference, manager: User, auditor: User,
    coder_user: User, educator: User, viewer: User,
) -> None:  # fmt: skip
    writers = [manager, auditor, educator]
    readers = [coder_user, viewer]
    assert_tenancy(url("reference_create"), allowed=writers, forbidden=readers, wrong_method="put")
    assert_tenancy(
        url("reference_edit", reference_id=reference.public_id),
        allowed=writers, forbidden=readers, wrong_method="put",
    )  # fmt: skip
    assert_tenancy(
        url("reference_supersede", reference_id=reference.public_id),
        allowed=writers, forbidden=readers, method="post", wrong_method="get",
    )  # fmt: skip


def test_template_views_checklist(
    assert_tenancy: AssertTenancy, template: RationaleTemplate, manager: User, auditor: User,
    coder_user: User, educator: User, viewer: User,
) -> None:  # fmt: skip
    allowed = [manager, auditor]
    forbidden = [coder_user, educator, viewer]
    assert_tenancy(url("templates"), allowed=allowed, forbidden=forbidden)
    assert_tenancy(url("template_create"), allowed=allowed, forbidden=forbidden, wrong_method="put")
    assert_tenancy(
        url("template_edit", template_id=template.public_id),
        allowed=allowed, forbidden=forbidden, wrong_method="put",
    )  # fmt: skip


def test_taxonomy_views_checklist(
    assert_tenancy: AssertTenancy, seeded: Organization, manager: User, auditor: User,
    coder_user: User, educator: User, viewer: User,
) -> None:  # fmt: skip
    forbidden = [auditor, coder_user, educator, viewer]
    term = TaxonomyTerm.objects.get(organization=seeded, kind="topic", code="poa")
    assert_tenancy(url("taxonomy"), allowed=[manager], forbidden=forbidden)
    assert_tenancy(
        url("term_create"), allowed=[manager], forbidden=forbidden, method="post",
        wrong_method="get", data={"kind": "topic", "label": "Obesity and BMI"},
    )  # fmt: skip
    assert_tenancy(
        url("term_update", term_id=term.public_id), allowed=[manager], forbidden=forbidden,
        method="post", wrong_method="get", data={"label": "POA", "position": "3", "active": "on"},
    )  # fmt: skip


def test_finding_actions_checklist(
    assert_tenancy: AssertTenancy, template: RationaleTemplate, reference: Reference,
    finding: Finding, manager: User, auditor: User, coder_user: User, educator: User,
    viewer: User,
) -> None:  # fmt: skip
    forbidden = [coder_user, educator, viewer]
    fid = finding.public_id
    for name, kwargs, data in (
        ("finding_template_apply", {}, {"template": str(template.public_id)}),
        ("finding_topic", {}, {"topic": "poa"}),
        ("finding_reference_remove", {"reference_id": reference.public_id}, {}),
    ):
        assert_tenancy(
            url(name, finding_id=fid, **kwargs), allowed=[manager, auditor], forbidden=forbidden,
            method="post", wrong_method="get", data=data,
        )  # fmt: skip


def test_another_orgs_reference_is_404(
    client_for: ClientFor, other_org: Organization, manager: User
) -> None:
    theirs = (
        library_seed(organization=other_org)
        and Reference.objects.filter(organization=other_org).first()
    )
    assert theirs is not None
    response = client_for(manager).get(url("reference", reference_id=theirs.public_id))
    assert response.status_code == 404


# --------------------------------------------------------------------------- behaviour


def test_search_and_the_superseded_toggle(
    client_for: ClientFor, seeded: Organization, reference: Reference, coder_user: User
) -> None:
    newer = services.reference_create(
        organization=seeded, actor=None, source=Source.OCG, year=2027, section="I.C.1.d.4",
        code_set="ICD10CM", summary="Newer sepsis advice.",
    )  # fmt: skip
    services.reference_supersede(reference=reference, replacement=newer, actor=None)
    client = client_for(coder_user)
    page = text(client.get(url("references"), {"q": "sepsis"}))
    assert "OCG FY2027 I.C.1.d.4" in page
    assert "OCG FY2026 I.C.1.d.4" not in page
    page = text(client.get(url("references"), {"q": "sepsis", "superseded": "on"}, **HTMX))
    assert "OCG FY2026 I.C.1.d.4 Superseded by OCG FY2027 I.C.1.d.4" in page
    detail = text(client.get(url("reference", reference_id=reference.public_id)))
    assert "Superseded" in detail
    assert "follow the newer advice" in detail
    assert "Mark superseded" not in detail  # coders read only
    page = text(client.get(url("references"), {"source": Source.NCCI}))
    assert "NCCI Policy Manual ch. XI (2026)" in page
    assert "OCG" not in page


def test_add_and_edit_a_reference(client_for: ClientFor, org: Organization, educator: User) -> None:
    client = client_for(educator)
    bad = client.post(
        url("reference_create"),
        {"source": "CODING_CLINIC", "year": "2016", "quarter": "5", "summary": "x"},
    )
    assert bad.status_code == 200
    assert "Quarter must be 1, 2, 3 or 4" in text(bad)
    assert "Page is required" in text(bad)
    response = client.post(
        url("reference_create"),
        {"source": "CODING_CLINIC", "year": "2016", "quarter": "3", "page": "8",
         "section": "ignored", "summary": "Own words.", "url": ""},
    )  # fmt: skip
    ref = Reference.objects.get(organization=org)
    assert response.status_code == 302
    assert ref.citation == "Coding Clinic 3Q 2016 p. 8"
    assert ref.section == ""
    assert ref.created_by == educator
    response = client.post(
        url("reference_edit", reference_id=ref.public_id),
        {"source": "CODING_CLINIC", "year": "2016", "quarter": "4", "page": "8",
         "summary": "Own words.", "url": "http://insecure.example"},
    )  # fmt: skip
    assert "https://" in text(response)
    client.post(
        url("reference_edit", reference_id=ref.public_id),
        {"source": "CODING_CLINIC", "year": "2016", "quarter": "4", "page": "8",
         "summary": "Own words."},
    )  # fmt: skip
    ref.refresh_from_db()
    assert ref.citation == "Coding Clinic 4Q 2016 p. 8"


def test_supersede_from_the_page(
    client_for: ClientFor, seeded: Organization, reference: Reference, auditor: User
) -> None:
    newer = Reference.objects.get(organization=seeded, section="Section II")
    response = client_for(auditor).post(
        url("reference_supersede", reference_id=reference.public_id),
        {"replacement": str(newer.public_id)},
    )
    assert response.status_code == 302
    reference.refresh_from_db()
    assert reference.superseded_by == newer


def test_templates_create_and_edit(
    client_for: ClientFor, seeded: Organization, reference: Reference, auditor: User
) -> None:
    client = client_for(auditor)
    page = text(client.get(url("template_create")))
    assert "Sepsis sequencing" in page
    assert "OCG FY2026 I.C.1.d.4" in page
    response = client.post(
        url("template_create"),
        {"title": "Urosepsis", "topic": "sepsis-sequencing", "error_category": "Sequencing",
         "root_cause": "GUIDELINE_MISAPPLIED", "body": "Sepsis first.",
         "references": [str(reference.public_id)], "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    made = RationaleTemplate.objects.get(organization=seeded, title="Urosepsis")
    assert [r.pk for r in made.references.all()] == [reference.pk]
    assert "Urosepsis" in text(client.get(url("templates")))
    response = client.post(
        url("template_edit", template_id=made.public_id),
        {"title": "Urosepsis", "topic": "no-such-topic", "body": "x"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    client.post(
        url("template_edit", template_id=made.public_id),
        {"title": "Urosepsis", "topic": "", "body": "Sepsis first, always.", "root_cause": ""},
    )
    made.refresh_from_db()
    assert (made.body, made.topic, made.active, made.references.count()) == (
        "Sepsis first, always.", "", False, 0,
    )  # fmt: skip


def test_a_duplicate_template_title_is_a_form_error(
    client_for: ClientFor, seeded: Organization, auditor: User
) -> None:
    client = client_for(auditor)
    first = {"title": "Urosepsis", "body": "Sepsis first.", "active": "on"}
    assert client.post(url("template_create"), first).status_code == 302
    # The service is not handed the request; the entry still says where it came from.
    made = RationaleTemplate.objects.get(organization=seeded, title="Urosepsis")
    entry = AuditLogEntry.objects.get(action="template.create", object_id=made.public_id)
    assert entry.ip == "127.0.0.1"
    response = client.post(url("template_create"), {**first, "body": "Another text."})
    assert response.status_code == 200
    assert "exists already" in text(response)
    assert RationaleTemplate.objects.filter(organization=seeded, title="Urosepsis").count() == 1
    # Renaming another template to the taken title is refused the same way.
    client.post(url("template_create"), {"title": "CHF", "body": "Specify.", "active": "on"})
    other = RationaleTemplate.objects.get(organization=seeded, title="CHF")
    response = client.post(
        url("template_edit", template_id=other.public_id), {"title": " Urosepsis ", "body": "x"}
    )
    assert response.status_code == 200
    assert "exists already" in text(response)
    other.refresh_from_db()
    assert other.title == "CHF"


def test_taxonomy_page_renames_and_refuses_deleting_root_causes(
    client_for: ClientFor, seeded: Organization, manager: User
) -> None:
    client = client_for(manager)
    assert "GUIDELINE_MISAPPLIED" in text(client.get(url("taxonomy")))
    root = TaxonomyTerm.objects.get(organization=seeded, kind="root_cause", code="SYSTEM")
    client.post(
        url("term_update", term_id=root.public_id),
        {"label": "Encoder / CAC", "position": "5", "active": "on"},
    )
    root.refresh_from_db()
    assert root.label == "Encoder / CAC"
    assert root.code == "SYSTEM"
    response = client.post(url("term_update", term_id=root.public_id), {"delete": "1"}, follow=True)
    assert "Root causes are fixed" in text(response)
    client.post(url("term_create"), {"kind": "topic", "label": "Obesity and BMI"})
    assert TaxonomyTerm.objects.filter(organization=seeded, code="obesity-and-bmi").exists()


def test_workspace_applies_a_template_sets_a_topic_and_shows_citations(
    client_for: ClientFor, template: RationaleTemplate, finding: Finding, auditor: User,
    viewer: User,
) -> None:  # fmt: skip
    client = client_for(auditor)
    workspace = reverse(
        "audits:encounter",
        kwargs={"org_slug": "north-health", "encounter_id": finding.encounter.public_id},
    )
    page = text(client.get(workspace))
    assert template.title in page
    assert "Set topic" in page

    response = client.post(
        url("finding_template_apply", finding_id=finding.public_id),
        {"template": str(template.public_id)}, **HTMX,
    )  # fmt: skip
    assert response.status_code == 200
    shown = text(response)
    assert f"Applied “{template.title}”" in shown
    assert "OCG FY2026 I.C.1.d.4" in shown
    assert "OCG FY2026 Section II" in shown
    finding.refresh_from_db()
    assert finding.topic == "sepsis-sequencing"
    assert finding.root_cause == RootCause.GUIDELINE_MISAPPLIED
    assert finding.rationale == template.body

    response = client.post(
        url("finding_topic", finding_id=finding.public_id), {"topic": "poa"}
    )  # without JS: back to the finding
    assert response.status_code == 302
    assert response["Location"].endswith(f"#finding-{finding.public_id}")
    finding.refresh_from_db()
    assert finding.topic == "poa"
    bad = client.post(url("finding_topic", finding_id=finding.public_id), {"topic": "x"}, **HTMX)
    assert "Choose one of the organization" in text(bad)

    # A topic or template chosen on a page drawn before someone else's save is refused.
    stale = finding.notes_version - 1
    for name, data in (
        ("finding_topic", {"topic": "sepsis-sequencing"}),
        ("finding_template_apply", {"template": str(template.public_id)}),
    ):
        refused = client.post(
            url(name, finding_id=finding.public_id), {**data, "notes_version": stale}, **HTMX
        )
        assert "Someone else changed this finding" in text(refused), name
    finding.refresh_from_db()
    assert finding.topic == "poa"

    # Viewers see the citations and the topic, not the controls.
    page = text(client_for(viewer).get(workspace))
    assert "OCG FY2026 I.C.1.d.4" in page
    assert "Topic: POA" in page
    assert "Set topic" not in page


def test_workspace_query_count_does_not_grow_with_references(
    client_for: ClientFor, template: RationaleTemplate, finding: Finding, auditor: User,
    django_assert_max_num_queries: Any,
) -> None:  # fmt: skip
    services.finding_template_apply(finding=finding, template=template, actor=auditor)
    client = client_for(auditor)
    workspace = reverse(
        "audits:encounter",
        kwargs={"org_slug": "north-health", "encounter_id": finding.encounter.public_id},
    )
    client.get(workspace)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get(workspace)
    for other in Finding.objects.filter(encounter=finding.encounter).exclude(pk=finding.pk):
        services.finding_template_apply(finding=other, template=template, actor=auditor)
    with django_assert_max_num_queries(len(before)):
        client.get(workspace)
