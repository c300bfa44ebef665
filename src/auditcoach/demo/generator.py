"""Synthetic audit data for the demo: a year of quarterly audits of a small health system.

Pure Python (no Django): `generate()` returns `engine.model.Encounter`s whose `audited`
version is the correct coding of a clinical scenario and whose `original` version is what
the encounter's coder billed: the audited coding with that coder's habitual errors applied
at the coder's rate for the cycle, plus a small background error rate. Every patient,
provider and coder is invented; no real data is involved.

What makes the demo tell a story:
- Each of the 15 coders has an error habit (drops CC/MCC secondaries, mis-sequences sepsis,
  over-codes E/M, forgets modifiers, ...) that shows up as a recurring pattern key.
- Habits fade over the cycles for most coders (coaching works), one coder gets worse and two
  strong coders stay near error-free.
- ICD-10-CM codes are billable in the FY2026 tabular list, ICD-10-PCS codes are valid
  Medical and Surgical codes, HCPCS Level II codes are in the 2026 I/OCE list; CPT codes are
  used as numbers only, never with descriptors (AMA licence).

Everything is drawn from one `random.Random(seed)`: the same arguments give the same data.
Sets are never iterated when drawing (string hashing differs between processes).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Final, Literal

from auditcoach.engine.model import CodeLine, Encounter, Setting
from auditcoach.engine.workbook import Workbook

__all__ = [
    "AUDITORS",
    "CODERS",
    "CYCLES",
    "FACILITIES",
    "PAYERS",
    "PROVIDERS",
    "SCENARIOS",
    "SERVICE_LINES",
    "CoderProfile",
    "Scenario",
    "demo_workbooks",
    "emittable_codes",
    "generate",
]

CYCLES: Final = ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3")

# Facility -> (external id prefix, IPPS base rate in dollars used for the financial impact).
FACILITIES: Final[dict[str, tuple[str, Decimal]]] = {
    "North Campus": ("N", Decimal("6500.00")),
    "Riverside": ("R", Decimal("7100.00")),
    "Valley Clinic": ("V", Decimal("5900.00")),
}
_HOSPITALS: Final = ("North Campus", "Riverside")

SERVICE_LINES: Final = (
    "Cardiology",
    "Pulmonary",
    "Orthopedics",
    "Internal Medicine",
    "Family Medicine",
    "General Surgery",
    "Gastroenterology",
    "Emergency Medicine",
)

PROVIDERS: Final[dict[str, str]] = {
    "Dr. Avery Chen": "Cardiology",
    "Dr. Priya Natarajan": "Cardiology",
    "Dr. Samuel Okafor": "Pulmonary",
    "Dr. Marcus Webb": "Orthopedics",
    "Dr. Hannah Lindqvist": "Orthopedics",
    "Dr. Jorge Ramirez": "Internal Medicine",
    "Dr. Elena Petrova": "Internal Medicine",
    "Dr. Olivia Shah": "Family Medicine",
    "Dr. Mei Tanaka": "Family Medicine",
    "Dr. Tomas Varga": "General Surgery",
    "Dr. Aisha Bello": "Gastroenterology",
    "Dr. Daniel Osei": "Emergency Medicine",
}

PAYERS: Final = ("Medicare", "Medicaid", "Commercial", "Self-pay")
AUDITORS: Final = ("auditor.raj", "auditor.kim")

# Share of encounters per setting (DESIGN §4 settings).
_SETTING_MIX: Final[tuple[tuple[Setting, float], ...]] = (
    ("inpatient", 0.45),
    ("outpatient", 0.30),
    ("profee", 0.25),
)
_FACILITY_MIX: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "inpatient": (("North Campus", 0.55), ("Riverside", 0.45)),
    "outpatient": (("North Campus", 0.40), ("Riverside", 0.35), ("Valley Clinic", 0.25)),
    "profee": (("Valley Clinic", 0.60), ("North Campus", 0.20), ("Riverside", 0.20)),
}

# --------------------------------------------------------------------------- scenarios

Weighted = tuple[tuple[str, float], ...]

_DISPOSITIONS: Final[dict[str, Weighted]] = {
    "medical": (("01", 0.80), ("06", 0.11), ("03", 0.07), ("20", 0.02)),
    "elective": (("01", 0.55), ("06", 0.33), ("03", 0.12)),
    "sepsis": (("01", 0.48), ("06", 0.20), ("03", 0.22), ("20", 0.10)),
    "hip_fracture": (("03", 0.55), ("06", 0.22), ("01", 0.17), ("20", 0.06)),
    "young": (("01", 0.95), ("06", 0.05)),
}


@dataclass(frozen=True, slots=True)
class Dx:
    """An ICD-10-CM diagnosis of a scenario; `code` may list alternatives as `A|B`.

    `p` is the chance a secondary is present, `poa_n` the chance it arose after admission
    (POA N), `exempt` marks codes exempt from POA reporting (POA 1), `cc` the CC/MCC
    secondaries a CC-dropping coder misses.
    """

    code: str
    p: float = 1.0
    poa_n: float = 0.0
    exempt: bool = False
    cc: bool = False


@dataclass(frozen=True, slots=True)
class Px:
    """An ICD-10-PCS procedure; `code` may list alternatives as `A|B`."""

    code: str
    p: float = 1.0


@dataclass(frozen=True, slots=True)
class Ln:
    """A CPT or HCPCS line. `code` is `99213:5 99214:4` for a weighted choice."""

    system: Literal["CPT", "HCPCS"]
    code: str
    modifiers: tuple[str, ...] = ()
    units: tuple[int, ...] = (1,)
    p: float = 1.0

    @property
    def choices(self) -> Weighted:
        out = []
        for item in self.code.split():
            code, _, weight = item.partition(":")
            out.append((code, float(weight or 1)))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A clinical scenario: the correct coding of one kind of encounter, as a template.

    The first `dx` is the principal (first-listed) diagnosis. `sided` scenarios are written
    for the right side and mirrored to the left half of the time. `misseq` lists the
    secondaries a mis-sequencing coder puts first.
    """

    key: str
    setting: Setting
    service_line: str
    weight: float
    dx: tuple[Dx, ...]
    px: tuple[Px, ...] = ()
    lines: tuple[Ln, ...] = ()
    age: tuple[int, int, int] = (18, 55, 95)  # low, mode, high
    sided: bool = False
    misseq: tuple[str, ...] = ()
    dispositions: str = "medical"


