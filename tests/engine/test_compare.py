"""DESIGN §5, rule by rule, on hand-worked encounters (the reasoning is in the comments)."""

from datetime import date
from decimal import Decimal

from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.model import CodeIssue, CodeLine, DrgClaim, DrgResult, Encounter, Finding

from .builders import dx, encounter, line, px


def kinds(findings: tuple[Finding, ...]) -> list[tuple[str, str | None, str | None]]:
    return [(f.kind, f.original, f.audited) for f in findings]


def test_identical_versions_give_no_finding() -> None:
    r = compare_encounter(encounter(dx(("I10", "Y")), dx(("I10", "Y"))))
    assert r.findings == ()
    assert r.tallies["DX"].matched == 1


def test_exact_match_ignores_dots_case_and_secondary_order() -> None:
    # Same codes, secondaries in another order, typed differently: nothing to report.
    r = compare_encounter(
        encounter(dx("I50.9", "e87.1", "N18.4"), dx("I509", "N184", "E871"), setting="profee")
    )
    assert r.findings == ()


def test_poa_changed_on_matched_pair_including_a_blank_original() -> None:
    r = compare_encounter(
        encounter(dx(("J18.9", "Y"), ("E87.1", "")), dx(("J18.9", "N"), ("E87.1", "Y")))
    )
    assert [(f.kind, f.original_value, f.audited_value, f.principal) for f in r.findings] == [
        ("POA_CHANGED", "Y", "N", True),  # on the audited principal line
        ("POA_CHANGED", "", "Y", False),  # a blank original differs from Y
    ]
    assert (r.poa_checked, r.poa_changed) == (2, 2)


def test_audited_poa_blank_or_exempt_never_gives_a_finding_nor_counts() -> None:
    r = compare_encounter(
        encounter(dx(("I10", "Y"), ("Z79.4", "Y")), dx(("I10", ""), ("Z79.4", "1")))
    )
    assert r.findings == ()
    assert r.poa_checked == 0


def test_poa_is_ignored_outside_inpatient() -> None:
    r = compare_encounter(encounter(dx(("I10", "Y")), dx(("I10", "N")), setting="outpatient"))
    assert r.findings == ()
    assert r.poa_checked == 0


def test_modifiers_compare_as_sets_and_units_separately() -> None:
    original = [line("20610", 1, mods="rt;25"), line("J1100", 2, units=1, system="HCPCS")]
    audited = [line("20610", 1, mods="25; RT"), line("J1100", 2, units=3, system="HCPCS")]
    r = compare_encounter(
        encounter(dx("M17.11") + original, dx("M17.11") + audited, setting="outpatient")
    )
    # 20610: same set {25, RT} → nothing. J1100: units 1 → 3.
    assert [(f.kind, f.original_value, f.audited_value) for f in r.findings] == [
        ("UNITS_CHANGED", "1", "3")
    ]
    assert r.tallies["LINE"].line_errors == 1


def test_a_pair_with_modifier_and_units_errors_counts_once_in_e() -> None:
    r = compare_encounter(
        encounter([line("20610", 1, units=2)], [line("20610", 1, mods="RT")], setting="outpatient")
    )
    assert [(f.kind, f.original_value, f.audited_value) for f in r.findings] == [
        ("MODIFIER_CHANGED", "", "RT"),
        ("UNITS_CHANGED", "2", "1"),
    ]
    assert r.tallies["LINE"].line_errors == 1


def test_repeated_codes_pair_in_seq_order() -> None:
    # Two 96372 lines each version; pairs are (o1, a1) and (o2, a2) by seq, so only the
    # second pair has a modifier difference.
    original = [line("96372", 1), line("96372", 2)]
    audited = [line("96372", 1), line("96372", 2, mods="59")]
    r = compare_encounter(encounter(original, audited, setting="outpatient"))
    assert [(f.kind, f.original_seq, f.audited_seq) for f in r.findings] == [
        ("MODIFIER_CHANGED", 2, 2)
    ]


def test_revision_takes_the_longest_common_prefix_first() -> None:
    # Original I50.9 and I50.21; audited I50.23. I5021~I5023 share 4 characters, I509~I5023
    # share 3, so I50.21 → I50.23 is the revision and I50.9 is deleted.
    r = compare_encounter(
        encounter(dx("N18.4", "I50.9", "I50.21"), dx("N18.4", "I50.23"), setting="profee")
    )
    assert kinds(r.findings) == [("REVISED", "I5021", "I5023"), ("DELETED", "I509", None)]


def test_revision_ties_go_to_lower_original_then_lower_audited_seq() -> None:
    # E11.9 (seq 1) and E11.8 (seq 2) both share 3 characters with E11.65 and E11.22.
    # Tie → lowest original seq first (E11.9), with the lowest audited seq (E11.65).
    r = compare_encounter(encounter(dx("E11.9", "E11.8"), dx("E11.65", "E11.22"), setting="profee"))
    assert kinds(r.findings) == [("REVISED", "E119", "E1165"), ("REVISED", "E118", "E1122")]


