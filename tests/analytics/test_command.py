"""`auditcoach metrics --org SLUG --json` on a hand-worked history of two coders."""

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auditcoach.accounts.models import Organization
from auditcoach.audits.models import Finding

pytestmark = pytest.mark.django_db

ENCOUNTER_COLUMNS = ["encounter_id", "setting", "discharge_date", "coder", "auditor", "audit_cycle"]
CODE_COLUMNS = ["encounter_id", "version", "system", "seq", "code", "poa", "modifiers", "units"]

type Spec = tuple[str, str, str, list[str], list[str]]  # id, coder, cycle, original, audited


def write_workbook(folder: Path, encounters: list[Spec]) -> Path:
    """A CSV workbook of outpatient encounters with DX codes only (no DRG, no POA)."""
    folder.mkdir()
    with (folder / "encounters.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ENCOUNTER_COLUMNS)
        for eid, coder, cycle, _, _ in encounters:
            w.writerow([eid, "outpatient", "2026-03-01", coder, "auditor.raj", cycle])
    with (folder / "codes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CODE_COLUMNS)
        for eid, _, _, original, audited in encounters:
            for version, codes in (("original", original), ("audited", audited)):
                for seq, code in enumerate(codes, start=1):
                    w.writerow([eid, version, "ICD10CM", seq, code, "", "", ""])
    return folder


def metrics_json(capsys: pytest.CaptureFixture[str], slug: str) -> Any:
    capsys.readouterr()
    call_command("metrics", "--org", slug, "--json")
    return json.loads(capsys.readouterr().out)


# Cycles Q1..Q4 of 2026. Ana works in all four, Ben in Q1, Q3 and Q4 (his list skips Q2).
#
# A1 Q1  I10 I50.9 N18.4 → I10 I50.23 E87.1   REVISED I50, DELETED N18, ADDED E87   A=3 err=2
# A2 Q2  I10 → I10 E87.1                      ADDED E87 (repeat: Q1, one back)       A=2 err=1
# A3 Q2  J18.9 Z79.4 → J18.9                  DELETED Z79, later OVERTURNED          A=1 err=0
# A4 Q3  I10 I50.9 Z79.4 → I10 I50.23 E87.1   REVISED I50 (repeat: Q1, two back),
#                                             DELETED Z79 (no: the Q2 one was overturned),
#                                             ADDED E87 (repeat: Q2, one back)       A=3 err=2
# A5 Q4  I10 N18.4 → I10                      DELETED N18 (no: Q1 is three back)     A=1 err=0
# A6 Q4  I10 → I10 E87.1                      not released: left out entirely
# B1 Q1  E11.9 → E11.9 I10                    ADDED I10                              A=2 err=1
# B2 Q3  E11.9 → E11.65                       REVISED E11 (no prior)                 A=1 err=1
# B3 Q4  E11.9 → E11.65 I10                   REVISED E11 (repeat: Q3, one back),
#                                             ADDED I10 (repeat: Q1, two back in Ben's
#                                             own list Q1, Q3, Q4)                   A=2 err=2
# (errors = a + r; a DELETED code is not an error of the audited codes, DESIGN §6/§8)
WORKBOOKS: list[tuple[str, bool, list[Spec]]] = [
    (
        "w1",
        True,
        [
            ("A1", "ana", "2026-Q1", ["I10", "I50.9", "N18.4"], ["I10", "I50.23", "E87.1"]),
            ("B1", "ben", "2026-Q1", ["E11.9"], ["E11.9", "I10"]),
            ("A2", "ana", "2026-Q2", ["I10"], ["I10", "E87.1"]),
            ("A3", "ana", "2026-Q2", ["J18.9", "Z79.4"], ["J18.9"]),
        ],
    ),
    (
        "w2",
        True,
        [
            ("A4", "ana", "2026-Q3", ["I10", "I50.9", "Z79.4"], ["I10", "I50.23", "E87.1"]),
            ("B2", "ben", "2026-Q3", ["E11.9"], ["E11.65"]),
        ],
    ),
    (
        "w3",
        True,
        [
            ("A5", "ana", "2026-Q4", ["I10", "N18.4"], ["I10"]),
            ("B3", "ben", "2026-Q4", ["E11.9"], ["E11.65", "I10"]),
        ],
    ),
    ("w4", False, [("A6", "ana", "2026-Q4", ["I10"], ["I10", "E87.1"])]),
]


def cycle(
    label: str, enc: int, codes: int, errors: int, p: float | None, findings: int, repeats: int
) -> dict[str, Any]:
    return {
        "cycle": label,
        "encounters": enc,
        "audited_codes": codes,
        "code_errors": errors,
        "p": p,
        # Every chart here is small enough that p̄ ± 3σ reaches past [0, 1] at every point:
        # e.g. the organization, p̄ = 9/15 = 0.6, n = 5: 0.6 ± 3·sqrt(0.24/5) = 0.6 ± 0.657.
        "ucl": 1.0,
        "lcl": 0.0,
        "signal": False,
        "findings": findings,
        "repeat_findings": repeats,
        "repeat_rate": repeats / findings if findings else None,
    }


def test_metrics_json_hand_worked(
    org: Organization, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, released, specs in WORKBOOKS:
        args = [str(write_workbook(tmp_path / name, specs)), "--org", org.slug, "--audit", name]
        call_command("import", *args, *(["--released"] if released else []))
    # Mirrors an overturned decision on A3's DELETED Z79 (coaching.services.finding_decide
    # marks it overturned and inactive); the coder's coding is not restored here, which
    # changes nothing below since a DELETED code is not a code error.
    overturned = Finding.objects.get(encounter__external_id="A3", pattern="DELETED:DX:Z79")
    Finding.objects.filter(pk=overturned.pk).update(status="overturned", active=False)

    got = metrics_json(capsys, org.slug)

    # Organization: Σ errors = 2+1+0+2+0 (Ana) + 1+1+2 (Ben) = 9; Σ codes = 10 + 5 = 15.
    assert got["center"] == 9 / 15
    assert got["cycles"] == [
        cycle("2026-Q1", 2, 5, 3, 3 / 5, 4, 0),  # A1 (3 findings) + B1 (1)
        cycle("2026-Q2", 2, 3, 1, 1 / 3, 1, 1),  # A3's overturned finding does not count
        cycle("2026-Q3", 2, 4, 3, 3 / 4, 4, 2),  # A4: 2 repeats of 3; B2: none
        cycle("2026-Q4", 2, 3, 2, 2 / 3, 3, 2),  # A5: none; B3: 2 of 2
    ]
    assert [c["coder"] for c in got["coders"]] == ["ana", "ben"]
    ana, ben = got["coders"]
    assert ana["center"] == 5 / 10
    assert ana["cycles"] == [
        cycle("2026-Q1", 1, 3, 2, 2 / 3, 3, 0),
        cycle("2026-Q2", 2, 3, 1, 1 / 3, 1, 1),
        cycle("2026-Q3", 1, 3, 2, 2 / 3, 3, 2),
        cycle("2026-Q4", 1, 1, 0, 0.0, 1, 0),
    ]
    assert ben["center"] == 4 / 5
    assert ben["cycles"] == [
        cycle("2026-Q1", 1, 2, 1, 1 / 2, 1, 0),
        cycle("2026-Q3", 1, 1, 1, 1.0, 1, 0),
        cycle("2026-Q4", 1, 2, 2, 1.0, 2, 2),
    ]
    assert set(got) == {"cycles", "center", "coders"}
    assert all(isinstance(c["encounters"], int) for c in got["cycles"])


def test_metrics_json_empty_org(org: Organization, capsys: pytest.CaptureFixture[str]) -> None:
    assert metrics_json(capsys, org.slug) == {"cycles": [], "center": None, "coders": []}


def test_metrics_unknown_org() -> None:
    with pytest.raises(CommandError, match="no organization with slug 'nope'") as exc:
        call_command("metrics", "--org", "nope", "--json")
    assert exc.value.returncode == 2


def test_metrics_table(
    org: Organization, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, specs = WORKBOOKS[0]
    call_command(
        "import", str(write_workbook(tmp_path / name, specs)), "--org", org.slug, "--audit", name,
        "--released",
    )  # fmt: skip
    capsys.readouterr()
    call_command("metrics", "--org", org.slug)
    out = capsys.readouterr().out
    assert "Organization" in out
    assert "ana" in out