def _z(code: str, p: float = 1.0) -> Dx:
    return Dx(code, p=p, exempt=True)


def _cpt(code: str, *modifiers: str, p: float = 1.0) -> Ln:
    return Ln("CPT", code, modifiers, p=p)


def _drug(code: str, *units: int, p: float = 1.0) -> Ln:
    return Ln("HCPCS", code, units=units, p=p)


SCENARIOS: Final[tuple[Scenario, ...]] = (
    # ---- inpatient
    Scenario(
        "hf_hypertensive_ckd",
        "inpatient",
        "Cardiology",
        10,
        (
            Dx("I130"),
            Dx("I5023", cc=True),
            Dx("N184", cc=True),
            Dx("E871", p=0.5, poa_n=0.3, cc=True),
            Dx("E1122", p=0.4),
            _z("Z794", p=0.3),
            Dx("I4819|I480", p=0.3, cc=True),
            _z("Z87891", p=0.2),
        ),
        age=(55, 78, 95),
        misseq=("I5023",),
    ),
    Scenario(
        "hf_hypertensive",
        "inpatient",
        "Cardiology",
        7,
        (
            Dx("I110"),
            Dx("I5033|I5023", cc=True),
            Dx("E871", p=0.3, poa_n=0.3, cc=True),
            Dx("E876", p=0.4, poa_n=0.3),
            Dx("E785", p=0.5),
            _z("Z87891", p=0.3),
        ),
        age=(50, 76, 95),
        misseq=("I5033", "I5023"),
    ),
    Scenario(
        "pneumonia_resp_failure",
        "inpatient",
        "Pulmonary",
        9,
        (
            Dx("J189|J181"),
            Dx("J9601", cc=True),
            Dx("J440", p=0.3, cc=True),
            Dx("E871", p=0.3, poa_n=0.2, cc=True),
            Dx("E860", p=0.3),
            _z("Z87891", p=0.4),
            _z("Z9981", p=0.15),
        ),
        age=(40, 74, 95),
        misseq=("J9601",),
    ),
    Scenario(
        "sepsis_pneumonia",
        "inpatient",
        "Internal Medicine",
        10,
        (
            Dx("A419"),
            Dx("R6520", p=0.6, cc=True),
            Dx("J189"),
            Dx("N179", p=0.5, poa_n=0.25, cc=True),
            Dx("G9341", p=0.25, poa_n=0.2, cc=True),
            Dx("E8720", p=0.2, cc=True),
            Dx("E43", p=0.12, cc=True),
            Dx("E860", p=0.3),
            Dx("I10", p=0.5),
        ),
        age=(35, 76, 95),
        misseq=("J189",),
        dispositions="sepsis",
    ),
    Scenario(
        "sepsis_uti",
        "inpatient",
        "Internal Medicine",
        8,
        (
            Dx("A4151|A419"),
            Dx("N390"),
            Dx("R6520", p=0.4, cc=True),
            Dx("N179", p=0.4, poa_n=0.25, cc=True),
            Dx("E860", p=0.4),
            Dx("F0390", p=0.3),
        ),
        age=(40, 80, 95),
        misseq=("N390",),
        dispositions="sepsis",
    ),
    Scenario(
        "uti",
        "inpatient",
        "Internal Medicine",
        5,
        (
            Dx("N390"),
            Dx("B9620", p=0.6),
            Dx("E860", p=0.5),
            Dx("F0390", p=0.3),
            Dx("N179", p=0.3, poa_n=0.3, cc=True),
            Dx("E876", p=0.3, poa_n=0.2),
        ),
        age=(50, 82, 95),
    ),
    Scenario(
        "copd_exacerbation",
        "inpatient",
        "Pulmonary",
        7,
        (
            Dx("J441"),
            Dx("J9611", p=0.3, cc=True),
            _z("Z9981", p=0.3),
            _z("Z87891", p=0.6),
            Dx("I10", p=0.5),
            Dx("E785", p=0.3),
        ),
        age=(50, 72, 92),
    ),
    Scenario(
        "nstemi_pci",
        "inpatient",
        "Cardiology",
        6,
        (
            Dx("I214"),
            Dx("I2510"),
            Dx("E785", p=0.7),
            Dx("I10", p=0.7),
            Dx("E1165|E119", p=0.3),
            _z("Z7984", p=0.2),
            _z("Z87891", p=0.3),
        ),
        px=(Px("027034Z|027134Z"),),
        age=(40, 67, 90),
    ),
    Scenario(
        "nstemi_medical",
        "inpatient",
        "Cardiology",
        4,
        (
            Dx("I214"),
            Dx("I2510"),
            Dx("I5021", p=0.3, cc=True),
            Dx("N179", p=0.3, poa_n=0.3, cc=True),
            Dx("E871", p=0.2, poa_n=0.3, cc=True),
            Dx("I10", p=0.7),
            Dx("E785", p=0.6),
        ),
        age=(55, 79, 95),
    ),
    Scenario(
        "hip_replacement",
        "inpatient",
        "Orthopedics",
        6,
        (
            Dx("M1611"),
            Dx("D62", p=0.25, poa_n=1.0, cc=True),
            Dx("I10", p=0.5),
            Dx("E785", p=0.4),
            Dx("E669", p=0.3),
        ),
        px=(Px("0SR9019|0SR90J9"),),
        age=(50, 70, 90),
        sided=True,
        dispositions="elective",
    ),
    Scenario(
        "knee_replacement",
        "inpatient",
        "Orthopedics",
        6,
        (
            Dx("M1711"),
            Dx("D62", p=0.2, poa_n=1.0, cc=True),
            Dx("I10", p=0.5),
            Dx("E119", p=0.3),
            _z("Z7984", p=0.2),
            Dx("E669", p=0.3),
        ),
        px=(Px("0SRC0J9"),),
        age=(50, 69, 88),
        sided=True,
        dispositions="elective",
    ),
    Scenario(
        "hip_fracture",
        "inpatient",
        "Orthopedics",
        5,
        (
            Dx("S72141A"),
            Dx("F0390", p=0.4),
            Dx("I10", p=0.6),
            Dx("D62", p=0.4, poa_n=0.7, cc=True),
            Dx("N390", p=0.15, poa_n=0.8, cc=True),
            Dx("E871", p=0.2, poa_n=0.4, cc=True),
            Dx("E43", p=0.1, cc=True),
            _z("Z9181", p=0.4),
        ),
        px=(Px("0QS636Z"),),
        age=(65, 85, 95),
        sided=True,
        dispositions="hip_fracture",
    ),
    Scenario(
        "cholecystectomy",
        "inpatient",
        "General Surgery",
        4,
        (Dx("K8000"), Dx("E669", p=0.3), Dx("I10", p=0.4), Dx("K219", p=0.3)),
        px=(Px("0FT44ZZ"),),
        age=(22, 50, 85),
        dispositions="young",
    ),
    Scenario(
        "appendectomy",
        "inpatient",
        "General Surgery",
        3,
        (Dx("K3580"), Dx("E860", p=0.2)),
        px=(Px("0DTJ4ZZ"),),
        age=(18, 32, 70),
        dispositions="young",
    ),
    Scenario(
        "gi_bleed",
        "inpatient",
        "Gastroenterology",
        4,
        (
            Dx("K254"),
            Dx("D62", cc=True),
            Dx("I4891", p=0.2),
            _z("Z7901", p=0.2),
            Dx("E871", p=0.15, poa_n=0.3, cc=True),
            Dx("K219", p=0.3),
        ),
        px=(Px("0W3P8ZZ", p=0.7),),
        age=(45, 72, 95),
    ),
    Scenario(
        "pacemaker",
        "inpatient",
        "Cardiology",
        3,
        (Dx("I442"), Dx("I10", p=0.7), Dx("I2510", p=0.4), Dx("E785", p=0.4)),
        px=(Px("0JH606Z"), Px("02H63JZ"), Px("02HK3JZ")),
        age=(60, 79, 95),
    ),
    Scenario(
        "stroke",
        "inpatient",
        "Internal Medicine",
        5,
        (
            Dx("I63511"),
            Dx("G8194", p=0.5, cc=True),
            Dx("R4701", p=0.4),
            Dx("I10", p=0.7),
            Dx("E785", p=0.5),
            Dx("I4891|I480", p=0.3),
        ),
        age=(50, 76, 95),
        sided=True,
    ),
    Scenario(
        "dka",
        "inpatient",
        "Internal Medicine",
        3,
        (Dx("E1010"), Dx("E871", p=0.3, cc=True), Dx("E876", p=0.4), Dx("E860", p=0.5)),
        age=(18, 30, 65),
        dispositions="young",
    ),
    # ---- hospital outpatient
    Scenario(
        "op_knee_injection",
        "outpatient",
        "Orthopedics",
        6,
        (Dx("M1711"), Dx("I10", p=0.3)),
        lines=(
            Ln("HCPCS", "G0463", ("25",), p=0.5),
            _cpt("20610", "RT"),
            _drug("J1100", 4, 8, 10),
        ),
        age=(40, 66, 90),
        sided=True,
    ),
    Scenario(
        "op_knee_injection_kenalog",
        "outpatient",
        "Orthopedics",
        4,
        (Dx("M1711"),),
        lines=(_cpt("20610", "RT"), _drug("J3301", 4)),
        age=(40, 66, 90),
        sided=True,
    ),
    Scenario(
        "op_screening_colonoscopy",
        "outpatient",
        "Gastroenterology",
        6,
        (Dx("Z1211"),),
        lines=(_cpt("45378"),),
        age=(45, 60, 80),
    ),
    Scenario(
        "op_screening_colonoscopy_polyp",
        "outpatient",
        "Gastroenterology",
        5,
        (Dx("Z1211"), Dx("K635|D125")),
        lines=(_cpt("45385", "PT"),),
        age=(45, 61, 80),
    ),
    Scenario(
        "op_colonoscopy_biopsy_polypectomy",
        "outpatient",
        "Gastroenterology",
        3,
        (Dx("K635"), Dx("K5730")),
        lines=(_cpt("45385"), _cpt("45380", "59")),
        age=(45, 64, 85),
    ),
    Scenario(
        "op_egd_biopsy",
        "outpatient",
        "Gastroenterology",
        3,
        (Dx("K219"), Dx("D649", p=0.3)),
        lines=(_cpt("43239"),),
        age=(30, 58, 85),
    ),
    Scenario(
        "op_ed_chest_pain",
        "outpatient",
        "Emergency Medicine",
        7,
        (Dx("R079|R0789"), Dx("I10", p=0.5), Dx("E785", p=0.3)),
        lines=(Ln("CPT", "99283:3 99284:5 99285:2"), _cpt("93005"), _cpt("71046")),
        age=(25, 58, 90),
    ),
    Scenario(
        "op_ed_abdominal_pain",
        "outpatient",
        "Emergency Medicine",
        5,
        (Dx("R1031|R109"), Dx("R112", p=0.5)),
        lines=(
            Ln("CPT", "99283:3 99284:5 99285:2"),
            _cpt("74177"),
            _cpt("96374"),
            _drug("J2405", 4),
        ),
        age=(18, 40, 85),
    ),
    Scenario(
        "op_ed_pain_infusion",
        "outpatient",
        "Emergency Medicine",
        3,
        (Dx("R1031|M5450"),),
        lines=(Ln("CPT", "99284:6 99285:4"), _cpt("96365"), _drug("J0131", 100)),
        age=(18, 45, 85),
    ),
    Scenario(
        "op_ed_laceration",
        "outpatient",
        "Emergency Medicine",
        4,
        (Dx("S61411A"),),
        lines=(Ln("CPT", "99283:6 99284:4", ("25",)), _cpt("12002")),
        age=(18, 35, 80),
        sided=True,
    ),
    Scenario(
        "op_ed_ankle_sprain",
        "outpatient",
        "Emergency Medicine",
        3,
        (Dx("S93401A"),),
        lines=(Ln("CPT", "99282:3 99283:7"), _cpt("73610", "RT")),
        age=(18, 30, 70),
        sided=True,
    ),
    Scenario(
        "op_cellulitis_infusion",
        "outpatient",
        "Internal Medicine",
        4,
        (Dx("L03115"), Dx("E119", p=0.3)),
        lines=(_cpt("96365"), _drug("J0696", 4)),
        age=(25, 60, 90),
        sided=True,
    ),
    Scenario(
        "op_shoulder_therapy",
        "outpatient",
        "Orthopedics",
        5,
        (Dx("M7541"),),
        lines=(Ln("CPT", "97110", ("GP",), units=(2, 3)), Ln("CPT", "97140", ("GP",))),
        age=(25, 55, 85),
        sided=True,
    ),
    Scenario(
        "op_echo",
        "outpatient",
        "Cardiology",
        3,
        (Dx("I5022|I5032"),),
        lines=(_cpt("93306"),),
        age=(50, 72, 92),
    ),
    # ---- professional fee
    Scenario(
        "pf_diabetes_visit",
        "profee",
        "Family Medicine",
        9,
        (
            Dx("E1165|E119|E1142"),
            Dx("I10", p=0.6),
            Dx("E785", p=0.6),
            _z("Z7984", p=0.5),
            _z("Z794", p=0.2),
        ),
        lines=(Ln("CPT", "99213:45 99214:45 99215:10"), _cpt("83036", p=0.5)),
        age=(30, 62, 90),
    ),
    Scenario(
        "pf_hypertension_visit",
        "profee",
        "Family Medicine",
        7,
        (Dx("I10"), Dx("E785", p=0.6), Dx("E669", p=0.2)),
        lines=(Ln("CPT", "99212:2 99213:6 99214:2"),),
        age=(30, 60, 92),
    ),
    Scenario(
        "pf_acute_visit",
        "profee",
        "Family Medicine",
        5,
        (Dx("J069|J029|J209"),),
        lines=(Ln("CPT", "99212:5 99213:5"),),
        age=(18, 40, 85),
    ),
    Scenario(
        "pf_new_patient",
        "profee",
        "Internal Medicine",
        5,
        (Dx("M5450|G43909|F411|R42"), Dx("I10", p=0.3)),
        lines=(Ln("CPT", "99203:4 99204:5 99205:1"),),
        age=(18, 50, 88),
    ),
    Scenario(
        "pf_knee_injection",
        "profee",
        "Orthopedics",
        4,
        (Dx("M1711"),),
        lines=(
            Ln("CPT", "99213:5 99214:5", ("25",)),
            _cpt("20610", "RT"),
            _drug("J3301", 4),
        ),
        age=(40, 66, 90),
        sided=True,
    ),
    Scenario(
        "pf_afib_visit",
        "profee",
        "Cardiology",
        5,
        (Dx("I4891|I480"), _z("Z7901", p=0.6), Dx("I10", p=0.5)),
        lines=(Ln("CPT", "99213:2 99214:6 99215:2"), _cpt("93000", p=0.5)),
        age=(50, 74, 95),
    ),
    Scenario(
        "pf_skin_biopsy",
        "profee",
        "Family Medicine",
        4,
        (Dx("L821|D225"), Dx("I10", p=0.3)),
        lines=(Ln("CPT", "99213:6 99214:4", ("25",)), _cpt("11102")),
        age=(30, 60, 90),
    ),
    Scenario(
        "pf_copd_visit",
        "profee",
        "Pulmonary",
        3,
        (Dx("J441|J449"), _z("Z87891", p=0.6)),
        lines=(Ln("CPT", "99213:5 99214:5"),),
        age=(45, 70, 92),
    ),
    Scenario(
        "pf_hospital_admission",
        "profee",
        "Internal Medicine",
        4,
        (Dx("J189|A419|N390"), Dx("E119", p=0.3)),
        lines=(Ln("CPT", "99222:4 99223:6"),),
        age=(40, 76, 95),
    ),
    Scenario(
        "pf_ed_visit",
        "profee",
        "Emergency Medicine",
        4,
        (Dx("R079|R55|R519"),),
        lines=(Ln("CPT", "99283:3 99284:5 99285:2"),),
        age=(18, 52, 92),
    ),
    Scenario(
        "pf_screening_colonoscopy",
        "profee",
        "Gastroenterology",
        3,
        (Dx("Z1211"), Dx("K635")),
        lines=(_cpt("45385", "PT"),),
        age=(45, 61, 80),
    ),
)