def test_prefix_shorter_than_three_is_not_a_revision() -> None:
    r = compare_encounter(encounter(dx("I10"), dx("I21.4"), setting="profee"))
    assert kinds(r.findings) == [("DELETED", "I10", None), ("ADDED", None, "I214")]
    assert r.findings[1].principal is True  # the added line is the audited principal


def test_groups_are_compared_on_their_own() -> None:
    # A PX code never pairs with a DX code, even with a shared prefix.
    r = compare_encounter(encounter(dx("I10") + px("0JH606Z"), dx("I10"), setting="inpatient"))
    assert [(f.kind, f.group) for f in r.findings] == [("DELETED", "PX")]


def test_resequenced_when_the_coder_had_the_principal_as_a_secondary() -> None:
    r = compare_encounter(
        encounter(dx(("E87.1", "Y"), ("J18.9", "Y")), dx(("J18.9", "Y"), ("E87.1", "Y")))
    )
    assert [(f.kind, f.original, f.audited, f.principal, f.pattern) for f in r.findings] == [
        ("RESEQUENCED", "E871", "J189", True, "RESEQUENCED:DX:J18")
    ]
    assert r.pdx_counted
    assert not r.pdx_same


def test_no_resequence_when_the_audited_principal_is_new() -> None:
    # I50.9 → I50.23 as principal: a REVISED finding on the principal, not RESEQUENCED.
    r = compare_encounter(encounter(dx("I50.9", "N18.4"), dx("I50.23", "N18.4")))
    assert [(f.kind, f.principal) for f in r.findings] == [("REVISED", True)]


def test_deleted_original_principal_is_not_principal() -> None:
    # Original principal R07.9 unsupported; audited principal I21.4 was a secondary.
    r = compare_encounter(encounter(dx("R07.9", "I21.4"), dx("I21.4")))
    assert [(f.kind, f.principal) for f in r.findings] == [
        ("DELETED", False),
        ("RESEQUENCED", True),
    ]


def test_principal_is_the_lowest_seq_not_the_first_row() -> None:
    # Rows may arrive out of order; seq decides.
    original = dx("E87.1", "J18.9")  # seq 1, 2
    audited = [CodeLine("ICD10CM", 5, "E871"), CodeLine("ICD10CM", 2, "J189")]
    r = compare_encounter(encounter(original, audited, setting="profee"))
    assert kinds(r.findings) == [("RESEQUENCED", "E871", "J189")]


def test_disposition_changed_inpatient_only() -> None:
    r = compare_encounter(
        encounter(dx("J18.9"), dx("J18.9"), discharge_disposition="06", audited_disposition="01")
    )
    assert [(f.kind, f.group, f.original, f.audited, f.pattern) for f in r.findings] == [
        ("DISPOSITION_CHANGED", "-", "06", "01", "DISPOSITION_CHANGED:-:-")
    ]
    r = compare_encounter(
        encounter(
            dx("J18.9"),
            dx("J18.9"),
            setting="outpatient",
            discharge_disposition="06",
            audited_disposition="01",
        )
    )
    assert r.findings == ()


def test_blank_audited_disposition_defaults_to_the_original() -> None:
    r = compare_encounter(encounter(dx("J18.9"), dx("J18.9"), discharge_disposition="06"))
    assert r.findings == ()


def test_em_delta_on_same_family_revisions_only() -> None:
    r = compare_encounter(
        encounter(
            [*dx("E11.9"), line("99215", 1), line("99284", 2)],
            [*dx("E11.9"), line("99213", 1), line("99283", 2)],
            setting="profee",
        )
    )
    em = [(f.original, f.audited, f.em_delta, f.pattern) for f in r.findings]
    assert em == [
        ("99215", "99213", -2, "REVISED:LINE:992"),  # over-coded by two levels
        ("99284", "99283", None, "REVISED:LINE:992"),  # ED codes are ordinary LINE codes
    ]
    assert (r.em_overcoded, r.em_undercoded) == (1, 0)
    assert r.em_counted
    assert not r.em_same


def test_em_new_to_established_is_not_a_level_change() -> None:
    r = compare_encounter(encounter([line("99203")], [line("99213")], setting="profee"))
    assert [(f.kind, f.em_delta) for f in r.findings] == [("REVISED", None)]


def test_em_accuracy_compares_multisets() -> None:
    # Same E/M code twice vs once: multisets differ.
    r = compare_encounter(
        encounter([line("99213", 1), line("99213", 2)], [line("99213", 1)], setting="profee")
    )
    assert r.em_counted
    assert not r.em_same
    r = compare_encounter(
        encounter([line("99213", 1)], [line("99213", 2, mods="25")], setting="profee")
    )
    assert r.em_counted
    assert r.em_same


class FakeGrouper:
    """Groups by a lookup on the principal code (the real grouper is tested elsewhere)."""

    def __init__(self, table: dict[tuple[str, ...], str]) -> None:
        self.table = table
        self.claims: list[DrgClaim] = []

    def group(self, claim: DrgClaim) -> DrgResult | None:
        self.claims.append(claim)
        if claim.discharge_date.year < 2022:
            return None
        return DrgResult(drg=self.table[tuple(c for c, _ in claim.diagnoses)])


