from auditcoach.engine.codes import (
    display_code,
    em_family,
    format_modifiers,
    normalize_code,
    normalize_modifiers,
    normalize_poa,
)


def test_codes_lose_every_whitespace_and_dot_and_are_uppercased() -> None:
    assert normalize_code(" i50.23 ") == "I5023"
    assert normalize_code("0jh6 06z") == "0JH606Z"
    assert normalize_code("E\t87.\n1") == "E871"


def test_poa_is_trimmed_and_uppercased() -> None:
    assert normalize_poa(" y ") == "Y"
    assert normalize_poa(None) == ""


def test_modifiers_are_a_set_without_empty_items() -> None:
    assert normalize_modifiers(" rt; ;25;") == frozenset({"RT", "25"})
    assert normalize_modifiers("") == frozenset()
    # Plain character order: digits sort before letters.
    assert format_modifiers(frozenset({"RT", "59", "25"})) == "25;59;RT"


def test_em_families_are_only_the_office_codes_of_5_7() -> None:
    assert em_family("99202") == "9920"
    assert em_family("99215") == "9921"
    assert em_family("99201") is None  # deleted in 2021, not in §5.7
    assert em_family("99285") is None  # emergency department: an ordinary LINE code
    assert em_family("99223") is None  # inpatient


def test_screens_show_icd10cm_with_its_dot() -> None:
    assert display_code("ICD10CM", "I5023") == "I50.23"
    assert display_code("ICD10CM", "A41") == "A41"
    assert display_code("ICD10PCS", "0JH606Z") == "0JH606Z"