# --------------------------------------------------------------------------- error maps

# Right <-> left: mirrors `sided` scenarios, and is the laterality coder's error.
_RIGHT_LEFT: Final = {
    "M1611": "M1612",
    "M1711": "M1712",
    "S72141A": "S72142A",
    "I63511": "I63512",
    "G8194": "G8191",  # right MCA stroke -> left hemiplegia; mirrored: right dominant side
    "S61411A": "S61412A",
    "S93401A": "S93402A",
    "L03115": "L03116",
    "M7541": "M7542",
    "0SR9019": "0SRB019",
    "0SR90J9": "0SRB0J9",
    "0SR901A": "0SRB01A",
    "0SR90JA": "0SRB0JA",
    "0SRC0J9": "0SRD0J9",
    "0SRC0JA": "0SRD0JA",
    "0QS636Z": "0QS736Z",
    "0QS634Z": "0QS734Z",
}
LATERAL: Final[dict[str, str]] = {**_RIGHT_LEFT, **{v: k for k, v in _RIGHT_LEFT.items()}}
_MODIFIER_SIDE: Final = {"RT": "LT", "LT": "RT"}

# Specific code -> the unspecified code a non-specific coder reports instead.
NONSPECIFIC: Final[dict[str, str]] = {
    "I5023": "I509",
    "I5033": "I509",
    "I5021": "I509",
    "I5022": "I509",
    "I5032": "I509",
    "E1165": "E119",
    "E1122": "E119",
    "E1142": "E119",
    "J441": "J449",
    "N184": "N189",
    "I214": "I219",
    "J9601": "J9600",
    "J181": "J189",
    "A4151": "A419",
    "I4819": "I4891",
    "I480": "I4891",
    "M1611": "M169",
    "M1612": "M169",
    "M1711": "M179",
    "M1712": "M179",
    "I63511": "I639",
    "I63512": "I639",
    "L03115": "L03119",
    "L03116": "L03119",
    "E43": "E46",
    "G9341": "G9340",
    "K8000": "K8020",
}

