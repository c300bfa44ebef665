"""DESIGN §6 formulas: hand-worked pooled cases and hypothesis invariants."""

from hypothesis import given, settings
from hypothesis import strategies as st

from auditcoach.engine.codes import EM_CODES
from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.model import CodeLine, Encounter
from auditcoach.engine.scoring import scores, sum_totals, totals_of
from auditcoach.engine.stats import Proportion, wilson_interval

from .builders import dx, encounter, line


def test_pooled_not_averaged() -> None:
    # Encounter 1: 1 audited DX, revised → 0/1. Encounter 2: 9 audited DX, all matched → 9/9.
    # Pooled: 9/10 = 0.9. The average of ratios would be (0 + 1) / 2 = 0.5: wrong.
    e1 = encounter(dx("I50.9"), dx("I50.23"), encounter_id="1", setting="profee")
    codes = ["I10", "E11.9", "N18.4", "E78.5", "Z79.4", "K21.9", "F32.A", "G47.33", "M17.11"]
    e2 = encounter(dx(*codes), dx(*codes), encounter_id="2", setting="profee")
    s = scores(sum_totals(totals_of(compare_encounter(e)) for e in (e1, e2)))
    assert s.code_accuracy["DX"] == Proportion(9, 10)
    assert s.code_accuracy["DX"].value == 0.9
    assert s.record_accuracy == Proportion(1, 2)


def test_code_and_union_accuracy_hand_worked() -> None:
    # Original: I50.9, E87.1, Z79.4; audited: I50.23, E87.1, N18.4 (profee, no POA).
    # m = 1 (E87.1), r = 1 (I50.9→I50.23), d = 1 (Z79.4), a = 1 (N18.4); A = 3.
    # code accuracy = (3 − 1 − 1 − 0) / 3 = 1/3; union = (1 − 0) / (1 + 1 + 1 + 1) = 1/4.
    r = compare_encounter(
        encounter(dx("I50.9", "E87.1", "Z79.4"), dx("I50.23", "E87.1", "N18.4"), setting="profee")
    )
    s = scores(totals_of(r))
    assert s.code_accuracy["DX"] == Proportion(1, 3)
    assert s.union_accuracy["DX"] == Proportion(1, 4)
    assert s.code_accuracy["PX"].value is None  # A = 0: undefined
    assert s.union_accuracy["LINE"].value is None
    assert s.pdx_accuracy.value is None  # not inpatient


def test_line_errors_reduce_both_line_accuracies() -> None:
    # 20610 matched with a modifier and a units error (e = 1), J1100 matched clean.
    # code = (2 − 0 − 0 − 1) / 2; union = (2 − 1) / 2.
    r = compare_encounter(
        encounter(
            [line("20610", 1, units=2), line("J1100", 2, system="HCPCS")],
            [line("20610", 1, mods="RT"), line("J1100", 2, system="HCPCS")],
            setting="outpatient",
        )
    )
    s = scores(totals_of(r))
    assert s.code_accuracy["LINE"] == Proportion(1, 2)
    assert s.union_accuracy["LINE"] == Proportion(1, 2)


def test_poa_and_pdx_accuracy_inpatient() -> None:
    r = compare_encounter(
        encounter(dx(("E87.1", "Y"), ("J18.9", "Y")), dx(("J18.9", "Y"), ("E87.1", "N")))
    )
    s = scores(totals_of(r))
    assert s.pdx_accuracy == Proportion(0, 1)
    assert s.poa_accuracy == Proportion(1, 2)


def test_wilson_interval_reference_values() -> None:
    # Reference: Newcombe (1998), Table I: 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to 0.1605.
    lo, hi = wilson_interval(81, 263)  # type: ignore[misc]
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = wilson_interval(15, 148)  # type: ignore[misc]
    assert (round(lo, 4), round(hi, 4)) == (0.0624, 0.1605)
    lo, hi = wilson_interval(0, 20)  # type: ignore[misc]
    assert lo == 0.0
    assert round(hi, 4) == 0.1611
    assert wilson_interval(0, 0) is None


