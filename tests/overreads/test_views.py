"""The overread screens: the tenancy checklist for each, and blindness in both directions."""

import re

import pytest

from auditcoach.accounts.models import Organization, User
from auditcoach.auditlog.models import AuditLogEntry
from auditcoach.audits.models import Audit, Encounter
from auditcoach.overreads.models import CalibrationSet, Overread, OverreadPlan
from auditcoach.overreads.services import overread_plan_apply, overread_plan_create
from tests.conftest import AssertTenancy, ClientFor

pytestmark = pytest.mark.django_db

BASE = "/o/north-health/overreads"
# HF-1's first auditor changed I50.9 → I50.23 and added 0JH606Z; the coder never had them.
FIRST_AUDITOR_ONLY = ("I50.23", "I5023", "0JH606Z")


@pytest.fixture
def plan(
    org: Organization, worked: Audit, auditor: User, second: User, manager: User
) -> OverreadPlan:
    return overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=100, reviewer=second,
        seed=3, actor=manager,
    )  # fmt: skip


@pytest.fixture
def hf1(plan: OverreadPlan, manager: User) -> Overread:
    overread_plan_apply(plan=plan, actor=manager)
    return Overread.objects.get(plan=plan, encounter__external_id="HF-1")


def url(o: Overread, rest: str = "") -> str:
    return f"{BASE}/{o.public_id}/{rest}"


# --------------------------------------------------------------------------- tenancy


def test_tenancy_of_manager_pages(
    assert_tenancy: AssertTenancy, manager: User, auditor: User, coder_user: User,
    educator: User, viewer: User,
) -> None:  # fmt: skip
    forbidden = [auditor, coder_user, educator, viewer]
    for page in ("plans/", "consistency/", "calibration/"):
        assert_tenancy(f"{BASE}/{page}", allowed=[manager], forbidden=forbidden)


def test_tenancy_of_the_queue(
    assert_tenancy: AssertTenancy, manager: User, auditor: User, coder_user: User,
    educator: User, viewer: User,
) -> None:  # fmt: skip
    assert_tenancy(f"{BASE}/", allowed=[manager, auditor], forbidden=[coder_user, educator, viewer])


def test_tenancy_of_plan_writes(
    assert_tenancy: AssertTenancy, plan: OverreadPlan, manager: User, auditor: User,
    second: User, coder_user: User,
) -> None:  # fmt: skip
    assert_tenancy(
        f"{BASE}/plans/{plan.public_id}/apply/", allowed=[manager], forbidden=[auditor, coder_user],
        method="post", wrong_method="get",
    )  # fmt: skip
    assert Overread.objects.filter(plan=plan).count() == 4
    assert_tenancy(
        f"{BASE}/plans/new/", allowed=[manager], forbidden=[auditor, coder_user],
        method="post", wrong_method="get",
        data={"auditor": second.pk, "cycle": "2026-Q3", "share": "10"},
    )  # fmt: skip
    assert OverreadPlan.objects.filter(cycle="2026-Q3", auditor=second).count() == 1


def test_tenancy_of_calibration(
    assert_tenancy: AssertTenancy, worked: Audit, manager: User, auditor: User, second: User,
    third: User, coder_user: User,
) -> None:  # fmt: skip
    assert_tenancy(
        f"{BASE}/calibration/new/", allowed=[manager], forbidden=[auditor, coder_user],
        method="post", wrong_method="get",
        data={"name": "HF", "audit": worked.pk, "external_ids": "HF-1, EM-3",
              "auditors": [auditor.pk, second.pk, third.pk]},
    )  # fmt: skip
    cset = CalibrationSet.objects.get(name="HF")
    assert Overread.objects.filter(calibration=cset).count() == 6
    assert_tenancy(
        f"{BASE}/calibration/{cset.public_id}/", allowed=[manager], forbidden=[auditor, coder_user]
    )


def test_tenancy_of_the_blind_review(
    assert_tenancy: AssertTenancy, hf1: Overread, second: User, coder_user: User,
    educator: User, viewer: User,
) -> None:  # fmt: skip
    forbidden = [coder_user, educator, viewer]
    assert_tenancy(url(hf1), allowed=[second], forbidden=forbidden)
    writes = [
        ("lines/add/", {"system": "ICD10CM", "code": "E11.9"}),
        ("lines/DX/1/", {"system": "ICD10CM", "code": "I50.9", "poa": "Y"}),
        ("lines/DX/5/top/", {}),
        ("lines/DX/5/remove/", {}),
        ("done/", {"audited_disposition": "01"}),
    ]
    for rest, data in writes:
        assert_tenancy(
            url(hf1, rest), allowed=[second], forbidden=forbidden, method="post",
            wrong_method="get", data=data,
        )  # fmt: skip
    hf1.refresh_from_db()
    assert hf1.done


