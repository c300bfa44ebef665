"""Synthetic workbooks for the roster tests: every roster column, several cycles."""

import csv
from pathlib import Path

ENCOUNTER_COLUMNS = [
    "encounter_id", "setting", "discharge_date", "facility", "service_line", "provider",
    "payer", "coder", "auditor", "audit_cycle",
]  # fmt: skip
CODE_COLUMNS = ["encounter_id", "version", "system", "seq", "code", "poa", "modifiers", "units"]

# id, cycle, coder, auditor, payer, facility, service line, provider, original, audited
type Row = tuple[str, str, str, str, str, str, str, str, list[str], list[str]]


def write(folder: Path, rows: list[Row]) -> Path:
    """A CSV workbook of outpatient encounters with DX codes only."""
    folder.mkdir(parents=True)
    with (folder / "encounters.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ENCOUNTER_COLUMNS)
        for eid, cycle, coder, auditor, payer, fac, sl, prov, _, _ in rows:
            w.writerow(
                [eid, "outpatient", "2026-03-01", fac, sl, prov, payer, coder, auditor, cycle]
            )
    with (folder / "codes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CODE_COLUMNS)
        for eid, *_, original, audited in rows:
            for version, codes in (("original", original), ("audited", audited)):
                for seq, code in enumerate(codes, start=1):
                    w.writerow([eid, version, "ICD10CM", seq, code, "", "", ""])
    return folder


def same_person(rows: list[Row], merged: str, survivor: str) -> list[Row]:
    """The rows with every `merged` coder written as `survivor`."""
    return [(r[0], r[1], survivor if r[2] == merged else r[2], *r[3:]) for r in rows]  # type: ignore[return-value]


# Three released cycles. "Alice Lee" and "A. Lee" are one coder written two ways: merged,
# her Q1 ADDED E87 makes the Q2 and Q3 ones repeats, which the clean organization has too.
HISTORY: list[list[Row]] = [
    [
        ("E1", "2026-Q1", "Alice Lee", "Raj Patel", "Medicare", "North", "Cardiology", "Dr Lee", ["I10"], ["I10", "E87.1"]),
        ("E2", "2026-Q1", "Ben Ortiz", "Kim Wu", "Aetna", "North", "Cardiology", "Dr Lee", ["E11.9"], ["E11.65"]),
        ("E3", "2026-Q1", "A. Lee", "Kim Wu", "Medicare", "South", "Pulmonary", "Dr Shah", ["J18.9", "Z79.4"], ["J18.9"]),
    ],
    [
        ("E4", "2026-Q2", "A. Lee", "Raj Patel", "Medicare", "North", "Cardiology", "Dr Lee", ["I10"], ["I10", "E87.1"]),
        ("E5", "2026-Q2", "Alice Lee", "Kim Wu", "Aetna", "South", "Pulmonary", "Dr Shah", ["I50.9"], ["I50.23"]),
        ("E6", "2026-Q2", "Ben Ortiz", "Kim Wu", "Medicare", "North", "Cardiology", "Dr Lee", ["E11.9"], ["E11.65", "I10"]),
    ],
    [
        ("E7", "2026-Q3", "Alice Lee", "Raj Patel", "Medicare", "North", "Cardiology", "Dr Lee", ["I10", "I50.9"], ["I10", "I50.23", "E87.1"]),
        ("E8", "2026-Q3", "A. Lee", "Kim Wu", "Aetna", "South", "Pulmonary", "Dr Shah", ["N18.4"], ["N18.4"]),
        ("E9", "2026-Q3", "Ben Ortiz", "Raj Patel", "Medicare", "North", "Cardiology", "Dr Lee", ["E11.9"], ["E11.9"]),
    ],
]  # fmt: skip

# One workbook with two spellings of every roster kind.
TWINS: list[Row] = [
    ("T1", "2026-Q1", "Alice Lee", "Raj Patel", "Medicare", "North", "Cardiology", "Dr Lee", ["I10"], ["I10", "E87.1"]),
    ("T2", "2026-Q1", "A. Lee", "R. Patel", "MEDICARE", "North Campus", "Cardio", "Lee, MD", ["E11.9"], ["E11.65"]),
    ("T3", "2026-Q2", "Alice Lee", "Raj Patel", "Medicare", "North", "Cardiology", "Dr Lee", ["I50.9"], ["I50.23"]),
]  # fmt: skip
