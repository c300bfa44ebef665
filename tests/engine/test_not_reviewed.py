"""Not-yet-reviewed encounters (DESIGN §9): original lines and no audited line.

On reading, the audited version is an exact copy of the original (codes, POA, modifiers,
units, disposition); the encounter has no findings and counts in no summary figure; the
report lists it with "reviewed": false and the summary adds "not_reviewed".
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditcoach.engine.compare import compare_encounter
from auditcoach.engine.model import CodeLine, DrgClaim, DrgResult, Encounter
from auditcoach.engine.report import score_json
from auditcoach.engine.workbook import (
    CODE_COLUMNS,
    ENCOUNTER_COLUMNS,
    read_tables,
    read_workbook,
    write_workbook_csv,
)

WORKED = Path(__file__).parent.parent / "fixtures" / "worked"


def _write(folder: Path, encounters: list[list[str]], codes: list[list[str]]) -> Path:
    folder.mkdir()
    for name, header, rows in (
        ("encounters.csv", ENCOUNTER_COLUMNS, encounters),
        ("codes.csv", CODE_COLUMNS, codes),
    ):
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


def _enc(eid: str, setting: str = "inpatient", disp: str = "", audited_disp: str = "") -> list[str]:
    return [
        eid,
        setting,
        "2026-05-14",
        "70",
        "F",
        disp,
        audited_disp,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]


def _code(eid: str, version: str, system: str, seq: int, code: str, poa: str = "",
          mods: str = "", units: str = "") -> list[str]:  # fmt: skip
    return [eid, version, system, str(seq), code, poa, mods, units]


def test_original_only_encounter_is_not_reviewed_with_an_exact_copy(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "wb",
        # R-1 has original lines only, and an audited disposition that is not read: the
        # copy takes the discharge disposition (§9 "codes, POA, modifiers, units,
        # disposition"). B-2 has both versions; N-3 has no line at all.
        [_enc("R-1", disp="06", audited_disp="01"), _enc("B-2", disp="01"), _enc("N-3")],
        [
            _code("R-1", "original", "ICD10CM", 1, "I50.9", "Y"),
            _code("R-1", "original", "ICD10CM", 2, "Z79.4", "1"),
            _code("R-1", "original", "ICD10PCS", 1, "0JH606Z"),
            _code("R-1", "original", "CPT", 1, "20610", mods="RT;59", units="2"),
            _code("B-2", "original", "ICD10CM", 1, "J18.9", "Y"),
            _code("B-2", "audited", "ICD10CM", 1, "J18.9", "Y"),
        ],
    )
    wb = read_workbook(folder)
    r1, b2, n3 = wb.encounters
    assert r1.reviewed is False
    assert r1.audited == r1.original
    assert [(x.code, x.poa, x.modifiers, x.units) for x in r1.audited] == [
        ("I509", "Y", frozenset(), 1),
        ("Z794", "1", frozenset(), 1),
        ("0JH606Z", "", frozenset(), 1),
        ("20610", "", frozenset({"RT", "59"}), 2),
    ]
    assert r1.audited_disposition == "06"
    assert b2.reviewed is True
    assert n3.reviewed is True
    assert n3.original == n3.audited == ()
    assert wb.code_rows == 6  # the rows read, not the copies

    # read_tables (every other intake) meets the same rule.
    def rows(name: str) -> list[tuple[int, list[str]]]:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            return list(enumerate(csv.reader(handle), start=1))

    again = read_tables(rows("encounters.csv"), rows("codes.csv"), source="t")
    assert again.encounters == wb.encounters


def test_a_not_reviewed_encounter_writes_back_as_it_arrived(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "wb",
        [_enc("R-1", disp="06")],
        [_code("R-1", "original", "ICD10CM", 1, "I50.9", "Y")],
    )
    wb = read_workbook(folder)
    write_workbook_csv(wb.encounters, tmp_path / "out")
    codes = (tmp_path / "out" / "codes.csv").read_text().splitlines()
    assert codes[1:] == ["R-1,original,ICD10CM,1,I509,Y,,1"]
    assert read_workbook(tmp_path / "out").encounters == wb.encounters


class _Fixed:
    """A grouper that groups every claim to DRG 291 (the billed DRG below is 293)."""

    def group(self, claim: DrgClaim) -> DrgResult | None:
        return DrgResult(drg="291")


def _not_reviewed(**kw: object) -> Encounter:
    lines = (CodeLine("ICD10CM", 1, "I509", "Y"), CodeLine("ICD10CM", 2, "E871", "N"))
    fields: dict[str, object] = {
        "encounter_id": "R-1",
        "setting": "inpatient",
        "discharge_date": date(2026, 5, 14),
        "billed_drg": "293",
        "discharge_disposition": "01",
        "audited_disposition": "01",
        "original": lines,
        "audited": lines,
        "reviewed": False,
    }
    fields.update(kw)
    return Encounter(**fields)  # type: ignore[arg-type]


def test_not_reviewed_has_no_findings_even_where_the_billed_drg_differs() -> None:
    # The billed DRG (293) is the original DRG and the copy groups to 291: once reviewed,
    # that is a DRG_CHANGED finding; before, there is nothing found and no money at stake.
    result = compare_encounter(_not_reviewed(), grouper=_Fixed())
    assert result.reviewed is False
    assert result.findings == ()
    assert (result.original_drg, result.audited_drg) == ("293", "291")
    assert result.rw_delta is None
    assert result.financial_impact is None
    reviewed = compare_encounter(_not_reviewed(reviewed=True), grouper=_Fixed())
    assert [f.kind for f in reviewed.findings] == ["DRG_CHANGED"]


def test_score_json_lists_not_reviewed_and_leaves_them_out_of_the_summary() -> None:
    worked = read_workbook(WORKED).encounters
    results = [compare_encounter(e) for e in worked]
    extra = compare_encounter(_not_reviewed(), grouper=_Fixed())
    out = score_json([*results, extra])
    alone = score_json(results)
    assert [e["reviewed"] for e in out["encounters"]] == [True, True, True, True, False]
    assert out["encounters"][-1]["findings"] == []
    assert out["summary"]["not_reviewed"] == 1
    assert alone["summary"]["not_reviewed"] == 0
    assert out["summary"]["encounters"] == 4
    assert out["summary"] == {**alone["summary"], "not_reviewed": 1}


# --------------------------------------------------------------------------- invariant

_DX = ["I509", "I5023", "E871", "N184", "Z794", "J189", "E1165"]
_PX = ["0JH606Z", "5A1955Z"]
_CPT = ["99213", "99215", "20610"]


@st.composite
def _lines(draw: st.DrawFn, min_size: int = 0) -> list[list[str]]:
    out: list[list[str]] = []
    for system, pool in (("ICD10CM", _DX), ("ICD10PCS", _PX), ("CPT", _CPT)):
        codes = draw(st.lists(st.sampled_from(pool), max_size=3))
        for seq, code in enumerate(codes, start=1):
            poa = draw(st.sampled_from(["", "Y", "N", "1"])) if system == "ICD10CM" else ""
            mods = draw(st.sampled_from(["", "25", "RT"])) if system == "CPT" else ""
            out.append([system, str(seq), code, poa, mods, str(draw(st.integers(1, 3)))])
    if len(out) < min_size:
        out.append(["ICD10CM", "9", draw(st.sampled_from(_DX)), "Y", "", "1"])
    return out


@st.composite
def _workbook(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]], set[str]]:
    """Reviewed encounters (both versions, or none) and k ≥ 0 original-only ones, shuffled."""
    two = st.sampled_from(["", "01", "06"])
    encounters: list[list[str]] = []
    codes: list[list[str]] = []
    n = draw(st.integers(1, 4))
    k = draw(st.integers(0, 4))
    kinds = draw(st.permutations(["r"] * n + ["n"] * k))
    for i, kind in enumerate(kinds):
        eid = f"E{i}"
        setting = draw(st.sampled_from(["inpatient", "outpatient", "profee"]))
        encounters.append(_enc(eid, setting, draw(two), draw(two)))
        original = draw(_lines(min_size=1 if kind == "n" else 0))
        audited = [] if kind == "n" else draw(_lines(min_size=1 if original else 0))
        codes += [[eid, "original", *x] for x in original]
        codes += [[eid, "audited", *x] for x in audited]
    return encounters, codes, {f"E{i}" for i, kind in enumerate(kinds) if kind == "n"}


def _tables(rows: list[list[str]], header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    return list(enumerate([list(header), *rows], start=1))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=_workbook())
def test_not_reviewed_encounters_leave_every_summary_figure_unchanged(
    book: tuple[list[list[str]], list[list[str]], set[str]],
) -> None:
    encounters, codes, waiting = book
    k = len(waiting)
    wb = read_tables(
        _tables(encounters, ENCOUNTER_COLUMNS), _tables(codes, CODE_COLUMNS), source="h"
    )
    assert {e.encounter_id for e in wb.encounters if not e.reviewed} == waiting
    reviewed_only = read_tables(
        _tables([e for e in encounters if e[0] not in waiting], ENCOUNTER_COLUMNS),
        _tables([c for c in codes if c[0] not in waiting], CODE_COLUMNS),
        source="h",
    )
    everything = score_json([compare_encounter(e) for e in wb.encounters])
    without = score_json([compare_encounter(e) for e in reviewed_only.encounters])
    assert everything["summary"] == {**without["summary"], "not_reviewed": k}
    listed = [e for e in everything["encounters"] if not e["reviewed"]]
    assert len(listed) == k
    assert all(e["findings"] == [] for e in listed)


def test_disposition_copy_is_the_original_even_when_blank(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "wb",
        [_enc("R-1", disp="", audited_disp="01")],
        [_code("R-1", "original", "ICD10CM", 1, "I50.9", "Y")],
    )
    (e,) = read_workbook(folder).encounters
    assert e.reviewed is False
    assert e.audited_disposition is None
    assert e.effective_audited_disposition is None