# --------------------------------------------------------------------------- blindness


def test_the_blind_page_never_shows_the_first_auditors_work(
    client_for: ClientFor, hf1: Overread, second: User
) -> None:
    html = client_for(second).get(url(hf1)).content.decode()
    assert "Blind review" in html
    # Opening the review page is a view of the encounter's detail.
    entry = AuditLogEntry.objects.get(action="overread.view", object_id=hf1.public_id)
    assert (entry.actor, entry.ip) == (second, "127.0.0.1")
    assert "I50.9" in html
    assert "Z79.4" in html
    for code in FIRST_AUDITOR_ONLY:
        assert code not in html, code
    # The first auditor's DRG (the coder's 292 is not shown either); the page's UUIDs are
    # left out of the search, where "259" can occur by chance.
    assert "259" not in re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "", html)
    assert "auditor.raj" not in html
    assert "Alex Auditor" not in html


def test_the_workspace_and_findings_stay_hidden_from_the_blind_reviewer(
    client_for: ClientFor, hf1: Overread, second: User, auditor: User
) -> None:
    """Blindness is not only the overread's page: the encounter's workspace sends the
    reviewer to the blind review, its workspace actions and the coaching pages of its
    findings are refused, until the review is done; the first auditor is unaffected."""
    from django.urls import reverse

    from auditcoach.audits.models import Finding
    from auditcoach.overreads.services import overread_complete

    encounter = hf1.encounter
    workspace = reverse(
        "audits:encounter", kwargs={"org_slug": "north-health", "encounter_id": encounter.public_id}
    )
    client = client_for(second)
    response = client.get(workspace)
    assert response.status_code == 302
    assert response["Location"] == url(hf1)
    finding = Finding.objects.filter(encounter=encounter).first()
    assert finding is not None
    page = reverse(
        "coaching:finding", kwargs={"org_slug": "north-health", "finding_id": finding.public_id}
    )
    assert client.get(page).status_code == 403
    add = reverse(
        "audits:line_add", kwargs={"org_slug": "north-health", "encounter_id": encounter.public_id}
    )
    assert client.post(add, {"system": "ICD10CM", "code": "E87.1"}).status_code == 403
    assert client_for(auditor).get(workspace).status_code == 200
    overread_complete(overread=hf1, actor=second)
    assert client.get(workspace).status_code == 200
    assert client.get(page).status_code == 200


def test_the_first_auditor_and_managers_cannot_open_it_until_done(
    client_for: ClientFor, hf1: Overread, auditor: User, manager: User, second: User
) -> None:
    for user in (auditor, manager):
        assert client_for(user).get(url(hf1)).status_code == 404
        assert client_for(user).post(url(hf1, "done/")).status_code == 404
    queue = client_for(auditor).get(f"{BASE}/").content.decode()
    assert "HF-1" not in queue  # not even listed as an overread of their work yet

    assert (
        client_for(second).post(url(hf1, "done/"), {"audited_disposition": "01"}).status_code == 302
    )
    queue = client_for(auditor).get(f"{BASE}/").content.decode()
    assert "HF-1" in queue
    html = client_for(auditor).get(url(hf1)).content.decode()
    assert "I50.23" in html  # now side by side: the first auditor's version …
    assert "Blind review" in html
    assert "292" in html
    assert client_for(manager).get(url(hf1)).status_code == 200
    # Done is final: no more edits.
    assert client_for(second).post(url(hf1, "lines/DX/1/remove/")).status_code == 302
    assert hf1.lines.count() == 4


def test_editing_the_blind_list(client_for: ClientFor, hf1: Overread, second: User) -> None:
    client = client_for(second)

    def codes() -> list[tuple[str, int, str, str]]:
        return [(x.group, x.seq, x.code, x.poa) for x in hf1.lines.order_by("group", "seq")]

    client.post(url(hf1, "lines/DX/1/"), {"system": "ICD10CM", "code": "i50.23", "poa": "Y"})
    client.post(url(hf1, "lines/DX/4/remove/"))
    client.post(url(hf1, "lines/add/"), {"system": "ICD10PCS", "code": "0JH606Z"})
    client.post(url(hf1, "lines/DX/3/top/"))
    assert codes() == [
        ("DX", 1, "N184", "Y"), ("DX", 2, "I5023", "Y"), ("DX", 3, "E871", "Y"),
        ("PX", 1, "0JH606Z", ""),
    ]  # fmt: skip
    response = client.post(url(hf1, "lines/add/"), {"system": "ICD10CM", "code": "12"})
    assert response.status_code == 400
    assert "ICD-10-CM code is a letter" in response.content.decode()
    response = client.post(
        url(hf1, "lines/DX/1/"), {"system": "ICD10CM", "code": "N18.4", "poa": "Q"}
    )
    assert response.status_code == 400
    assert "POA is Y, N, U, W, 1 or blank." in response.content.decode()
    assert len(codes()) == 4
    client.post(url(hf1, "done/"), {"audited_disposition": "01"})
    hf1.refresh_from_db()
    encounter = Encounter.objects.get(pk=hf1.encounter_id)
    # N18.4 as principal instead of heart failure: a different DRG from the first auditor's.
    assert hf1.done
    assert hf1.has_findings
    assert hf1.drg
    assert hf1.drg != encounter.audited_drg