class FakePricing:
    weights = {"292": Decimal("1.0000"), "291": Decimal("1.3000"), "999": None}

    def weight(self, drg: str, on: date) -> Decimal | None:
        return self.weights.get(drg)

    def default_base_rate(self, on: date) -> Decimal | None:
        return Decimal("6000.00") if on >= date(2026, 10, 1) else None


def test_drg_changed_with_weights_and_money_rounded_half_up() -> None:
    g = FakeGrouper({("I5023", "E871"): "292", ("I5023", "J9601"): "291"})
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("I50.23", "J96.01")),
        grouper=g,
        pricing=FakePricing(),
        base_rate=Decimal("6500.05"),
    )
    assert kinds(r.findings)[-1] == ("DRG_CHANGED", "292", "291")
    assert r.rw_delta == Decimal("0.3000")
    # 0.3 × 6500.05 = 1950.015 → half-up to 1950.02 (banker's rounding would give .02 too,
    # so check a true half case as well below).
    assert r.financial_impact == Decimal("1950.02")
    assert r.findings[-1].pattern == "DRG_CHANGED:-:-"


def test_half_cent_rounds_up() -> None:
    g = FakeGrouper({("I5023", "E871"): "292", ("I5023", "J9601"): "291"})
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("I50.23", "J96.01")),
        grouper=g,
        pricing=FakePricing(),
        base_rate=Decimal("0.05"),  # 0.3 × 0.05 = 0.015 → 0.02 half-up (0.01 half-even)
    )
    assert r.financial_impact == Decimal("0.02")


def test_billed_drg_wins_and_a_mismatch_is_a_warning_not_a_finding() -> None:
    g = FakeGrouper({("I5023", "E871"): "292"})
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("I50.23", "E87.1"), billed_drg="291"),
        grouper=g,
        pricing=FakePricing(),
        base_rate=Decimal("1000"),
    )
    assert kinds(r.findings) == [("DRG_CHANGED", "291", "292")]
    assert any("billed DRG 291" in w for w in r.warnings)


def test_audited_grouping_uses_the_audited_disposition() -> None:
    g = FakeGrouper({("I214",): "282"})
    compare_encounter(
        encounter(dx("I21.4"), dx("I21.4"), discharge_disposition="01", audited_disposition="20"),
        grouper=g,
    )
    assert [c.disposition for c in g.claims] == ["01", "20"]


def test_missing_base_rate_or_weight_gives_null_money_and_a_warning() -> None:
    g = FakeGrouper({("I5023", "E871"): "292", ("I5023", "J9601"): "291", ("R69",): "999"})
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("I50.23", "J96.01")), grouper=g, pricing=FakePricing()
    )
    assert r.rw_delta == Decimal("0.3000")
    assert r.financial_impact is None
    assert any("base rate" in w for w in r.warnings)
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("R69")),
        grouper=g,
        pricing=FakePricing(),
        base_rate=Decimal(1),
    )
    assert r.rw_delta is None
    assert r.financial_impact is None
    assert any("DRG 999" in w for w in r.warnings)


def test_default_base_rate_of_the_fiscal_year() -> None:
    g = FakeGrouper({("I5023", "E871"): "292", ("I5023", "J9601"): "291"})
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("I50.23", "J96.01"), discharge_date=date(2026, 11, 2)),
        grouper=g,
        pricing=FakePricing(),
    )
    assert r.financial_impact == Decimal("1800.00")


def test_drgs_are_inpatient_only_and_null_without_a_grouper_version() -> None:
    g = FakeGrouper({})
    r = compare_encounter(encounter(dx("I10"), dx("I10"), setting="outpatient"), grouper=g)
    assert r.original_drg is None
    assert g.claims == []
    r = compare_encounter(
        encounter(dx("I10"), dx("I10"), discharge_date=date(2021, 1, 1)), grouper=g
    )
    assert r.original_drg is None
    assert not r.drg_counted
    assert any("grouper" in w for w in r.warnings)


def test_same_drg_gives_zero_delta_and_no_finding() -> None:
    g = FakeGrouper({("I5023", "E871"): "292", ("I5023", "N184"): "292"})
    r = compare_encounter(
        encounter(dx("I50.23", "E87.1"), dx("I50.23", "N18.4")),
        grouper=g,
        pricing=FakePricing(),
        base_rate=Decimal(5000),
    )
    assert "DRG_CHANGED" not in [f.kind for f in r.findings]
    assert r.rw_delta == Decimal("0.0000")
    assert r.financial_impact == Decimal("0.00")
    assert r.drg_counted


class FlagEverySecondary:
    def check(self, encounter: Encounter) -> tuple[CodeIssue, ...]:
        return tuple(
            CodeIssue("audited", line.system, line.seq, line.code, "HEADER", "header code")
            for line in encounter.audited
            if line.seq > 1
        )


def test_code_issues_become_warnings_before_drg_ones() -> None:
    r = compare_encounter(encounter(dx("I50.9"), dx("I50.9", "E87")), checker=FlagEverySecondary())
    assert [i.kind for i in r.code_issues] == ["HEADER"]
    assert r.warnings == ("audited ICD10CM E87 (seq 2): header code",)