# Codes the record does not support that an over-coding coder adds (history, status and
# long-term drug codes without documentation, symptoms integral to the diagnosis).
UNSUPPORTED: Final = ("Z794", "Z87891", "Z8673", "Z7901", "Z9181", "Z86718", "R5383", "D649")
_UNSUPPORTED_LINE: Final = "G2211"  # visit complexity add-on without the longitudinal care

# The procedure coder's slips: a wrong qualifier or device value, or the lesser procedure.
PX_SLIP: Final[dict[str, str]] = {
    "0SR9019": "0SR901A",
    "0SRB019": "0SRB01A",
    "0SR90J9": "0SR90JA",
    "0SRB0J9": "0SRB0JA",
    "0SRC0J9": "0SRC0JA",
    "0SRD0J9": "0SRD0JA",
    "027034Z": "02703DZ",
    "027134Z": "02703DZ",
    "0QS636Z": "0QS634Z",
    "0QS736Z": "0QS734Z",
    "0FT44ZZ": "0FT40ZZ",
    "0DTJ4ZZ": "0DTJ0ZZ",
}
CPT_SLIP: Final[dict[str, str]] = {
    "45385": "45380",
    "45380": "45378",
    "43239": "43235",
    "12002": "12001",
    "96365": "96374",
    "93306": "93308",
}