def test_plan_pages_create_and_apply(
    client_for: ClientFor, worked: Audit, manager: User, auditor: User, second: User
) -> None:
    client = client_for(manager)
    response = client.post(
        f"{BASE}/plans/new/",
        {"auditor": auditor.pk, "cycle": "2026-Q2", "share": "50", "seed": "9"},
    )
    assert response.status_code == 302
    plan = OverreadPlan.objects.get()
    response = client.post(f"{BASE}/plans/{plan.public_id}/apply/", follow=True)
    html = response.content.decode()
    assert "Picked 2 encounters for overread by Bea Second." in html
    bad = client.post(f"{BASE}/plans/new/", {"auditor": auditor.pk, "cycle": "x", "share": "101"})
    assert bad.status_code == 400
    same = client.post(
        f"{BASE}/plans/new/",
        {"auditor": auditor.pk, "cycle": "2026-Q2", "share": "10", "reviewer": auditor.pk},
    )
    assert "The second auditor must be someone else." in same.content.decode()
    queue = client_for(second).get(f"{BASE}/").content.decode()
    assert queue.count("Overread plan 2026-Q2") == 2


def test_calibration_form_errors(
    client_for: ClientFor, worked: Audit, manager: User, auditor: User, second: User
) -> None:
    response = client_for(manager).post(
        f"{BASE}/calibration/new/",
        {
            "name": "X",
            "audit": worked.pk,
            "external_ids": "HF-1 NOPE",
            "auditors": [auditor.pk, second.pk],
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Not in Worked: NOPE." in html
    assert "Choose at least 3 auditors." in html


def test_calibration_alpha_on_the_page(
    client_for: ClientFor, worked: Audit, manager: User, auditor: User, second: User, third: User
) -> None:
    client_for(manager).post(
        f"{BASE}/calibration/new/",
        {"name": "Cal", "audit": worked.pk, "external_ids": "HF-1\nPNA-2",
         "auditors": [auditor.pk, second.pk, third.pk]},
    )  # fmt: skip
    cset = CalibrationSet.objects.get(name="Cal")
    # Everyone leaves HF-1 as coded (DRG 292, no findings); on PNA-2 Alex and Bea leave it
    # and Cy adds J96.01 (a finding; the DRG changes). Calibration reviews are blind to each
    # other: Bea cannot open Alex's.
    for user in (auditor, second, third):
        for review in Overread.objects.filter(calibration=cset, reviewer=user).select_related(
            "encounter"
        ):
            client = client_for(user)
            if user == third and review.encounter.external_id == "PNA-2":
                client.post(
                    url(review, "lines/add/"), {"system": "ICD10CM", "code": "J96.01", "poa": "Y"}
                )
            assert client.post(url(review, "done/"), {"audited_disposition": ""}).status_code == 302
    alex_hf1 = Overread.objects.get(
        calibration=cset, reviewer=auditor, encounter__external_id="HF-1"
    )
    assert client_for(second).get(url(alex_hf1)).status_code == 404
    html = client_for(manager).get(f"{BASE}/calibration/{cset.public_id}/").content.decode()
    # has-findings: HF-1 (0,0,0), PNA-2 (0,0,1); each ordered pair of a unit of 3 weighs 1/2.
    # HF-1: o₀₀ += 6·½ = 3; PNA-2: o₀₀ += 1, o₀₁ = o₁₀ = 2·½ = 1. n₀ = 5, n₁ = 1, n = 6.
    # D_o = o₀₁ + o₁₀ = 2; D_e = (n₀n₁ + n₁n₀)/(n − 1) = 10/5 = 2 → α = 1 − 2/2 = 0.
    assert "6/6" in html
    assert "Alpha, has findings (nominal)" in html
    findings_alpha = html.split('id="alpha-findings"')[1].split("</div>")[0]
    assert "0.000" in findings_alpha
