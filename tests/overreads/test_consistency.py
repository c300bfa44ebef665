"""§8 consistency from done overreads, worked by hand, on the selector and on the page.

Five overreads of Alex's (A) work in 2026-Q2; Bea (B) reads three, Cy (C) two:

    enc  setting  A's codes          blind codes        DRG a/b   findings a/b  E/M a/b  topics (A)
    E1   inpt     I10 E119 N184      I10 E119           292/292   yes/no        -        heart-failure
    E2   inpt     J189 E871          J189 E871          193/194   yes/yes       -        pneumonia, sepsis
    E3   profee   E119 99213         E119 99214         -         no/yes        3/4      -
    E4   profee   Z0000 99214        Z0000 99214        -         no/no         4/4      -
    E5   profee   99212              99212              -         no/no         2/2      -
    (E1, E2 by B; E3, E4 by C; E5 by B)

All five (A's row is the same, A being first auditor of all five):
- code agreement: matched 2+2+1+2+1 = 8, union 3+2+3+2+1 = 11 → 8/11 = 72.7%; Wilson 95%
  with z² = 3.8415: centre (0.72727 + 0.17461) / 1.34922 = 0.66845, half
  1.96·√(0.018032 + 0.007937) / 1.34922 = 0.23409 → 43.4–90.3%.
- κ DRG (inpatient pairs E1, E2): p_o = 1/2; p_e = (1·1 for 292)/4 = 1/4 → (0.5 − 0.25)/0.75
  = 0.333.
- κ findings: p_o = 3/5 (E2, E4, E5 agree); A: yes 2 / no 3, blind: yes 2 / no 3, p_e =
  (2·2 + 3·3)/25 = 0.52 → (0.6 − 0.52)/0.48 = 0.167.
- κw E/M (linear, levels 1–5) over (3,4), (4,4), (2,2): observed Σ|i−j| = 1; expected
  Σ n_a(i)·n_b(j)·|i−j| / n with A {2,3,4} and blind {2,4,4}: (3 vs 2·4:2, 3 vs 2:1, 4 vs 2:2,
  2 vs 2·4:4) = 9/3 = 3 → 1 − 1/3 = 0.667.
- α ordinal E/M: coincidences (3,4) = (4,3) = 1, (4,4) = 2, (2,2) = 2; n₂ = 2, n₃ = 1,
  n₄ = 3, n = 6; δ²(3,4) = (4 − 2)² = 4, δ²(2,3) = (3 − 1.5)² = 2.25, δ²(2,4) = (6 − 2.5)² =
  12.25; D_o = 1·4 + 1·4 = 8; D_e = 2(2·1·2.25 + 2·3·12.25 + 1·3·4)/5 = 180/5 = 36 →
  1 − 8/36 = 0.778.
Bea (E1, E2, E5): codes 5/6 = 83.3%; κ DRG 0.333 (the same two pairs); κ findings:
  p_o = 2/3, A yes 2 / no 1, B yes 1 / no 2, p_e = (2·1 + 1·2)/9 = 4/9 → (6/9 − 4/9)/(5/9)
  = 0.400; E/M only (2,2): no variation → — for both.
Cy (E3, E4): codes 3/5 = 60.0%; no DRG pair → —; κ findings: p_o = 1/2, A no 2, C yes 1 /
  no 1, p_e = 2·1/4 = 0.5 → 0.000; κw E/M over (3,4), (4,4): observed 1, expected
  (1·2·1 + 1·2·0)/2 = 1 → 0.000; α: n₃ = 1, n₄ = 3, D_o = 8, D_e = 2·1·3·4/3 = 8 → 0.000.
Topics: "" (E3, E4, E5) 4/6; heart-failure (E1) 2/3; pneumonia and sepsis (E2, counted
  under both) 2/2.
"""

import re

import pytest

from auditcoach.accounts.models import Organization, User
from auditcoach.audits.models import Audit
from auditcoach.overreads.selectors import consistency_report
from auditcoach.overreads.services import overread_plan_create
from tests.conftest import ClientFor
from tests.overreads.builders import make_done_overread, make_reviewed

pytestmark = pytest.mark.django_db

PROFEE = "profee"
BEA_CI = "43.6–97.0%"  # Wilson 95% of 5/6