# HCPCS drug codes: milligrams per billing unit. Unit errors bill vials or milligrams.
DRUG_MG_PER_UNIT: Final[dict[str, int]] = {
    "J1100": 1,
    "J3301": 10,
    "J0696": 250,
    "J2405": 1,
    "J1885": 15,
    "J0131": 10,
}

# E/M families (first 4 digits) and their lowest and highest level.
_EM_LEVELS: Final[dict[str, tuple[int, int]]] = {
    "9920": (2, 5),
    "9921": (2, 5),
    "9922": (1, 3),
    "9923": (1, 3),
    "9928": (1, 5),
}

# --------------------------------------------------------------------------- coders

Trend = Literal["improving", "worsening", "steady"]


@dataclass(frozen=True, slots=True)
class CoderProfile:
    """A coder on the demo roster: workload by setting, error habits and their trend.

    `habits` maps a habit to its base rate in the first cycle (per opportunity: per CC
    secondary, per E/M line, per encounter for additions...). `trend` scales the rates over
    the cycles. `background` is the chance of one random slip per encounter.
    """

    name: str
    habits: tuple[tuple[str, float], ...]
    workload: tuple[float, float, float]  # inpatient, outpatient, profee
    trend: Trend
    auditor: str
    summary: str
    background: float = 0.05


CODERS: Final[tuple[CoderProfile, ...]] = (
    CoderProfile(
        "coder.ana",
        (("cc_drop", 0.6), ("poa", 0.04)),
        (1.0, 0, 0),
        "improving",
        "auditor.raj",
        "misses CC/MCC secondary diagnoses (E87.1, J96.01, N17.9...)",
    ),
    CoderProfile(
        "coder.ben",
        (("misseq", 0.85), ("cc_drop", 0.12)),
        (1.0, 0, 0),
        "improving",
        "auditor.raj",
        "sequences the localized infection before sepsis (J18.9/N39.0 before A41.x)",
    ),
    CoderProfile(
        "coder.cruz",
        (("em_over", 0.7),),
        (0, 0.25, 1.0),
        "improving",
        "auditor.kim",
        "over-codes E/M levels (99215 for 99213/99214)",
    ),
    CoderProfile(
        "coder.dana",
        (("modifier", 0.8),),
        (0, 0.7, 0.45),
        "improving",
        "auditor.kim",
        "forgets modifiers 25, 59, RT/LT, PT",
    ),
    CoderProfile(
        "coder.eli",
        (("units", 0.8), ("modifier", 0.05)),
        (0, 1.0, 0.2),
        "improving",
        "auditor.kim",
        "bills drug units as vials or milligrams (J-codes)",
    ),
    CoderProfile(
        "coder.fay",
        (("poa", 0.35), ("omission", 0.06)),
        (1.0, 0, 0),
        "improving",
        "auditor.raj",
        "present-on-admission indicator errors (hospital-acquired conditions marked Y)",
    ),
    CoderProfile(
        "coder.gus",
        (("nonspecific", 0.6),),
        (0.5, 0.2, 0.35),
        "improving",
        "auditor.raj",
        "reports unspecified codes when the record supports specific ones (I50.9, E11.9)",
    ),
    CoderProfile(
        "coder.hana",
        (("unsupported", 0.6), ("nonspecific", 0.06)),
        (0.35, 0.3, 0.35),
        "improving",
        "auditor.kim",
        "adds codes the record does not support (Z79.4, history codes, G2211)",
    ),
    CoderProfile(
        "coder.ivy",
        (("nonspecific", 0.02), ("poa", 0.01)),
        (0.35, 0.35, 0.35),
        "steady",
        "auditor.kim",
        "strong coder, very few errors",
        background=0.02,
    ),
    CoderProfile(
        "coder.jon",
        (("cc_drop", 0.03),),
        (1.0, 0, 0),
        "steady",
        "auditor.raj",
        "strong coder, very few errors",
        background=0.02,
    ),
    CoderProfile(
        "coder.kai",
        (("procedure", 0.6),),
        (0.6, 0.5, 0),
        "improving",
        "auditor.raj",
        "procedure coding: wrong PCS qualifier or device, missed leads, lesser CPT",
    ),
    CoderProfile(
        "coder.lee",
        (("laterality", 0.8), ("modifier", 0.05)),
        (0.35, 0.35, 0.3),
        "improving",
        "auditor.kim",
        "laterality errors (right/left in ICD-10-CM, PCS and RT/LT)",
    ),
    CoderProfile(
        "coder.mia",
        (("em_under", 0.6),),
        (0, 0, 1.0),
        "improving",
        "auditor.kim",
        "under-codes E/M levels (99213 for 99214)",
    ),
    CoderProfile(
        "coder.noah",
        (("cc_drop", 0.2), ("nonspecific", 0.2), ("poa", 0.12), ("omission", 0.12)),
        (0.8, 0, 0.5),
        "worsening",
        "auditor.raj",
        "accuracy slipping since moving to a higher volume queue",
    ),
    CoderProfile(
        "coder.olu",
        (("disposition", 0.6), ("omission", 0.08), ("cc_drop", 0.06)),
        (1.0, 0, 0),
        "improving",
        "auditor.raj",
        "discharge disposition errors (home instead of SNF / home health)",
    ),
)

