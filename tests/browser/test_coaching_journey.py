"""The whole coaching loop, by four people in one browser, each signing in in turn.

The auditor releases → the coder disputes with a reference → the auditor overturns → the
coder's scores and the audit summary no longer count the finding; the educator assigns
education on the pattern → the coder completes it → a follow-up review is created.
Everything is asserted on what each person sees; screenshots go to test-artifacts/.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from auditcoach.accounts.models import Coder, Organization, User
from auditcoach.audits.models import Audit, Encounter, Finding
from auditcoach.audits.services import audit_import
from auditcoach.coaching.models import FindingEvent
from auditcoach.education.models import FollowUpReview
from auditcoach.engine.workbook import read_workbook
from auditcoach.library.seed import library_seed
from tests.browser.test_review_journey import sign_in, sign_out

WORKED = Path(__file__).resolve().parents[1] / "fixtures" / "worked"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_release_dispute_overturn_educate_follow_up(
    page: Page,
    live_server: Any,
    org: Organization,
    auditor: User,
    coder_user: User,
    educator: User,
    artifacts: Path,
) -> None:
    base = live_server.url
    library_seed(organization=org)
    audit = audit_import(
        organization=org, workbook=read_workbook(WORKED), name="Worked 2026-Q2", actor=auditor
    )
    # The next cycle's encounters, imported but not yet audited: where a follow-up review
    # finds the coder's encounters to re-audit.
    audit_import(organization=org, workbook=read_workbook(WORKED), name="Next 2026-Q3")
    Coder.objects.filter(organization=org, name="coder.ana").update(user=coder_user)
    Encounter.objects.filter(audit=audit).update(auditor=auditor)

    # --- The coder sees nothing before the release: drafts are never visible.
    sign_in(page, base, "coder")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My feedback").click()
    expect(page.get_by_text("No released findings yet.")).to_be_visible()
    sign_out(page)

    # --- The auditor releases the audit's findings from its summary.
    sign_in(page, base, "auditor")
    page.get_by_role("link", name="Worked 2026-Q2").click()
    dx_row = page.locator(".scores-table tr", has_text="Code accuracy DX")
    expect(dx_row).to_contain_text("62.5%")
    expect(dx_row).to_contain_text("5/8")
    page.get_by_role("button", name="Release findings").click()
    expect(page.get_by_text("Released 13 findings")).to_be_visible()
    sign_out(page)

    # --- The coder: a notification, My feedback with her scores, and a dispute.
    sign_in(page, base, "coder")
    expect(page.locator("#notifications-bell")).to_contain_text("1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My feedback").click()
    expect(page.get_by_role("heading", name="Encounter HF-1")).to_be_visible()
    expect(page.get_by_role("heading", name="Encounter EM-3")).to_be_visible()
    expect(page.get_by_text("Encounter PNA-2")).to_have_count(0)  # coder.ben's
    mine = page.locator("section", has=page.get_by_role("heading", name="Your scores"))
    my_dx = mine.locator("tr", has_text="Code accuracy DX")
    # HF-1 and EM-3: 4 audited DX codes, 2 revised (I50.9 → I50.23, E11.9 → E11.65).
    expect(my_dx).to_contain_text("50.0%")
    expect(my_dx).to_contain_text("2/4")
    page.screenshot(path=str(artifacts / "coach-my-feedback.png"), full_page=True)
    hf1 = page.locator("section", has=page.get_by_role("heading", name="Encounter HF-1"))
    revised = hf1.locator("li.coaching-finding", has_text="REVISED:DX:I50")
    revised.get_by_role("link", name="Dispute, comment, attach").click()
    expect(page.get_by_role("heading", name="Finding on encounter HF-1")).to_be_visible()
    page.get_by_label("Dispute: your rationale (required)").fill(
        "The echo shows a preserved ejection fraction but the provider never documented "
        "the type or acuity; without a query I50.9 is what the record supports."
    )
    page.get_by_label("OCG FY2026 I.A.19").check()
    page.get_by_role("button", name="Dispute", exact=True).click()
    expect(page.get_by_text("Disputed", exact=False).first).to_be_visible()
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    expect(history).to_contain_text("Cited: OCG FY2026 I.A.19")
    page.screenshot(path=str(artifacts / "coach-disputed.png"), full_page=True)
    sign_out(page)

    # --- The auditor finds the dispute in the queue and overturns it.
    sign_in(page, base, "auditor")
    page.get_by_role("link", name="Disputes").click()
    dispute = page.get_by_role("region", name="Dispute on HF-1")
    expect(dispute).to_contain_text("Cited: OCG FY2026 I.A.19")
    page.screenshot(path=str(artifacts / "coach-disputes-queue.png"), full_page=True)
    dispute.get_by_role("link", name="Encounter HF-1").click()
    page.get_by_label("Overturned", exact=False).check()
    page.get_by_label("Rationale (required)").fill(
        "Agreed: the type of heart failure is not documented; a query is sent to the provider."
    )
    page.get_by_role("button", name="Decide").click()
    expect(page.locator(".badge.state-overturned").first).to_be_visible()
    expect(page.get_by_text("No longer in the audited coding")).to_be_visible()
    page.screenshot(path=str(artifacts / "coach-overturned.png"), full_page=True)
    # The audit summary counts the restored I50.9 as a match: DX 6/8.
    page.get_by_role("link", name="All audits").click()
    page.get_by_role("link", name="Worked 2026-Q2").click()
    expect(page.locator(".scores-table tr", has_text="Code accuracy DX")).to_contain_text("6/8")
    expect(page.locator(".scores-table tr", has_text="Code accuracy DX")).to_contain_text("75.0%")
    sign_out(page)

    # --- The coder's scores reflect the overturn; the finding stays, marked overturned.
    sign_in(page, base, "coder")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My feedback").click()
    mine = page.locator("section", has=page.get_by_role("heading", name="Your scores"))
    expect(mine.locator("tr", has_text="Code accuracy DX")).to_contain_text("3/4")
    page.get_by_role("link", name="All released findings").click()
    hf1 = page.locator("section", has=page.get_by_role("heading", name="Encounter HF-1"))
    expect(hf1.locator("li.coaching-finding", has_text="REVISED:DX:I50")).to_contain_text(
        "Overturned"
    )
    sign_out(page)

    # --- The educator assigns education on the coder's E/M pattern, with a follow-up.
    sign_in(page, base, "educator")
    # The educator lands on Education, whose page offers the same link as the navigation.
    expect(page.get_by_role("heading", name="Education", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Assign education").click()
    # The roster entry coder.ana is linked to Casey Coder's login: people read her name.
    page.get_by_label("Casey Coder").check()
    page.get_by_label("Pattern key").fill("REVISED:LINE:992")
    page.get_by_label("Resource title").fill("E/M leveling by medical decision making")
    page.get_by_label("Resource link (https)").fill("https://example.org/em-mdm")
    page.get_by_label("Due date").fill((timezone.localdate() + timedelta(days=14)).isoformat())
    page.get_by_label("Follow-up review after completion").fill("1")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("E/M leveling by medical decision making").first).to_be_visible()
    sign_out(page)

    # --- The coder completes it with the attestation and a quiz score.
    sign_in(page, base, "coder")
    page.get_by_role("link", name="My education").click()
    page.get_by_role("link", name="E/M leveling by medical decision making").click()
    page.get_by_label("I attest that I completed this education.").check()
    page.get_by_label("Quiz score (0–100, optional)").fill("90")
    page.get_by_role("button", name="Mark completed").click()
    expect(page.get_by_text("Completed").first).to_be_visible()
    page.screenshot(path=str(artifacts / "coach-education-done.png"), full_page=True)
    sign_out(page)

    # --- The follow-up review exists, with the coder's E/M encounter of the next cycle.
    sign_in(page, base, "educator")
    page.get_by_role("link", name="Follow-up reviews").click()
    expect(page.locator("main")).to_contain_text("Casey Coder")
    page.screenshot(path=str(artifacts / "coach-followups.png"), full_page=True)

    followup = FollowUpReview.objects.get(coder__name="coder.ana")
    assert followup.status == FollowUpReview.Status.CREATED
    assert [e.external_id for e in followup.encounters.all()] == ["EM-3"]
    assert followup.encounters.get().audit.name == "Next 2026-Q3"
    # Every transition of the disputed finding is stored with who and when, in order.
    disputed = Finding.objects.get(
        encounter__audit=audit, encounter__external_id="HF-1", pattern="REVISED:DX:I50"
    )
    assert disputed.status == Finding.Status.OVERTURNED
    assert not disputed.active
    events = list(FindingEvent.objects.filter(finding=disputed).order_by("at", "pk"))
    assert [(e.kind, e.actor_id) for e in events] == [
        ("release", auditor.pk),
        ("dispute", coder_user.pk),
        ("decide", auditor.pk),
    ]
    assert events[0].at <= events[1].at <= events[2].at
    assert Audit.objects.get(pk=audit.pk).status == Audit.Status.RELEASED