@pytest.fixture
def five(org: Organization, auditor: User, second: User, third: User, manager: User) -> None:
    audit = Audit.objects.create(organization=org, name="Q2")
    plan = overread_plan_create(
        organization=org, auditor=auditor, cycle="2026-Q2", share=100, actor=manager
    )
    e1 = make_reviewed(audit, auditor, "E1", audited=("I10", "E119", "N184"), audited_drg="292",
                       topics=("heart-failure",))  # fmt: skip
    e2 = make_reviewed(audit, auditor, "E2", audited=("J189", "E871"), audited_drg="193",
                       topics=("pneumonia", "sepsis"))  # fmt: skip
    e3 = make_reviewed(audit, auditor, "E3", audited=("E119", "99213"), setting=PROFEE)
    e4 = make_reviewed(audit, auditor, "E4", audited=("Z0000", "99214"), setting=PROFEE)
    e5 = make_reviewed(audit, auditor, "E5", audited=("99212",), setting=PROFEE)
    make_done_overread(plan, e1, second, ("I10", "E119"), drg="292")
    make_done_overread(plan, e2, second, ("J189", "E871"), drg="194", has_findings=True)
    make_done_overread(plan, e3, third, ("E119", "99214"), has_findings=True, em_level=4)
    make_done_overread(plan, e4, third, ("Z0000", "99214"), em_level=4)
    make_done_overread(plan, e5, second, ("99212",), em_level=2)


@pytest.mark.usefixtures("five")
def test_selector_numbers(org: Organization) -> None:
    report = consistency_report(org)
    c = report.overall
    assert c.overreads == 5
    assert (c.code_agreement.successes, c.code_agreement.n) == (8, 11)
    lo, hi = c.code_agreement.interval or (0, 0)
    assert (round(lo, 3), round(hi, 3)) == (0.434, 0.903)
    assert c.drg_kappa == pytest.approx(1 / 3)
    assert c.findings_kappa == pytest.approx(1 / 6)
    assert c.em_weighted_kappa == pytest.approx(2 / 3)
    assert c.em_alpha == pytest.approx(1 - 8 / 36)
    bea = report.by_auditor["Bea Second"]
    assert (bea.overreads, bea.code_agreement.successes, bea.code_agreement.n) == (3, 5, 6)
    assert bea.findings_kappa == pytest.approx(0.4)
    assert bea.em_weighted_kappa is None
    assert bea.em_alpha is None
    cy = report.by_auditor["Cy Third"]
    assert (cy.code_agreement.successes, cy.code_agreement.n) == (3, 5)
    assert cy.drg_kappa is None
    assert cy.findings_kappa == pytest.approx(0.0)
    assert report.by_auditor["Alex Auditor"] == c
    topics = {
        k: (v.code_agreement.successes, v.code_agreement.n) for k, v in report.by_topic.items()
    }
    assert topics == {"": (4, 6), "heart-failure": (2, 3), "pneumonia": (2, 2), "sepsis": (2, 2)}


def row(html: str, label: str) -> str:
    match = re.search(rf"<tr>\s*<th scope=\"row\">{re.escape(label)}</th>(.*?)</tr>", html, re.S)
    assert match, label
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


@pytest.mark.usefixtures("five")
def test_page_numbers(client_for: ClientFor, manager: User) -> None:
    client = client_for(manager)
    html = client.get("/o/north-health/overreads/consistency/").content.decode()
    # overreads, agreement, n, CI, κ DRG, κ findings, κw E/M, α E/M
    assert row(html, "All overreads") == "5 72.7% 8/11 43.4–90.3% 0.333 0.167 0.667 0.778"
    assert row(html, "Alex Auditor") == "5 72.7% 8/11 43.4–90.3% 0.333 0.167 0.667 0.778"
    assert row(html, "Bea Second") == "3 83.3% 5/6 " + BEA_CI + " 0.333 0.400 — —"
    assert row(html, "Cy Third").startswith("2 60.0% 3/5")
    assert row(html, "Cy Third").endswith("— 0.000 0.000 0.000")
    assert row(html, "(no topic)").startswith("3 66.7% 4/6")
    assert row(html, "sepsis").startswith("1 100.0% 2/2")
    # A cycle with no overreads shows undefined numbers, not errors.
    other = client.get("/o/north-health/overreads/consistency/?cycle=2025-Q1").content.decode()
    assert row(other, "All overreads") == "0 — 0/0 — — — — —"


@pytest.mark.usefixtures("five")
def test_the_dashboard_widget_shows_the_same_numbers(
    client_for: ClientFor, manager: User, viewer: User
) -> None:
    """The organization dashboard's consistency widget: 8/11 codes agreed, κ DRG 0.33,
    κ findings 0.17, weighted κ E/M 0.67 (worked above), with each auditor's row."""
    from django.urls import reverse

    url = reverse("analytics:dashboard", kwargs={"org_slug": "north-health"})
    html = client_for(viewer).get(url).content.decode()
    widget = html[html.index('id="widget-consistency"') :]
    widget = widget[: widget.index("</section>")]
    assert "72.7%" in widget  # 8/11
    assert "8/11" in widget
    assert "0.33" in widget
    assert "0.17" in widget
    assert "0.67" in widget
    assert "Bea Second" in widget
    assert "Cy Third" in widget
    assert reverse("overreads:consistency", kwargs={"org_slug": "north-health"}) in widget