_BACKGROUND_HABITS: Final = (
    "cc_drop",
    "nonspecific",
    "poa",
    "unsupported",
    "modifier",
    "units",
    "em_over",
    "omission",
)


def _trend_factor(trend: Trend, index: int, count: int) -> float:
    """How much of the base rate is left in cycle `index` of `count` (0-based)."""
    t = index / (count - 1) if count > 1 else 0.0
    if trend == "improving":
        return 1.0 - 0.7 * t
    if trend == "worsening":
        return 0.4 + 1.2 * t
    return 1.0 - 0.15 * t


# --------------------------------------------------------------------------- cases


@dataclass(slots=True)
class _DxLine:
    code: str
    poa: str
    cc: bool = False


@dataclass(slots=True)
class _Line:
    system: Literal["CPT", "HCPCS"]
    code: str
    modifiers: tuple[str, ...]
    units: int


@dataclass(slots=True)
class _Case:
    """One version of an encounter's coding while it is being built or mutated."""

    scenario: Scenario
    inpatient: bool
    dx: list[_DxLine]
    px: list[str]
    lines: list[_Line]
    disposition: str | None
    misseq: tuple[str, ...] = ()

    def copy(self) -> _Case:
        return replace(
            self,
            dx=[replace(d) for d in self.dx],
            px=list(self.px),
            lines=[replace(x) for x in self.lines],
        )


def _choice(rng: random.Random, weighted: Weighted) -> str:
    codes = [c for c, _ in weighted]
    weights = [w for _, w in weighted]
    return rng.choices(codes, weights)[0]


def _alternatives(code: str) -> list[str]:
    return code.split("|")


def _build_case(
    scenario: Scenario, rng: random.Random, *, left: bool, payer: str, disposition: str | None
) -> _Case:
    inpatient = scenario.setting == "inpatient"

    def side(code: str) -> str:
        return LATERAL.get(code, code) if left else code

    dx: list[_DxLine] = []
    for i, spec in enumerate(scenario.dx):
        if i > 0 and rng.random() >= spec.p:
            continue
        code = side(rng.choice(_alternatives(spec.code)))
        if any(d.code == code for d in dx):
            continue
        poa = "N" if i > 0 and rng.random() < spec.poa_n else "Y"
        if spec.exempt:
            poa = "1"
        dx.append(_DxLine(code, poa, spec.cc))
    px = [
        side(rng.choice(_alternatives(spec.code))) for spec in scenario.px if rng.random() < spec.p
    ]
    lines: list[_Line] = []
    for ln in scenario.lines:
        if rng.random() >= ln.p:
            continue
        modifiers = tuple(_MODIFIER_SIDE.get(m, m) if left else m for m in ln.modifiers)
        # A screening turned diagnostic: PT for Medicare, 33 for other payers.
        modifiers = tuple("33" if m == "PT" and payer != "Medicare" else m for m in modifiers)
        lines.append(_Line(ln.system, _choice(rng, ln.choices), modifiers, rng.choice(ln.units)))
    misseq = tuple(side(c) for c in scenario.misseq)
    return _Case(scenario, inpatient, dx, px, lines, disposition, misseq)


# --------------------------------------------------------------------------- habits

Habit = Callable[[_Case, random.Random, float], None]


def _cc_drop(case: _Case, rng: random.Random, p: float) -> None:
    case.dx = [d for i, d in enumerate(case.dx) if i == 0 or not d.cc or rng.random() >= p]


def _omission(case: _Case, rng: random.Random, p: float) -> None:
    """Misses one ordinary secondary diagnosis."""
    candidates = [i for i, d in enumerate(case.dx) if i > 0 and not d.cc]
    if candidates and rng.random() < p:
        del case.dx[rng.choice(candidates)]


def _misseq(case: _Case, rng: random.Random, p: float) -> None:
    for code in case.misseq:
        idx = next((i for i, d in enumerate(case.dx) if i > 0 and d.code == code), None)
        if idx is not None:
            if rng.random() < p:
                case.dx.insert(0, case.dx.pop(idx))
            return


def _em_shift(case: _Case, rng: random.Random, p: float, direction: int) -> None:
    for line in case.lines:
        levels = _EM_LEVELS.get(line.code[:4]) if line.system == "CPT" else None
        if levels is None or line.code == "99211" or rng.random() >= p:
            continue
        low, high = levels
        step = 2 if direction > 0 and rng.random() < 0.3 else 1
        level = max(low, min(high, int(line.code[4]) + direction * step))
        line.code = line.code[:4] + str(level)


def _em_over(case: _Case, rng: random.Random, p: float) -> None:
    _em_shift(case, rng, p, +1)


def _em_under(case: _Case, rng: random.Random, p: float) -> None:
    _em_shift(case, rng, p, -1)


def _modifier(case: _Case, rng: random.Random, p: float) -> None:
    for line in case.lines:
        if line.modifiers and rng.random() < p:
            drop = rng.choice(line.modifiers)
            line.modifiers = tuple(m for m in line.modifiers if m != drop)


def _units(case: _Case, rng: random.Random, p: float) -> None:
    for line in case.lines:
        mg = DRUG_MG_PER_UNIT.get(line.code)
        if mg is None or rng.random() >= p:
            continue
        if line.units > 1 and (mg == 1 or rng.random() < 0.6):
            line.units = 1  # one vial
        else:
            line.units = line.units * mg if mg > 1 else line.units + 1  # milligrams


