"""engine.metrics: the DESIGN §8 reference, hand-worked, plus hypothesis invariants."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditcoach.engine.metrics import (
    AssignmentRow,
    DisputeRow,
    EncounterRow,
    FindingRow,
    Overread,
    ResolutionRow,
    calibration_alpha,
    consistency,
    consistency_by_auditor,
    cycle_report,
    dispute_rates,
    dispute_rates_by,
    effectiveness,
    engagement,
    repeat_keys,
    resolution,
)


def enc(key: int, coder: str | None, cycle: str, *, released: bool = True, codes: int = 2,
        errors: int = 1, day: int = 1) -> EncounterRow:  # fmt: skip
    return EncounterRow(key, coder, cycle, released, codes, errors, date(2026, 3, day))


# --------------------------------------------------------------------------- repeats


def test_repeats_hand_worked() -> None:
    # ana's cycles: Q1 Q2 Q3 Q4 Q5 (all released).
    #   1 Q1 ADDED:DX:E87
    #   2 Q2 DELETED:DX:Z79 overturned            (never a finding, never a prior)
    #   3 Q3 ADDED:DX:E87  → repeat (Q1 is two back)
    #   4 Q3 DELETED:DX:Z79 → not (Q2's was overturned)
    #   5 Q4 REVISED:DX:I50 topic t → not (nothing before)
    #   6 Q5 ADDED:DX:E87 → repeat (Q3 one back)
    #   7 Q5 ADDED:DX:N18 topic t → repeat by topic (Q4 one back)
    # ben: Q1 then Q5 only: Q1 is one back in ben's list.
    #   8 Q1 REVISED:DX:E11; 9 Q5 REVISED:DX:E11 → repeat
    # cy: Q1 ADDED:DX:E87, Q2, Q3 (no finding), Q4 ADDED:DX:E87 → not (three back)
    encounters = [
        enc(1, "ana", "Q1"), enc(2, "ana", "Q2"), enc(3, "ana", "Q3"), enc(4, "ana", "Q4"),
        enc(5, "ana", "Q5"), enc(6, "ben", "Q1"), enc(7, "ben", "Q5"),
        enc(8, "cy", "Q1"), enc(9, "cy", "Q2"), enc(10, "cy", "Q3"), enc(11, "cy", "Q4"),
    ]  # fmt: skip
    findings = [
        FindingRow(1, 1, "ADDED:DX:E87"),
        FindingRow(2, 2, "DELETED:DX:Z79", status="overturned", active=False),
        FindingRow(3, 3, "ADDED:DX:E87"),
        FindingRow(4, 3, "DELETED:DX:Z79"),
        FindingRow(5, 4, "REVISED:DX:I50", topic="t"),
        FindingRow(6, 5, "ADDED:DX:E87"),
        FindingRow(7, 5, "ADDED:DX:N18", topic="t"),
        FindingRow(8, 6, "REVISED:DX:E11"),
        FindingRow(9, 7, "REVISED:DX:E11"),
        FindingRow(10, 8, "ADDED:DX:E87"),
        FindingRow(11, 11, "ADDED:DX:E87"),
    ]
    assert repeat_keys(encounters, findings) == {3, 6, 7, 9}
    report = cycle_report(encounters, findings)
    ana = dict(report.coders)["ana"]
    assert [(c.cycle, c.findings, c.repeat_findings) for c in ana.cycles] == [
        ("Q1", 1, 0), ("Q2", 0, 0), ("Q3", 2, 1), ("Q4", 1, 0), ("Q5", 2, 2),
    ]  # fmt: skip
    assert ana.cycles[1].repeat_rate is None
    assert ana.cycles[2].repeat_rate == 0.5


def test_unreleased_encounters_and_drafts() -> None:
    # Q2 holds only an unreleased encounter: not in ana's list, so Q1 is one back from Q3.
    encounters = [enc(1, "ana", "Q1"), enc(2, "ana", "Q2", released=False), enc(3, "ana", "Q3"),
                  enc(4, "ana", "Q4")]  # fmt: skip
    findings = [
        FindingRow(1, 1, "A"),
        FindingRow(2, 2, "B"),
        FindingRow(3, 3, "B", status="draft"),  # a draft neither counts nor is a prior
        FindingRow(4, 4, "B"),
        FindingRow(5, 4, "A"),  # Q1 is two back in ana's list (Q1, Q3, Q4)
    ]
    assert repeat_keys(encounters, findings) == {5}
    report = cycle_report(encounters, findings)
    assert [c.cycle for c in report.cycles] == ["Q1", "Q3", "Q4"]
    assert [c.findings for c in report.cycles] == [1, 0, 2]


def test_org_sums_coders_and_coderless() -> None:
    encounters = [enc(1, "ana", "Q1", codes=4, errors=1), enc(2, None, "Q1", codes=6, errors=4),
                  enc(3, "ben", "Q2", codes=0, errors=0)]  # fmt: skip
    report = cycle_report(encounters, [FindingRow(1, 2, "A")])
    assert report.center == 5 / 10
    q1, q2 = report.cycles
    assert (q1.encounters, q1.audited_codes, q1.code_errors, q1.findings) == (2, 10, 5, 1)
    assert (q2.p, q2.ucl, q2.lcl, q2.signal) == (None, None, None, False)
    assert [name for name, _ in report.coders] == ["ana", "ben"]
    assert dict(report.coders)["ben"].center is None


def test_scope_narrows_report_not_history() -> None:
    encounters = [enc(1, "ana", "Q1"), enc(2, "ana", "Q2")]
    findings = [FindingRow(1, 1, "A"), FindingRow(2, 2, "A")]
    report = cycle_report(encounters, findings, scope={2})
    assert [(c.cycle, c.repeat_findings) for c in report.cycles] == [("Q2", 1)]


# --------------------------------------------------------------------------- resolution

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_resolution_hand_worked() -> None:
    h = timedelta(hours=1)
    rows = [
        ResolutionRow(T0, T0 + 5 * h, T0 + 50 * h),
        ResolutionRow(T0, T0 + 30 * h),
        ResolutionRow(T0, T0 + 200 * h, open=True),  # disputed, awaiting a decision
        ResolutionRow(T0 + 24 * 20 * h, open=True),  # released 10 days before now
    ]
    now = T0 + 24 * 30 * h
    r = resolution(rows, sla_days=7, now=now)
    # responses 5, 30, 200 h: median = rank ⌈1.5⌉ = 2 → 30; P90 = rank ⌈2.7⌉ = 3 → 200.
    assert (r.responded, r.response_median_hours, r.response_p90_hours) == (3, 30.0, 200.0)
    # within 168 h: 2 of the 4 (all four have a known outcome: the last is 10 days old).
    assert (r.within_sla.successes, r.within_sla.n) == (2, 4)
    assert (r.closed, r.close_median_hours) == (1, 50.0)
    # open: 30 days and 10 days old, both over the 7-day SLA.
    assert (r.open, r.overdue) == (2, 2)
    assert r.ageing == {"0-7": 0, "8-14": 1, "15-30": 1, "31+": 0}


# --------------------------------------------------------------------------- disputes


def test_dispute_rates_hand_worked() -> None:
    rows = [
        DisputeRow("raj", "ADDED", disputed=True, decision="overturned"),
        DisputeRow("raj", "ADDED", disputed=True, decision="upheld"),
        DisputeRow("raj", "REVISED", disputed=True),  # undecided: not in the overturn rate
        DisputeRow("raj", "REVISED", disputed=False),
        DisputeRow("kim", "ADDED", disputed=False),
    ]
    total = dispute_rates(rows)
    assert (total.dispute.successes, total.dispute.n) == (3, 5)
    assert (total.overturn.successes, total.overturn.n) == (1, 2)
    by_auditor = dispute_rates_by(rows, "auditor")
    assert by_auditor["kim"].dispute.value == 0.0
    assert by_auditor["kim"].overturn.value is None
    assert dispute_rates_by(rows, "kind")["REVISED"].dispute.value == 0.5


# --------------------------------------------------------------------------- education


def test_engagement_hand_worked() -> None:
    today = date(2026, 4, 1)
    rows = [
        AssignmentRow("ana", date(2026, 3, 10), date(2026, 3, 1), date(2026, 3, 9)),  # on time, 8 d
        AssignmentRow("ana", date(2026, 3, 10), date(2026, 3, 1), date(2026, 3, 12)),  # late, 11 d
        AssignmentRow("ana", date(2026, 3, 20), date(2026, 3, 1)),  # overdue
        AssignmentRow("ana", date(2026, 4, 5), date(2026, 3, 1), date(2026, 3, 3)),  # not due, 2 d
    ]
    e = engagement(rows, today=today)
    assert (e.on_time.successes, e.on_time.n, e.overdue) == (1, 3, 1)
    assert e.median_days_to_complete == 8.0  # 2, 8, 11: rank 2


def test_effectiveness_hand_worked() -> None:
    # Completed on 2026-03-10. Before: encounters on days 1, 2, 3, 4 with the pattern in 3;
    # after: days 20..23 with it in 0; the encounter on day 10 is in neither.
    # p̂ = 3/8; se = sqrt(3/8·5/8·(1/4 + 1/4)) = 0.34233; z = 0.75 / 0.34233 = 2.1909.
    encounters = [enc(k, "ana", "Q1", day=d) for k, d in enumerate([1, 2, 3, 4, 10], start=1)]
    encounters += [enc(k, "ana", "Q2", day=d) for k, d in enumerate([20, 21, 22, 23], start=6)]
    encounters.append(enc(99, "ben", "Q1", day=1))
    findings = [FindingRow(k, k, "ADDED:DX:E87") for k in (1, 2, 3, 5, 99)]
    findings.append(FindingRow(50, 6, "ADDED:DX:E87", status="overturned", active=False))
    a = AssignmentRow("ana", date(2026, 3, 15), date(2026, 3, 1), date(2026, 3, 10),
                      pattern="ADDED:DX:E87")  # fmt: skip
    result = effectiveness(a, encounters, findings)
    assert result is not None
    assert (result.before.successes, result.before.n) == (3, 4)
    assert (result.after.successes, result.after.n) == (0, 4)
    assert result.test is not None
    assert result.test.z == pytest.approx(2.1909, abs=1e-4)
    assert (
        effectiveness(AssignmentRow("ana", date.today(), date.today()), encounters, findings)
        is None
    )


# --------------------------------------------------------------------------- overreads


def test_consistency_hand_worked() -> None:
    overreads = [
        # codes {I10, E87.1} vs {I10, E87.1, N18.4}: 2 matched of a union of 3
        Overread("raj", "kim", ("I10", "E871"), ("I10", "E871", "N184"), "291", "291", True, True,
                 3, 3),
        # {I10} vs {I10}: 1 of 1
        Overread("raj", "kim", ("I10",), ("I10",), "292", "293", False, True, 4, 3),
        # {J189} vs {J180}: 0 of 2
        Overread("raj", "lee", ("J189",), ("J180",), "", "", True, True, None, None),
    ]  # fmt: skip
    c = consistency(overreads)
    assert (c.code_agreement.successes, c.code_agreement.n) == (3, 6)
    # DRG pairs (291,291), (292,293): p_o = 1/2; margins 291: 1+1, 292: 1, 293: 1 of 2 each:
    # p_e = (1·1)/4 = 1/4 → κ = (1/2 − 1/4)/(3/4) = 1/3.
    assert c.drg_kappa == pytest.approx(1 / 3)
    # has findings: (T,T), (F,T), (T,T): p_o = 2/3; a: T 2, F 1; b: T 3 → p_e = 2·3/9 = 2/3:
    # κ = 0 (no better than chance).
    assert c.findings_kappa == pytest.approx(0.0)
    assert c.em_weighted_kappa is not None
    per = consistency_by_auditor(overreads)
    assert per["lee"].overreads == 1
    assert per["raj"].overreads == 3


def test_calibration_alpha_matches_krippendorff() -> None:
    # The same 2011 example, as unit → auditor → value.
    data = {
        1: {"a": 1, "b": 1, "d": 1}, 2: {"a": 2, "b": 2, "c": 3, "d": 2},
        3: {"a": 3, "b": 3, "c": 3, "d": 3}, 4: {"a": 3, "b": 3, "c": 3, "d": 3},
        5: {"a": 2, "b": 2, "c": 2, "d": 2}, 6: {"a": 1, "b": 2, "c": 3, "d": 4},
        7: {"a": 4, "b": 4, "c": 4, "d": 4}, 8: {"a": 1, "b": 1, "c": 2, "d": 1},
        9: {"a": 2, "b": 2, "c": 2, "d": 2}, 10: {"b": 5, "c": 5, "d": 5},
        11: {"c": 1, "d": 1}, 12: {"b": 3},
    }  # fmt: skip
    alpha = calibration_alpha(data)
    assert alpha is not None
    assert round(alpha, 3) == 0.743


# --------------------------------------------------------------------------- invariants

world = st.lists(
    st.tuples(
        st.sampled_from(["ana", "ben", None]),
        st.sampled_from(["Q1", "Q2", "Q3", "Q4"]),
        st.booleans(),
        st.integers(0, 5),
        st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["draft", "released",
                 "overturned", "agreed"]), st.booleans()), max_size=3),
    ),
    max_size=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(world)
def test_report_invariants(raw: list) -> None:  # type: ignore[type-arg]
    encounters, findings = [], []
    for k, (coder, cycle, released, codes, fs) in enumerate(raw):
        encounters.append(EncounterRow(k, coder, cycle, released, codes, codes // 2))
        for pattern, status, active in fs:
            findings.append(FindingRow(len(findings), k, pattern, status=status, active=active))
    report = cycle_report(encounters, findings)
    assert [c.cycle for c in report.cycles] == sorted(c.cycle for c in report.cycles)
    for name, chart in report.coders:
        for c in chart.cycles:
            assert 0 <= c.repeat_findings <= c.findings
            if c.p is not None:
                assert c.lcl is not None
                assert c.ucl is not None
                assert 0 <= c.lcl <= (chart.center or 0) <= c.ucl <= 1
        assert name in {"ana", "ben"}
    # the organization's cycles are the sum over coders plus the coder-less encounters
    released = [e for e in encounters if e.released]
    assert sum(c.encounters for c in report.cycles) == len(released)
    assert sum(c.audited_codes for c in report.cycles) == sum(e.audited_codes for e in released)
    coder_findings = sum(c.findings for _, ch in report.coders for c in ch.cycles)
    assert coder_findings <= sum(c.findings for c in report.cycles)