# --- invariants ------------------------------------------------------------------------

# Small alphabets so that exact matches, shared prefixes and repeats all happen often.
dx_codes = st.sampled_from(
    ["I509", "I5023", "I5021", "E871", "E119", "E1165", "J189", "J9601", "N184", "Z794"]
)
line_codes = st.sampled_from(
    ["99213", "99214", "99215", "99203", "20610", "J1100", "93000", "99284"]
)
poas = st.sampled_from(["", "Y", "N", "U", "W", "1"])
mods = st.sets(st.sampled_from(["25", "59", "RT", "LT"]), max_size=2).map(frozenset)


@st.composite
def versions(draw: st.DrawFn) -> tuple[CodeLine, ...]:
    dxs = draw(st.lists(st.tuples(dx_codes, poas), max_size=6))
    lines = draw(st.lists(st.tuples(line_codes, mods, st.integers(1, 3)), max_size=4))
    out = [CodeLine("ICD10CM", i + 1, c, p) for i, (c, p) in enumerate(dxs)]
    out += [CodeLine("CPT", i + 1, c, modifiers=m, units=u) for i, (c, m, u) in enumerate(lines)]
    return tuple(out)


encounters = st.builds(
    lambda o, a, s: encounter(list(o), list(a), setting=s),
    versions(),
    versions(),
    st.sampled_from(["inpatient", "outpatient", "profee"]),
)


@settings(max_examples=300)
@given(encounters)
def test_every_line_is_accounted_for(e: Encounter) -> None:
    r = compare_encounter(e)
    for t in r.tallies.values():
        assert t.matched + t.revised + t.deleted == t.original
        assert t.matched + t.revised + t.added == t.audited
        assert 0 <= t.line_errors <= t.matched
    kinds = [f.kind for f in r.findings]
    assert kinds.count("REVISED") == sum(t.revised for t in r.tallies.values())
    assert kinds.count("ADDED") == sum(t.added for t in r.tallies.values())
    assert kinds.count("DELETED") == sum(t.deleted for t in r.tallies.values())
    assert kinds.count("RESEQUENCED") <= 1


@settings(max_examples=300)
@given(st.lists(encounters, min_size=1, max_size=5))
def test_accuracies_are_proportions_and_pooling_is_additive(es: list[Encounter]) -> None:
    results = [compare_encounter(e) for e in es]
    totals = sum_totals(totals_of(r) for r in results)
    s = scores(totals)
    for p in [
        *s.code_accuracy.values(),
        *s.union_accuracy.values(),
        s.record_accuracy,
        s.pdx_accuracy,
        s.poa_accuracy,
        s.em_accuracy,
    ]:
        assert 0 <= p.successes <= p.n
        if p.value is not None:
            assert 0.0 <= p.value <= 1.0
            lo, hi = p.interval  # type: ignore[misc]
            assert 0.0 <= lo <= p.value <= hi <= 1.0
    # Summing in any order gives the same totals.
    assert sum_totals(reversed([totals_of(r) for r in results])) == totals


@given(encounters)
def test_comparing_a_version_with_itself_finds_nothing(e: Encounter) -> None:
    same = Encounter(
        e.encounter_id, e.setting, e.discharge_date, original=e.audited, audited=e.audited
    )
    r = compare_encounter(same)
    assert r.findings == ()
    s = scores(totals_of(r))
    assert s.record_accuracy.value == 1.0
    for p in s.code_accuracy.values():
        assert p.value in (None, 1.0)


@given(encounters)
def test_em_deltas_are_levels_within_one_family(e: Encounter) -> None:
    for f in compare_encounter(e).findings:
        if f.em_delta is not None:
            assert f.original in EM_CODES
            assert f.audited in EM_CODES
            assert f.original[:4] == f.audited[:4]  # type: ignore[index]
            assert f.em_delta == int(f.audited[-1]) - int(f.original[-1])  # type: ignore[index]