def _poa(case: _Case, rng: random.Random, p: float) -> None:
    if not case.inpatient:
        return
    for i, d in enumerate(case.dx):
        if d.poa not in ("Y", "N") or rng.random() >= (p if i > 0 else p / 3):
            continue
        if d.poa == "N":
            d.poa = "Y"  # the hospital-acquired condition reported as present on admission
        else:
            d.poa = rng.choice(("", "N", "U"))


def _nonspecific(case: _Case, rng: random.Random, p: float) -> None:
    present = {d.code for d in case.dx}
    for d in case.dx:
        vague = NONSPECIFIC.get(d.code)
        if vague and vague not in present and rng.random() < p:
            present.add(vague)
            d.code = vague


def _unsupported(case: _Case, rng: random.Random, p: float) -> None:
    if rng.random() >= p:
        return
    has_em = any(line.code[:4] in ("9920", "9921") for line in case.lines)
    if has_em and not case.inpatient and rng.random() < 0.3:
        if all(line.code != _UNSUPPORTED_LINE for line in case.lines):
            case.lines.append(_Line("HCPCS", _UNSUPPORTED_LINE, (), 1))
        return
    families = {d.code[:3] for d in case.dx}
    candidates = [c for c in UNSUPPORTED if c[:3] not in families]
    if candidates:
        code = rng.choice(candidates)
        case.dx.append(_DxLine(code, "1" if code.startswith("Z") else "Y"))


def _procedure(case: _Case, rng: random.Random, p: float) -> None:
    if case.px and rng.random() < p:
        if len(case.px) > 1 and rng.random() < 0.5:
            del case.px[rng.randrange(1, len(case.px))]  # a missed lead or second procedure
        elif case.px[0] in PX_SLIP:
            case.px[0] = PX_SLIP[case.px[0]]
    for line in case.lines:
        if line.code in CPT_SLIP and rng.random() < p:
            line.code = CPT_SLIP[line.code]


def _laterality(case: _Case, rng: random.Random, p: float) -> None:
    """Swaps right and left in one place: a diagnosis, a procedure or an RT/LT modifier."""
    if rng.random() >= p:
        return
    targets = [("dx", i) for i, d in enumerate(case.dx) if d.code in LATERAL]
    targets += [("px", i) for i, code in enumerate(case.px) if code in LATERAL]
    targets += [
        ("line", i)
        for i, line in enumerate(case.lines)
        if any(m in _MODIFIER_SIDE for m in line.modifiers)
    ]
    if not targets:
        return
    where, i = rng.choice(targets)
    if where == "dx":
        case.dx[i].code = LATERAL[case.dx[i].code]
    elif where == "px":
        case.px[i] = LATERAL[case.px[i]]
    else:
        line = case.lines[i]
        line.modifiers = tuple(_MODIFIER_SIDE.get(m, m) for m in line.modifiers)


def _disposition(case: _Case, rng: random.Random, p: float) -> None:
    if not case.inpatient or case.disposition is None or rng.random() >= p:
        return
    if case.disposition != "01":
        case.disposition = "01"  # the post-acute transfer missed
    elif rng.random() < 0.3:
        case.disposition = "06"


HABITS: Final[dict[str, Habit]] = {
    "cc_drop": _cc_drop,
    "omission": _omission,
    "misseq": _misseq,
    "em_over": _em_over,
    "em_under": _em_under,
    "modifier": _modifier,
    "units": _units,
    "poa": _poa,
    "nonspecific": _nonspecific,
    "unsupported": _unsupported,
    "procedure": _procedure,
    "laterality": _laterality,
    "disposition": _disposition,
}


# --------------------------------------------------------------------------- generation

_CYCLE = re.compile(r"^(\d{4})-Q([1-4])$")


def cycle_dates(cycle: str) -> tuple[date, date]:
    """First and last day of a calendar quarter label such as `2026-Q1`."""
    match = _CYCLE.match(cycle)
    if not match:
        raise ValueError(f"cycle {cycle!r} is not a quarter label like 2026-Q1")
    year, quarter = int(match[1]), int(match[2])
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, end - timedelta(days=1)


def _payer(rng: random.Random, age: int) -> str:
    # Medicare, Medicaid, Commercial, Self-pay
    weights = (0.85, 0.05, 0.09, 0.01) if age >= 65 else (0.05, 0.28, 0.57, 0.10)
    return rng.choices(PAYERS, weights)[0]


def _code_lines(case: _Case) -> tuple[CodeLine, ...]:
    lines = [
        CodeLine("ICD10CM", i, d.code, poa=d.poa if case.inpatient else "")
        for i, d in enumerate(case.dx, start=1)
    ]
    lines += [CodeLine("ICD10PCS", i, code) for i, code in enumerate(case.px, start=1)]
    lines += [
        CodeLine(x.system, i, x.code, modifiers=frozenset(x.modifiers), units=x.units)
        for i, x in enumerate(case.lines, start=1)
    ]
    return tuple(lines)


@dataclass(slots=True)
class _Ids:
    """External ids like `N-250001`: facility prefix, year, running number; never reused."""

    counters: dict[tuple[str, int], int] = field(default_factory=dict)

    def next(self, facility: str, on: date) -> str:
        prefix = FACILITIES[facility][0]
        key = (prefix, on.year % 100)
        self.counters[key] = self.counters.get(key, 0) + 1
        return f"{prefix}-{key[1]:02d}{self.counters[key]:04d}"


def _weighted_scenarios(setting: str) -> tuple[list[Scenario], list[float]]:
    scenarios = [s for s in SCENARIOS if s.setting == setting]
    return scenarios, [s.weight for s in scenarios]


def generate(
    *,
    seed: int = 7,
    encounters_per_cycle: int = 500,
    cycles: Sequence[str] = CYCLES,
) -> list[Encounter]:
    """Synthetic encounters for each cycle, in cycle then discharge-date order.

    Deterministic for the same arguments. Each encounter's `audited` version is the correct
    coding of a scenario, `original` is the coder's, and `audit_cycle` is its cycle.
    """
    if encounters_per_cycle < 0:
        raise ValueError("encounters_per_cycle must not be negative")
    bounds = [cycle_dates(c) for c in cycles]
    rng = random.Random(seed)
    ids = _Ids()
    by_setting = {setting: _weighted_scenarios(setting) for setting, _ in _SETTING_MIX}
    providers_by_line: dict[str, list[str]] = {}
    for name, line in PROVIDERS.items():
        providers_by_line.setdefault(line, []).append(name)
    coder_weights = {
        setting: [c.workload[i] for c in CODERS] for i, (setting, _) in enumerate(_SETTING_MIX)
    }

    out: list[Encounter] = []
    for index, (cycle, (start, end)) in enumerate(zip(cycles, bounds, strict=True)):
        counts = [round(encounters_per_cycle * share) for _, share in _SETTING_MIX[:-1]]
        counts.append(encounters_per_cycle - sum(counts))
        settings: list[Setting] = [
            s for (s, _), n in zip(_SETTING_MIX, counts, strict=True) for _ in range(n)
        ]
        rng.shuffle(settings)
        days = (end - start).days
        drafts = []
        for setting in settings:
            discharge = start + timedelta(days=rng.randint(0, days))
            drafts.append((discharge, setting))
        drafts.sort(key=lambda d: d[0])  # ids run in discharge order within a cycle
        for discharge, setting in drafts:
            out.append(
                _encounter(
                    rng,
                    ids,
                    cycle=cycle,
                    index=index,
                    count=len(cycles),
                    discharge=discharge,
                    setting=setting,
                    scenarios=by_setting[setting],
                    providers_by_line=providers_by_line,
                    coder_weights=coder_weights[setting],
                )
            )
    return out


def _encounter(
    rng: random.Random,
    ids: _Ids,
    *,
    cycle: str,
    index: int,
    count: int,
    discharge: date,
    setting: Setting,
    scenarios: tuple[list[Scenario], list[float]],
    providers_by_line: dict[str, list[str]],
    coder_weights: list[float],
) -> Encounter:
    scenario = rng.choices(*scenarios)[0]
    coder = rng.choices(CODERS, coder_weights)[0]
    low, mode, high = scenario.age
    age = round(rng.triangular(low, high, mode))
    sex = rng.choice(("F", "M"))
    payer = _payer(rng, age)
    if scenario.service_line == "Emergency Medicine" or setting == "inpatient":
        facility = rng.choices(_HOSPITALS, (0.55, 0.45))[0]
    else:
        facility = _choice(rng, _FACILITY_MIX[setting])
    provider = rng.choice(providers_by_line[scenario.service_line])
    if rng.random() < 0.8:
        auditor = coder.auditor
    else:
        auditor = next(a for a in AUDITORS if a != coder.auditor)
    disposition: str | None = None
    if setting == "inpatient":
        disposition = _choice(rng, _DISPOSITIONS[scenario.dispositions])
    elif setting == "outpatient":
        disposition = "01"

    left = scenario.sided and rng.random() < 0.5
    audited = _build_case(scenario, rng, left=left, payer=payer, disposition=disposition)
    original = audited.copy()
    factor = _trend_factor(coder.trend, index, count)
    for habit, rate in coder.habits:
        HABITS[habit](original, rng, min(0.95, rate * factor))
    if rng.random() < coder.background:
        HABITS[rng.choice(_BACKGROUND_HABITS)](original, rng, 0.6)

    return Encounter(
        encounter_id=ids.next(facility, discharge),
        setting=setting,
        discharge_date=discharge,
        age=age,
        sex=sex,
        discharge_disposition=original.disposition,
        audited_disposition=audited.disposition
        if audited.disposition != original.disposition
        else None,
        original=_code_lines(original),
        audited=_code_lines(audited),
        facility=facility,
        service_line=scenario.service_line,
        provider=provider,
        payer=payer,
        coder=coder.name,
        auditor=auditor,
        audit_cycle=cycle,
    )


def demo_workbooks(
    encounters: Iterable[Encounter] | None = None,
    *,
    seed: int = 7,
    encounters_per_cycle: int = 500,
    cycles: Sequence[str] = CYCLES,
) -> list[tuple[str, Workbook]]:
    """The encounters grouped by cycle, one `Workbook` per cycle in cycle order.

    Without `encounters`, generates them with the other arguments.
    """
    if encounters is None:
        encounters = generate(seed=seed, encounters_per_cycle=encounters_per_cycle, cycles=cycles)
    grouped: dict[str, list[Encounter]] = {}
    for e in encounters:
        grouped.setdefault(e.audit_cycle, []).append(e)
    return [
        (
            cycle,
            Workbook(
                encounters=tuple(items),
                source=f"demo seed {seed} {cycle}",
                code_rows=sum(len(e.original) + len(e.audited) for e in items),
            ),
        )
        for cycle, items in sorted(grouped.items())
    ]


def emittable_codes() -> dict[str, set[str]]:
    """Every code the generator can emit in either version, by system (for tests)."""
    out: dict[str, set[str]] = {"ICD10CM": set(), "ICD10PCS": set(), "CPT": set(), "HCPCS": set()}
    for s in SCENARIOS:
        for spec in s.dx:
            out["ICD10CM"].update(_alternatives(spec.code))
        for px in s.px:
            out["ICD10PCS"].update(_alternatives(px.code))
        for ln in s.lines:
            for code, _ in ln.choices:
                out[ln.system].add(code)
                levels = _EM_LEVELS.get(code[:4])
                if levels and ln.system == "CPT":
                    out["CPT"].update(f"{code[:4]}{n}" for n in range(levels[0], levels[1] + 1))
    out["ICD10CM"].update(UNSUPPORTED)
    out["HCPCS"].add(_UNSUPPORTED_LINE)
    # Close over the error maps: habits may apply one after another.
    maps = {"ICD10CM": (LATERAL, NONSPECIFIC), "ICD10PCS": (LATERAL, PX_SLIP), "CPT": (CPT_SLIP,)}
    for system, mappings in maps.items():
        codes = out[system]
        while True:
            more = {m[c] for m in mappings for c in codes if c in m} - codes
            if not more:
                break
            codes |= more
    return out
